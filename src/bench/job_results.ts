/**
 * Result records of the dataset-job benchmarks that run the CLI as a child process:
 * `bench/scaling.ts` (render-dataset and parse-dataset against worker count and shards) and
 * `bench/evals.bench.ts --vllm` (parse-dataset on vLLM dumps with n samples, CPU and GPU). Written
 * to `bench/results/*.json` with `--json`; `scripts/bench_tables.ts` makes the README tables from
 * them. Each file says what it is in `kind`.
 *
 * @module
 */

import type { MachineFacts, Spread } from "./results.ts";

/** One measured configuration of one command (medians over the rounds). */
export interface JobPoint {
  /** `render-dataset` or `parse-dataset`. */
  command: string;
  /** Worker threads (`--workers`), 1 when the command has no such flag. */
  workers: number;
  /** `--shard i/n` of this run, or null for the whole input. */
  shard: string | null;
  /** The backend label (`cpu`, or `gpu (adapter)`). */
  backend: string;
  /** Records this run read and processed (its shard's, for a shard). */
  records: number;
  /** Samples (eval outputs with n samples per record), else equal to `records`. */
  samples: number;
  /** Tokens written (render) or parsed (parse). */
  tokens: number;
  /** Wall milliseconds of the child process, over the rounds. */
  wallMs: Spread;
  /** User + system CPU milliseconds of all its threads, over the rounds (null without /proc). */
  cpuMs: Spread | null;
  /** CPU milliseconds of its main thread (null without /proc). */
  mainCpuMs: Spread | null;
  /** Records per second from the median wall time. */
  recordsPerSecond: number;
  /** Samples per second from the median wall time. */
  samplesPerSecond: number;
  /** Tokens per second from the median wall time. */
  tokensPerSecond: number;
  /** Largest peak RSS over the rounds, in bytes (null without /proc). */
  peakRssBytes: number | null;
}

/** A run of `bench/scaling.ts` or `bench/evals.bench.ts --vllm`. */
export interface JobBenchRun {
  /** Schema version. */
  version: 1;
  /** `scaling` (workers and shards) or `evals-samples` (n samples per record, CPU and GPU). */
  kind: "scaling" | "evals-samples";
  /** When the run started (ISO 8601). */
  date: string;
  /** The machine. */
  machine: MachineFacts;
  /** What the input was. */
  input: { description: string; records: number; bytes: number };
  /** Rounds per point (points interleaved within each round). */
  rounds: number;
  /** Lowest and highest 1-minute load average seen before and after the runs. */
  load: { min: number; max: number };
  /** Every measured point, in the order of the table. */
  points: JobPoint[];
}

/**
 * The speed-up of `p` over the one-worker whole-input run of the same command and backend
 * (median wall times), or null when there is no such run (or `p` is it).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { speedup } from "./job_results.ts";
 * const at = (workers: number, median: number) => ({
 *   command: "render-dataset", workers, shard: null, backend: "cpu", records: 1, samples: 1,
 *   tokens: 1, wallMs: { min: median, median, max: median }, cpuMs: null, mainCpuMs: null,
 *   recordsPerSecond: 1, samplesPerSecond: 1, tokensPerSecond: 1, peakRssBytes: null,
 * });
 * const one = at(1, 100), two = at(2, 55);
 * strictEqual(speedup(two, [one, two])?.toFixed(2), "1.82");
 * strictEqual(speedup(one, [one, two]), null);
 * ```
 */
export function speedup(p: JobPoint, points: readonly JobPoint[]): number | null {
  const base = points.find((q) =>
    q.command === p.command && q.backend === p.backend && q.workers === 1 && q.shard === null
  );
  if (!base || base === p) return null;
  return base.wallMs.median / p.wallMs.median;
}
