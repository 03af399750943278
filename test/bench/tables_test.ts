import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  blockNames,
  jobTable,
  normalizeTables,
  type ResultsFile,
  runTable,
  tablesBlock,
  withTables,
} from "../../scripts/bench_tables.ts";
import type { JobBenchRun, JobPoint } from "../../src/bench/job_results.ts";
import { syntheticRun } from "./_run.ts";

const root = new URL("../../", import.meta.url);

test("the README's bench tables are exactly what bench/results/*.json hold", () => {
  const dir = fileURLToPath(new URL("bench/results/", root));
  const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  assert.ok(files.length > 0, "no bench/results/*.json");
  const runs = files.map((f) => JSON.parse(readFileSync(dir + f, "utf8")) as ResultsFile);
  const readme = readFileSync(fileURLToPath(new URL("README.md", root)), "utf8");
  const generated = withTables(readme, runs);
  assert.ok(normalizeTables(tablesBlock(generated)).includes("| encode | ours | cpu |"));
  const blocks = blockNames(runs);
  assert.deepEqual(
    ["bench-tables", "bench-scaling", "bench-evals-samples"].filter((b) => !blocks.includes(b)),
    [],
    "a results file for every README block",
  );
  for (const block of blocks) {
    assert.equal(
      normalizeTables(tablesBlock(readme, block)),
      normalizeTables(tablesBlock(generated, block)),
      `README block ${block}`,
    );
  }
});

function jobPoint(p: Partial<JobPoint> & { workers: number; median: number }): JobPoint {
  const { median, ...rest } = p;
  const samples = p.samples ?? 100_000;
  return {
    command: "render-dataset",
    shard: null,
    backend: "cpu",
    records: 100_000,
    samples: 100_000,
    tokens: 30_000_000,
    wallMs: { min: median - 1000, median, max: median + 1000 },
    cpuMs: { min: 9000, median: 10_000, max: 11_000 },
    mainCpuMs: { min: 1900, median: 2000, max: 2100 },
    recordsPerSecond: 100_000 / (median / 1000),
    samplesPerSecond: samples / (median / 1000),
    tokensPerSecond: 30_000_000 / (median / 1000),
    peakRssBytes: 200 * 2 ** 20,
    ...rest,
  };
}

function jobRun(kind: JobBenchRun["kind"], points: JobPoint[]): JobBenchRun {
  const machine = syntheticRun().machine;
  return {
    version: 1,
    kind,
    date: "2026-12-01T00:00:00.000Z",
    machine: { ...machine, gpuAdapter: null, gpuSoftware: null },
    input: { description: "100000 test records", records: 100_000, bytes: 1e8 },
    rounds: 3,
    load: { min: 2.5, max: 4.25 },
    points,
  };
}

test("jobTable: scaling rows with the speed-up over one worker, shards against the whole run", () => {
  const md = jobTable(jobRun("scaling", [
    jobPoint({ workers: 1, median: 20_000 }),
    jobPoint({ workers: 2, median: 11_000 }),
    jobPoint({ workers: 1, shard: "0/2", median: 10_500, records: 50_000 }),
  ]));
  assert.match(md, /Test CPU, 4 cores, 16 GiB; 100000 test records; 2026-12-01; median of 3/);
  assert.match(md, /load average 2\.5–4\.3 \(1 min\)/);
  assert.match(
    md,
    /\| render-dataset \| 1 \| all \| 5k \| 1\.5M \| {2}\| 20\.0 \(19\.0–21\.0\) \| 10\.0 \| 2\.0 \| 200 MiB \|/,
  );
  assert.match(md, /\| render-dataset \| 2 \| all \| .* \| 1\.82× \| 11\.0 /);
  assert.match(md, /\| render-dataset \| 1 \| 0\/2 \| .* \| 1\.90× \| 10\.5 /);
});

test("jobTable: eval rows give records/s and samples/s per backend, GPU adapters shortened", () => {
  const md = jobTable(jobRun("evals-samples", [
    jobPoint({ command: "parse-dataset", workers: 1, median: 10_000, samples: 400_000 }),
    jobPoint({
      command: "parse-dataset",
      workers: 1,
      median: 20_000,
      samples: 400_000,
      backend: "gpu (llvmpipe: Mesa 25.0.7 (LLVM 15.0.6))",
    }),
  ]));
  assert.match(md, /\| 100000 records × 4 samples \| cpu \| 10k \| 40k \| 3M \| 10\.0 /);
  assert.match(md, /\| gpu \(llvmpipe, software\) \| 5k \| 20k \|/);
});

test("withTables fills each kind's own block and leaves the others", () => {
  const readme = "a\n<!-- bench-tables:start -->\nold\n<!-- bench-tables:end -->\n" +
    "<!-- bench-scaling:start -->\nold\n<!-- bench-scaling:end -->\nz\n";
  const out = withTables(readme, [jobRun("scaling", [jobPoint({ workers: 1, median: 1000 })])]);
  assert.equal(tablesBlock(out), "\nold\n");
  assert.match(tablesBlock(out, "bench-scaling"), /\| render-dataset \| 1 \| all \|/);
  assert.throws(
    () => withTables(readme, [jobRun("evals-samples", [])]),
    /markers <!-- bench-evals-samples:start -->/,
  );
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
