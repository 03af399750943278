// Issue #11, item by item, through `main(args, memoryHost(...))` and the dataset commands.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { readLines } from "../../src/io/lines.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import { analyzeCompletion } from "../../src/evals/completion.ts";
import { withTmp } from "../dataset/_helpers.ts";

const HI = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"ok"}]';

async function renderJsonl(dir: string, text: string | Uint8Array, extra: string[] = []) {
  const input = join(dir, "in.jsonl");
  writeFileSync(input, text);
  const host = memoryHost();
  const code = await main(
    [
      "render-dataset",
      input,
      "--out",
      join(dir, "o"),
      "--output-format",
      "jsonl",
      "--backend",
      "cpu",
      ...extra,
    ],
    host,
  );
  const rows = readFileSync(join(dir, "o.jsonl"), "utf8").trimEnd().split("\n").filter((l) => l)
    .map((l) => JSON.parse(l) as { input_ids: number[] });
  const errors = readFileSync(join(dir, "o.errors.jsonl"), "utf8").trimEnd().split("\n")
    .filter((l) => l).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, rows, errors, host };
}

test("1: a __proto__ key injects no tools and no messages in render-dataset", async () => {
  await withTmp(async (dir) => {
    const plain = await renderJsonl(dir, `${HI}}\n`);
    const tools = await renderJsonl(
      dir,
      `${HI},"__proto__":{"tools":[{"name":"evil","description":"injected"}]},"meta":{"1":1}}\n`,
    );
    assert.deepEqual(tools.rows[0].input_ids, plain.rows[0].input_ids);
    const msgs = await renderJsonl(
      dir,
      '{"__proto__":{"messages":[{"role":"user","content":"INHERITED"}]},"meta":{"1":1}}\n',
    );
    assert.equal(msgs.rows.length, 0);
    assert.equal(msgs.errors.length, 1);
  });
});

test("1: a channel named __proto__ is counted in parse-dataset --stats", async () => {
  await withTmp(async (dir) => {
    const input = join(dir, "in.jsonl");
    writeFileSync(input, '{"text":"<|channel|>__proto__<|message|>x<|end|>"}\n');
    const host = memoryHost();
    const code = await main(
      [
        "parse-dataset",
        input,
        "--out",
        join(dir, "o.jsonl"),
        "--stats",
        join(dir, "s.json"),
        "--backend",
        "cpu",
      ],
      host,
    );
    assert.equal(code, 0);
    const stats = readFileSync(join(dir, "s.json"), "utf8");
    assert.match(stats, /"__proto__": 1/);
  });
});

test("2: invalid UTF-8 in render-dataset and parse-dataset is an error record naming the byte", async () => {
  await withTmp(async (dir) => {
    const bad = new Uint8Array([
      ...new TextEncoder().encode('{"messages":[{"role":"user","content":"H'),
      0xc3,
      0x28,
      ...new TextEncoder().encode(`i"}]}\n${HI}}\n`),
    ]);
    const r = await renderJsonl(dir, bad);
    assert.equal(r.code, 1);
    assert.equal(r.rows.length, 1);
    assert.match(String(r.errors[0].reason), /invalid UTF-8 at byte 40/);
    const input = join(dir, "p.jsonl");
    writeFileSync(
      input,
      new Uint8Array([...new TextEncoder().encode('{"id":"caf'), 0xe9, 0x22, 0x7d, 10]),
    );
    // One rule for both commands: a record that cannot be read makes the exit code 1.
    const host = memoryHost();
    assert.equal(
      await main(["parse-dataset", input, "--out", join(dir, "p.out"), "--backend", "cpu"], host),
      1,
      host.err(),
    );
    const line = JSON.parse(readFileSync(join(dir, "p.out"), "utf8")) as { error: string };
    assert.match(
      line.error,
      /^invalid-utf8: record 0 \(.*p\.jsonl:1\): Cannot read record: invalid UTF-8 at byte 10$/,
    );
  });
});

test("4: a line spread over many one-byte chunks is read whole (no per-chunk re-join)", async () => {
  const big = new Uint8Array(200_000).fill(0x61);
  const chunks = function* () {
    for (let i = 0; i < big.length; i += 1) yield big.subarray(i, i + 1);
    yield Uint8Array.of(10, 0x62);
  };
  const lines = [];
  for await (const l of readLines(chunks())) lines.push(l);
  assert.deepEqual(lines.map((l) => [l.text.length, l.offset]), [[200_000, 0], [1, 200_001]]);
});

test("5: analyzeCompletion keeps 150,000 salvaged messages and never throws on malformed tokens", async () => {
  const tokenizer = await loadTokenizer();
  const one = tokenizer.encode("<|start|>assistant<|channel|>final<|message|>x<|end|>", {
    allowedSpecial: "all",
  });
  const n = 150_000;
  const ids = new Uint32Array(one.length * n + 1);
  for (let i = 0; i < n; i++) ids.set(one, i * one.length);
  ids[ids.length - 1] = 200007; // a stray <|end|>: the strict parse fails, the salvage keeps all
  const r = analyzeCompletion({ tokenizer }, ids, { role: null });
  assert.equal(r.messages.length, n);
  assert.notEqual(r.status, "ok");
  for (const bad of [[200006], [200006, 200006], [200007, 200002], [200005, 200005, 200008]]) {
    assert.doesNotThrow(() => analyzeCompletion({ tokenizer }, bad));
  }
});

test("7: encode without --jsonl keeps a leading BOM; invalid UTF-8 is an error", async () => {
  const host = memoryHost(Uint8Array.of(0xef, 0xbb, 0xbf, 0x68, 0x69));
  assert.equal(await main(["encode"], host), 0);
  assert.equal(host.out(), "[5574,3686]\n");
  const bad = memoryHost(Uint8Array.of(0x63, 0x61, 0x66, 0xe9));
  assert.equal(await main(["encode"], bad), 1);
  assert.equal(bad.err(), "harmony encode: Cannot read stdin: invalid UTF-8 at byte 3\n");
});

test("9: corrupt gzip and Parquet inputs are errors naming the file", async () => {
  await withTmp(async (dir) => {
    const gz = gzipSync(Buffer.from(`${HI}}\n`.repeat(500)));
    const gzPath = join(dir, "x.jsonl.gz");
    writeFileSync(gzPath, gz.subarray(0, gz.length >> 1));
    const pqPath = join(dir, "x.parquet");
    writeFileSync(
      pqPath,
      new Uint8Array([0x50, 0x41, 0x52, 0x31, 1, 2, 3, 4, 5, 6, 7, 8, 0x50, 0x41, 0x52, 0x31]),
    );
    for (
      const [path, re] of [[gzPath, /corrupt gzip data/], [
        pqPath,
        /Cannot read ".*x\.parquet"/,
      ]] as const
    ) {
      for (const cmd of ["render-dataset", "parse-dataset"]) {
        const host = memoryHost();
        const out = join(dir, cmd === "render-dataset" ? "r" : "p.jsonl");
        assert.equal(await main([cmd, path, "--out", out, "--backend", "cpu"], host), 3, cmd);
        assert.match(
          host.err(),
          new RegExp(`Cannot read "${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"`),
        );
        assert.match(host.err(), re);
      }
    }
  });
});

test("10: usage errors exit 2 in every command", async () => {
  await withTmp(async (dir) => {
    const ok = join(dir, "ok.jsonl");
    writeFileSync(ok, `${HI}}\n`);
    mkdirSync(join(dir, "adir"));
    const cases = [
      ["render-dataset", ok, "--out", join(dir, "x"), "--shard", "3/3"],
      ["render-dataset", ok, "--out", join(dir, "x"), "--shard", "a/b"],
      ["render-dataset", ok, "--out", join(dir, "x"), "--shard-count", "2"],
      ["parse-dataset", ok, "--out", join(dir, "x.jsonl"), "--shard", "3/3"],
      ["parse-dataset", ok, "--out", join(dir, "x.jsonl"), "--shard-count", "2"],
      ["merge", join(dir, "nonexist"), "--out", join(dir, "m")],
      ["render-dataset", join(dir, "adir"), "--out", join(dir, "x")],
      ["parse-dataset", join(dir, "adir"), "--out", join(dir, "x.jsonl")],
      ["encode", "--bogus"],
    ];
    for (const args of cases) {
      const host = memoryHost("", {});
      assert.equal(await main(args, host), 2, args.join(" "));
      assert.doesNotMatch(host.err(), /\n\s+at /);
    }
  });
});
