#!/usr/bin/env node
// Runs the whole test suite under Deno and under Bun, then prints one plain line
// `N passed, N failed, N skipped` that adds up both runtimes. Exits non-zero when either runtime
// fails, runs no test, or cannot be started. Extra arguments are passed to both runners
// (e.g. `npm test -- test/tokenizer`).
import { spawnSync } from "node:child_process";
import { writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const paths = process.argv.slice(2);
const env = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" };

/** Runs one runner, streaming its output, and returns its exit status and combined output. */
function run(cmd, args) {
  out(`\n$ ${[cmd, ...args].join(" ")}\n`);
  const r = spawnSync(cmd, args, {
    cwd: root,
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 1 << 30,
  });
  out(r.stdout ?? "");
  out(r.stderr ?? "");
  return { status: r.status ?? 1, text: `${r.stdout ?? ""}\n${r.stderr ?? ""}`, error: r.error };
}

const num = (re, text) => {
  const m = text.match(re);
  return m ? Number(m[1]) : 0;
};

// Synchronous writes: stdout is often a pipe (CI pipes it through grep), where Node's
// process.stdout.write is asynchronous and unflushed output is lost at exit.
const out = (text) => {
  const buf = Buffer.from(text);
  let at = 0;
  while (at < buf.length) {
    try {
      at += writeSync(1, buf, at);
    } catch (e) {
      if (e.code !== "EAGAIN") throw e;
    }
  }
};

const results = [];

// Deno: "ok | 12 passed (3 steps) | 0 failed | 1 ignored (1s)". `--no-check`: types are checked
// once by `npm run check` (deno check of src/, its doc examples, test/, bench/, scripts/); without
// it `deno test` type-checks again for every worker thread a test starts (render-dataset's pool).
{
  const r = run(bin("deno"), [
    "test",
    "-A",
    "--no-prompt",
    "--no-check",
    ...(paths.length ? paths : ["test/"]),
  ]);
  const line = r.text.split("\n").reverse().find((l) => /\d+ passed .*\| \d+ failed/.test(l)) ?? "";
  results.push({
    runtime: "deno",
    status: r.status,
    passed: num(/(\d+) passed/, line),
    failed: num(/(\d+) failed/, line),
    skipped: num(/(\d+) ignored/, line),
    found: line !== "",
  });
}

// Bun: " 12 pass\n 1 skip\n 0 fail".
{
  const r = run(bin("bun"), ["test", "--timeout", "600000", ...(paths.length ? paths : ["test/"])]);
  results.push({
    runtime: "bun",
    status: r.status,
    passed: num(/^\s*(\d+) pass$/m, r.text),
    failed: num(/^\s*(\d+) fail$/m, r.text),
    skipped: num(/^\s*(\d+) skip$/m, r.text),
    found: /^\s*\d+ pass$/m.test(r.text),
  });
}

let passed = 0, failed = 0, skipped = 0, ok = true;
out("\n");
for (const r of results) {
  // A runner that exits non-zero without reporting a failure (crash, type error) counts as one.
  const extra = r.status !== 0 && r.failed === 0 ? 1 : 0;
  passed += r.passed;
  failed += r.failed + extra;
  skipped += r.skipped;
  if (r.status !== 0 || !r.found || r.passed === 0) ok = false;
  out(
    `${r.runtime}: ${r.passed} passed, ${r.failed + extra} failed, ${r.skipped} skipped` +
      (r.status !== 0 ? ` (exit ${r.status})` : "") + (r.found ? "" : " (no summary found)") + "\n",
  );
}
out(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exitCode = ok && failed === 0 ? 0 : 1;
