import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { normalizeTables } from "../../scripts/bench_tables.ts";
import {
  type EncodeRun,
  encodeTable,
  encodeTablesBlock,
  withEncodeTables,
} from "../../scripts/encode_tables.ts";

const root = new URL("../../", import.meta.url);

function run(over: Partial<EncodeRun> = {}): EncodeRun {
  const kind = (k: string, ours: number) => ({
    kind: k,
    coldBytes: 1e6,
    warmBytes: 64e3,
    cold: { "harmony-engine": ours, "tiktoken-node": ours / 2, "tiktoken (WASM)": ours / 4 },
    warm: { "harmony-engine": 2 * ours, "tiktoken (WASM)": ours / 5, "gpt-tokenizer": ours },
  });
  return {
    version: 1,
    date: "2026-12-01T00:00:00.000Z",
    machine: {
      runtime: "Bun",
      runtimeVersion: "1.4.5",
      cpu: "Test CPU",
      cores: 2,
      memoryBytes: 2 ** 34,
      loadAverage: 3.25,
    },
    coldReps: 5,
    texts: "../shared/corpus/text",
    kinds: [kind("English prose", 20), kind("CJK", 300)],
    vocabulary: { loadMs: 131.4, rssBytes: 45 * 2 ** 20, heapBytes: 0, tableBytes: 0 },
    ...over,
  };
}

test("the README's tokenizer tables are exactly what bench/results/encode/*.json hold", () => {
  const dir = fileURLToPath(new URL("bench/results/encode/", root));
  const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  assert.ok(files.length > 0, "no bench/results/encode/*.json");
  const runs = files.map((f) => JSON.parse(readFileSync(dir + f, "utf8")) as EncodeRun);
  const readme = readFileSync(fileURLToPath(new URL("README.md", root)), "utf8");
  const want = normalizeTables(encodeTablesBlock(withEncodeTables(readme, runs)));
  assert.ok(want.includes("| English prose |"));
  assert.equal(normalizeTables(encodeTablesBlock(readme)), want);
});

test("encodeTable() gives one row per kind with cold and warm ratios to every peer", () => {
  const md = encodeTable(run());
  const lines = md.split("\n").filter((l) => l.startsWith("| "));
  assert.equal(
    lines[0],
    "| Bun | cold | ×tiktoken-node | ×tiktoken (WASM) | warm | ×tiktoken (WASM) | ×gpt-tokenizer |",
  );
  assert.equal(lines[2], "| English prose | 20.0 | 2.0 | 4.0 | 40.0 | 10.0 | 2.0 |");
  assert.equal(lines[3], "| CJK | 300 | 2.0 | 4.0 | 600 | 10.0 | 2.0 |");
  assert.match(md, /\*\*Bun 1\.4\.5\*\* on Test CPU, 2 cores, load 3\.3 at the end/);
  assert.match(md, /vocabulary load 131 ms, \+45 MiB RSS/);
});

test("encodeTable() throws TypeError when a kind has no figure of ours", () => {
  const r = run();
  const broken = { ...r, kinds: [{ ...r.kinds[0], cold: { "tiktoken-node": 1 } }] };
  assert.throws(() => encodeTable(broken), {
    name: "TypeError",
    message: "Cannot make encode table: no figure of ours for English prose",
  });
});

test("withEncodeTables() throws when the README has no tokenizer markers", () => {
  assert.throws(() => withEncodeTables("no markers", [run()]), /markers .* not found/);
});
