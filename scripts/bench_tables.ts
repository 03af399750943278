/**
 * Writes the README's `harmony bench` tables from `harmony bench --json FILE` outputs, so the
 * figures in the README are exactly what was measured. Replaces the text between
 * `<!-- bench-tables:start -->` and `<!-- bench-tables:end -->` in README.md.
 *
 *   npx bun src/cli.ts bench --peers --json bench/results/sample-bun.json
 *   npx deno run -A src/cli.ts bench --peers --json bench/results/sample-deno.json
 *   npx bun scripts/bench_tables.ts bench/results/sample-bun.json bench/results/sample-deno.json
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
import { shortNumber } from "../src/bench/svg.ts";

const START = "<!-- bench-tables:start -->";
const END = "<!-- bench-tables:end -->";

function ratio(p: BenchPoint, run: BenchRun): string {
  if (p.implementation === "ours") return "";
  const ours = run.points.filter((q) =>
    q.task === p.task && q.implementation === "ours" && q.backend === "cpu" && q.workers === 1
  );
  if (!ours.length || !(p.mbPerSecond > 0)) return "";
  return `${(Math.max(...ours.map((q) => q.mbPerSecond)) / p.mbPerSecond).toFixed(1)}×`;
}

/** The markdown of one run: a heading line with the machine, then one table. */
export function runTable(run: BenchRun): string {
  const m = run.machine;
  const gpu = m.gpuAdapter ? `, GPU ${m.gpuAdapter}${m.gpuSoftware ? " (software)" : ""}` : "";
  const cold = run.coldStart.map((c) => `${c.what} ${c.ms.toFixed(0)} ms`).join(", ");
  let s = `**${m.runtime} ${m.runtimeVersion}** on ${m.cpu}, ${m.cores} cores, ${
    (m.memoryBytes / 2 ** 30).toFixed(0)
  } GiB${gpu}; ${run.input.records} records of ${run.input.files.join(", ")}; ${
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

/**
 * A table's text with the padding `deno fmt` adds folded away (runs of spaces, of dashes in the
 * alignment row), so a formatted README still compares equal to the generated tables.
 */
export function normalizeTables(text: string): string {
  return text.replace(/\s+/g, " ").replace(/-{2,}/g, "--");
}

/** The text between the README's table markers. */
export function tablesBlock(readme: string): string {
  const a = readme.indexOf(START), b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`Cannot read README: markers ${START} … ${END} not found`);
  return readme.slice(a + START.length, b);
}

/** README text with the block between the markers replaced by the tables of `runs`. */
export function withTables(readme: string, runs: readonly BenchRun[]): string {
  const a = readme.indexOf(START), b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`Cannot update README: markers ${START} … ${END} not found`);
  const body = runs.map(runTable).join("\n");
  return `${readme.slice(0, a + START.length)}\n${body}${readme.slice(b)}`;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const check = args.includes("--check");
  const files = args.filter((a) => a !== "--check");
  if (!files.length) {
    process.stderr.write("usage: bench_tables.ts [--check] RUN.json...\n");
    process.exit(2);
  }
  const runs = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as BenchRun);
  const path = fileURLToPath(new URL("../README.md", import.meta.url));
  const before = readFileSync(path, "utf8");
  const after = withTables(before, runs);
  if (check) {
    if (normalizeTables(tablesBlock(before)) !== normalizeTables(tablesBlock(after))) {
      process.stderr.write("README bench tables differ from the results files\n");
      process.exit(1);
    }
  } else writeFileSync(path, after);
}
