/**
 * Writes the README's benchmark tables from the `--json` outputs in `bench/results/`, so the
 * figures in the README are exactly what was measured. Each kind of result has its block in
 * README.md, between `<!-- NAME:start -->` and `<!-- NAME:end -->`:
 *
 * - `bench-tables`: `harmony bench --json FILE` runs ({@link BenchRun});
 * - `bench-scaling`: `bench/scaling.ts --json FILE` (workers and shards, {@link JobBenchRun});
 * - `bench-evals-samples`: `bench/evals.bench.ts --vllm --json FILE` (n samples, CPU and GPU).
 *
 *   npx bun src/cli.ts bench --peers --json bench/results/sample-bun.json
 *   npx deno run -A src/cli.ts bench --peers --json bench/results/sample-deno.json
 *   npx bun bench/scaling.ts --json bench/results/scaling-bun.json
 *   npx bun bench/evals.bench.ts --vllm --json bench/results/evals-samples-bun.json
 *   npx bun scripts/bench_tables.ts bench/results/*.json
 *
 * With `--check` it only fails (exit 1) when the README is not what the files give (the padding
 * `deno fmt` adds to tables aside; run `npx deno fmt README.md` after writing).
 *
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { BenchPoint, BenchRun } from "../src/bench/results.ts";
import { type JobBenchRun, type JobPoint, speedup } from "../src/bench/job_results.ts";
import { shortNumber } from "../src/bench/svg.ts";

/** Any results file of `bench/results/`. */
export type ResultsFile = BenchRun | JobBenchRun;

/** The README block a results file goes to. */
export function blockOf(run: ResultsFile): string {
  return "kind" in run ? `bench-${run.kind}` : "bench-tables";
}

function ratio(p: BenchPoint, run: BenchRun): string {
  if (p.implementation === "ours") return "";
  const ours = run.points.filter((q) =>
    q.task === p.task && q.implementation === "ours" && q.backend === "cpu" && q.workers === 1
  );
  if (!ours.length || !(p.mbPerSecond > 0)) return "";
  return `${(Math.max(...ours.map((q) => q.mbPerSecond)) / p.mbPerSecond).toFixed(1)}×`;
}

function machineLine(run: ResultsFile): string {
  const m = run.machine;
  const gpu = m.gpuAdapter ? `, GPU ${m.gpuAdapter}${m.gpuSoftware ? " (software)" : ""}` : "";
  return `**${m.runtime} ${m.runtimeVersion}** on ${m.cpu}, ${m.cores} cores, ${
    (m.memoryBytes / 2 ** 30).toFixed(0)
  } GiB${gpu}`;
}

/** The markdown of one run: a heading line with the machine, then one table. */
export function runTable(run: BenchRun): string {
  const cold = run.coldStart.map((c) => `${c.what} ${c.ms.toFixed(0)} ms`).join(", ");
  let s = `${machineLine(run)}; ${run.input.records} records of ${run.input.files.join(", ")}; ${
    run.date.slice(0, 10)
  }; cold start: ${cold || "n/a"}.\n\n`;
  s +=
    "| task | implementation | backend | workers | batch | median ms | items/s | tokens/s | MB/s | peak RSS | ours × |\n";
  s += "| --- | --- | --- | --: | --: | --: | --: | --: | --: | --: | --: |\n";
  for (const p of run.points) {
    s += `| ${p.task} | ${p.implementation}${
      p.checked ? " ✓" : ""
    } | ${p.backend} | ${p.workers} | ${p.batchSize ?? "all"} | ${p.ms.median.toFixed(1)} | ${
      shortNumber(p.itemsPerSecond)
    } | ${shortNumber(p.tokensPerSecond)} | ${p.mbPerSecond.toFixed(2)} | ${
      (p.peakRssBytes / 2 ** 20).toFixed(0)
    } MiB | ${ratio(p, run)} |\n`;
  }
  return s;
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);
const mib = (b: number | null) => (b === null ? "?" : `${(b / 2 ** 20).toFixed(0)} MiB`);

/** A backend label for a table: the adapter's name without its driver version. */
function backendLabel(p: JobPoint): string {
  const m = /^gpu \((\w+)/.exec(p.backend);
  return m ? `gpu (${m[1]}, software)` : p.backend;
}

/**
 * The markdown of a {@link JobBenchRun}: the machine, the input and the load it was measured
 * under, then one row per point. Scaling runs show the speed-up over one worker (median wall
 * times) and CPU seconds (all threads, and the main thread alone).
 */
export function jobTable(run: JobBenchRun): string {
  let s = `${machineLine(run)}; ${run.input.description}; ${
    run.date.slice(0, 10)
  }; median of ${run.rounds} interleaved rounds; load average ${run.load.min.toFixed(1)}–${
    run.load.max.toFixed(1)
  } (1 min) during the runs.\n\n`;
  if (run.kind === "scaling") {
    s +=
      "| command | workers | shard | records/s | tokens/s | speed-up | wall s (min–max) | CPU s | main thread CPU s | peak RSS |\n";
    s += "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |\n";
    for (const p of run.points) {
      const up = speedup(p, run.points);
      s += `| ${p.command} | ${p.workers} | ${p.shard ?? "all"} | ${
        shortNumber(p.recordsPerSecond)
      } | ${shortNumber(p.tokensPerSecond)} | ${up === null ? "" : `${up.toFixed(2)}×`} | ${
        seconds(p.wallMs.median)
      } (${seconds(p.wallMs.min)}–${seconds(p.wallMs.max)}) | ${
        p.cpuMs ? seconds(p.cpuMs.median) : "?"
      } | ${p.mainCpuMs ? seconds(p.mainCpuMs.median) : "?"} | ${mib(p.peakRssBytes)} |\n`;
    }
    return s;
  }
  s += "| input | backend | records/s | samples/s | tokens/s | wall s (min–max) | peak RSS |\n";
  s += "| --- | --- | --: | --: | --: | --: | --: |\n";
  for (const p of run.points) {
    s += `| ${p.records} records × ${Math.round(p.samples / p.records)} samples | ${
      backendLabel(p)
    } | ${shortNumber(p.recordsPerSecond)} | ${shortNumber(p.samplesPerSecond)} | ${
      shortNumber(p.tokensPerSecond)
    } | ${seconds(p.wallMs.median)} (${seconds(p.wallMs.min)}–${seconds(p.wallMs.max)}) | ${
      mib(p.peakRssBytes)
    } |\n`;
  }
  return s;
}

/**
 * A table's text with the padding `deno fmt` adds folded away (runs of spaces, of dashes in the
 * alignment row), so a formatted README still compares equal to the generated tables.
 */
export function normalizeTables(text: string): string {
  return text.replace(/\s+/g, " ").replace(/-{2,}/g, "--");
}

const markers = (block: string) => [`<!-- ${block}:start -->`, `<!-- ${block}:end -->`];

/** The text between the README's markers of `block` (default: the `harmony bench` tables). */
export function tablesBlock(readme: string, block = "bench-tables"): string {
  const [start, end] = markers(block);
  const a = readme.indexOf(start), b = readme.indexOf(end);
  if (a < 0 || b < a) throw new Error(`Cannot read README: markers ${start} … ${end} not found`);
  return readme.slice(a + start.length, b);
}

/**
 * README text with each block that `runs` have results for replaced by their tables (in the
 * order given); blocks without results are left as they are.
 *
 * @throws {Error} when a block's markers are missing.
 */
export function withTables(readme: string, runs: readonly ResultsFile[]): string {
  const blocks = new Map<string, ResultsFile[]>();
  for (const r of runs) blocks.set(blockOf(r), [...(blocks.get(blockOf(r)) ?? []), r]);
  let text = readme;
  for (const [block, rs] of blocks) {
    const [start, end] = markers(block);
    const a = text.indexOf(start), b = text.indexOf(end);
    if (a < 0 || b < a) {
      throw new Error(`Cannot update README: markers ${start} … ${end} not found`);
    }
    const body = rs.map((r) => ("kind" in r ? jobTable(r) : runTable(r))).join("\n");
    text = `${text.slice(0, a + start.length)}\n${body}${text.slice(b)}`;
  }
  return text;
}

/** The blocks `runs` fill, by name. */
export function blockNames(runs: readonly ResultsFile[]): string[] {
  return [...new Set(runs.map(blockOf))];
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const check = args.includes("--check");
  const files = args.filter((a) => a !== "--check");
  if (!files.length) {
    process.stderr.write("usage: bench_tables.ts [--check] RUN.json...\n");
    process.exit(2);
  }
  const runs = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as ResultsFile);
  const path = fileURLToPath(new URL("../README.md", import.meta.url));
  const before = readFileSync(path, "utf8");
  const after = withTables(before, runs);
  if (check) {
    for (const block of blockNames(runs)) {
      if (
        normalizeTables(tablesBlock(before, block)) !== normalizeTables(tablesBlock(after, block))
      ) {
        process.stderr.write(`README block ${block} differs from the results files\n`);
        process.exit(1);
      }
    }
  } else writeFileSync(path, after);
}
