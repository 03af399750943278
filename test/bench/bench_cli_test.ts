import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import type { BenchPoint, BenchRun } from "../../src/bench/results.ts";
import { syntheticRun } from "./_run.ts";

test("bench --json - prints one JSON line per task on the bundled sample", async () => {
  const host = memoryHost();
  const code = await main(["bench", "--repeats", "1", "--limit", "40", "--json", "-"], host);
  assert.equal(code, 0, host.err());
  const rows = host.out().trim().split("\n").map((l) => JSON.parse(l) as BenchPoint);
  assert.deepEqual(rows.map((r) => [r.task, r.backend, r.implementation]), [
    ["encode", "cpu", "ours"],
    ["render", "cpu", "ours"],
    ["parse", "cpu", "ours"],
    ["render-dataset", "cpu", "ours"],
    ["parse-dataset", "cpu", "ours"],
  ]);
  for (const r of rows) {
    assert.ok(r.tokens > 1000 && r.tokensPerSecond > 0 && r.peakRssBytes > 0, r.task);
    assert.ok(r.ms.min <= r.ms.median && r.ms.median <= r.ms.max);
    assert.ok(r.wallMsPerMB > 0 && r.deviceMsPerMB === null, r.task);
    // On the CPU the host does all the work.
    assert.ok(r.hostMsPerMB !== null && r.hostMsPerMB > 0, r.task);
  }
  // The dataset jobs see the same 40 records: render-dataset writes every one of them.
  assert.equal(rows[3].items, 40);
  assert.equal(rows[4].items, 40);
});

test("bench on the user's file writes the run as JSON and an HTML report", async () => {
  const dir = mkdtempSync(join(tmpdir(), "harmony-bench-cli-"));
  try {
    const host = memoryHost();
    const json = join(dir, "run.json"), html = join(dir, "bench.html");
    const code = await main([
      "bench",
      "--input",
      "examples/sample.jsonl",
      "--tasks",
      "encode,parse",
      "--batch-sizes",
      "20,60",
      "--limit",
      "60",
      "--repeats",
      "1",
      "--json",
      json,
      "--report",
      html,
    ], host);
    assert.equal(code, 0, host.err());
    const run = JSON.parse(readFileSync(json, "utf8")) as BenchRun;
    assert.equal(run.input.records, 60);
    assert.ok(run.machine.cores >= 1 && run.machine.runtime.length > 0);
    assert.deepEqual(run.points.map((p) => [p.task, p.batchSize]), [
      ["encode", 20],
      ["parse", 20],
      ["encode", 60],
      ["parse", 60],
    ]);
    assert.ok(run.coldStart.some((c) => c.what === "vocabulary"));
    assert.match(readFileSync(html, "utf8"), /aria-label="GPU and CPU against batch size"/);
    assert.match(host.out(), /encode\s+ours\s+cpu/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bench rejects an unknown backend, task or count as a usage error", async () => {
  for (
    const [args, message] of [
      [["--backend", "tpu"], /--backend must be one of cpu\|gpu\|both/],
      [["--tasks", "encode,fly"], /unknown task "fly"/],
      [["--workers", "0"], /--workers takes positive whole numbers, not "0"/],
      [["--batch-sizes", "1.5"], /--batch-sizes takes positive whole numbers/],
    ] as const
  ) {
    const host = memoryHost();
    assert.equal(await main(["bench", ...args], host), 2, args.join(" "));
    assert.match(host.err(), message);
  }
});

test("bench --from merges saved runs into one table and report without measuring", async () => {
  const dir = mkdtempSync(join(tmpdir(), "harmony-bench-from-"));
  try {
    const a = join(dir, "a.json"), b = join(dir, "b.json"), html = join(dir, "r.html");
    const base = syntheticRun();
    writeFileSync(a, JSON.stringify({ ...base, points: base.points.slice(0, 3) }));
    writeFileSync(b, JSON.stringify({ ...base, points: base.points.slice(3, 5) }));
    const host = memoryHost();
    assert.equal(await main(["bench", "--from", a, "--from", b, "--report", html], host), 0);
    assert.equal(host.out().split("\n").filter((l) => /^(encode|render|parse) /.test(l)).length, 5);
    assert.match(readFileSync(html, "utf8"), /<svg /);
    writeFileSync(b, "{}");
    const bad = memoryHost();
    assert.equal(await main(["bench", "--from", b], bad), 2);
    assert.match(bad.err(), /not a harmony bench --json file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
