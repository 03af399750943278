import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { normalizeTables, runTable, tablesBlock, withTables } from "../../scripts/bench_tables.ts";
import type { BenchRun } from "../../src/bench/results.ts";
import { syntheticRun } from "./_run.ts";

const root = new URL("../../", import.meta.url);

test("the README's bench tables are exactly what bench/results/*.json hold", () => {
  const dir = fileURLToPath(new URL("bench/results/", root));
  const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  assert.ok(files.length > 0, "no bench/results/*.json");
  const runs = files.map((f) => JSON.parse(readFileSync(dir + f, "utf8")) as BenchRun);
  const readme = readFileSync(fileURLToPath(new URL("README.md", root)), "utf8");
  const want = normalizeTables(tablesBlock(withTables(readme, runs)));
  assert.ok(want.includes("| encode | ours | cpu |"));
  assert.equal(normalizeTables(tablesBlock(readme)), want);
});

test("runTable gives one row per point with the peers' ratio to ours", () => {
  const run = syntheticRun();
  const md = runTable(run);
  assert.equal(
    md.split("\n").filter((l) =>
      l.startsWith("| ") && !l.startsWith("| task") && !l.startsWith("| --")
    ).length,
    run.points.length,
  );
  assert.match(md, /\| encode \| gpt-tokenizer ✓ \| cpu \| 1 \| all \|.*\| 3\.8× \|/);
  assert.match(md, /Test CPU, 4 cores, 16 GiB, GPU llvmpipe \(software\)/);
});
