/**
 * Writes the README's tokenizer tables (cold and warm MB/s per text kind and runtime, with our
 * speed as a multiple of each peer's) from `bench/encode.bench.ts --json FILE` outputs, so the
 * figures in the README are exactly what was measured. Replaces the text between
 * `<!-- encode-tables:start -->` and `<!-- encode-tables:end -->` in README.md.
 *
 *   npx bun bench/encode.bench.ts --json bench/results/encode/bun.json
 *   npx deno run -A bench/encode.bench.ts --json bench/results/encode/deno.json
 *   npx bun scripts/encode_tables.ts bench/results/encode/bun.json bench/results/encode/deno.json
 *
 * With `--check` it only fails (exit 1) when the README is not what the files give (the padding
 * `deno fmt` adds to tables aside; run `npx deno fmt README.md` after writing).
 *
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { normalizeTables } from "./bench_tables.ts";

/** One `encode.bench.ts --json` file. */
export interface EncodeRun {
  readonly version: 1;
  readonly date: string;
  readonly machine: {
    readonly runtime: string;
    readonly runtimeVersion: string;
    readonly cpu: string;
    readonly cores: number;
    readonly memoryBytes: number;
    /** One-minute load average when the run ended. */
    readonly loadAverage: number;
  };
  readonly coldReps: number;
  readonly texts: string;
  readonly kinds: ReadonlyArray<{
    readonly kind: string;
    readonly coldBytes: number;
    readonly warmBytes: number;
    /** MB/s by implementation name; "harmony-engine" is ours. */
    readonly cold: Readonly<Record<string, number>>;
    readonly warm: Readonly<Record<string, number>>;
  }>;
  readonly vocabulary: {
    readonly loadMs: number;
    readonly rssBytes: number;
    readonly heapBytes: number;
    readonly tableBytes: number;
  };
}

const START = "<!-- encode-tables:start -->";
const END = "<!-- encode-tables:end -->";
const OURS = "harmony-engine";

/** MB/s with three significant figures at most (6.7, 28.1, 241). */
function fig(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

/** Peers present in `mode` in every kind of the run, in the order of the first kind. */
function peersOf(run: EncodeRun, mode: "cold" | "warm"): string[] {
  return Object.keys(run.kinds[0]?.[mode] ?? {}).filter((n) =>
    n !== OURS && run.kinds.every((k) => k[mode][n] > 0)
  );
}

/**
 * The markdown of one run: a line naming the runtime, machine, load and vocabulary load, then one
 * table with a row per text kind: cold MB/s and its ratio to each peer, warm MB/s and its ratios.
 *
 * @throws {TypeError} when the run has no figure of ours for a kind.
 */
export function encodeTable(run: EncodeRun): string {
  const m = run.machine, v = run.vocabulary;
  const cold = peersOf(run, "cold"), warm = peersOf(run, "warm");
  let s =
    `**${m.runtime} ${m.runtimeVersion}** on ${m.cpu}, ${m.cores} cores, load ${
      m.loadAverage.toFixed(1)
    } at the end; ${
      run.date.slice(0, 10)
    }; cold = median of ${run.coldReps} passes over ${run.texts}; ` +
    `vocabulary load ${v.loadMs.toFixed(0)} ms, +${(v.rssBytes / 2 ** 20).toFixed(0)} MiB RSS.\n\n`;
  const head = [
    m.runtime,
    "cold",
    ...cold.map((n) => `×${n}`),
    "warm",
    ...warm.map((n) => `×${n}`),
  ];
  s += `| ${head.join(" | ")} |\n| ${head.map(() => "---").join(" | ")} |\n`;
  for (const k of run.kinds) {
    const oc = k.cold[OURS], ow = k.warm[OURS];
    if (!(oc > 0) || !(ow > 0)) {
      throw new TypeError(`Cannot make encode table: no figure of ours for ${k.kind}`);
    }
    const row = [
      k.kind,
      fig(oc),
      ...cold.map((n) => fig(oc / k.cold[n])),
      fig(ow),
      ...warm.map((n) => fig(ow / k.warm[n])),
    ];
    s += `| ${row.join(" | ")} |\n`;
  }
  return s;
}

/** The text between the README's tokenizer table markers. */
export function encodeTablesBlock(readme: string): string {
  const a = readme.indexOf(START), b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`Cannot read README: markers ${START} … ${END} not found`);
  return readme.slice(a + START.length, b);
}

/** README text with the block between the tokenizer markers replaced by the tables of `runs`. */
export function withEncodeTables(readme: string, runs: readonly EncodeRun[]): string {
  const a = readme.indexOf(START), b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`Cannot update README: markers ${START} … ${END} not found`);
  const body = runs.map(encodeTable).join("\n");
  return `${readme.slice(0, a + START.length)}\n${body}${readme.slice(b)}`;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const check = args.includes("--check");
  const files = args.filter((a) => a !== "--check");
  if (!files.length) {
    process.stderr.write("usage: encode_tables.ts [--check] RUN.json...\n");
    process.exit(2);
  }
  const runs = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as EncodeRun);
  const path = fileURLToPath(new URL("../README.md", import.meta.url));
  const before = readFileSync(path, "utf8");
  const after = withEncodeTables(before, runs);
  if (check) {
    if (
      normalizeTables(encodeTablesBlock(before)) !== normalizeTables(encodeTablesBlock(after))
    ) {
      process.stderr.write("README tokenizer tables differ from the results files\n");
      process.exit(1);
    }
  } else writeFileSync(path, after);
}
