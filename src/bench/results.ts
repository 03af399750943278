/**
 * The result records of `harmony bench`: one {@link BenchPoint} per task and configuration, and a
 * {@link BenchRun} holding them with the machine they were measured on. `--json` writes these,
 * the HTML report and the README tables are made from them, so the three cannot drift apart.
 *
 * @module
 */

/** Facts about the machine and runtime a run was measured on. */
export interface MachineFacts {
  /** CPU model name, e.g. `AMD EPYC 7B13`. */
  cpu: string;
  /** Logical cores available to this process. */
  cores: number;
  /** Total memory in bytes. */
  memoryBytes: number;
  /** `bun`, `deno` or `node`. */
  runtime: string;
  /** The runtime's version, e.g. `1.4.5`. */
  runtimeVersion: string;
  /** Operating system and architecture, e.g. `linux x64`. */
  os: string;
  /** The GPU adapter's name when one was opened, else null. */
  gpuAdapter: string | null;
  /** Whether that adapter is a software rasterizer (llvmpipe, lavapipe, SwiftShader). */
  gpuSoftware: boolean | null;
}

/** Minimum, median and maximum of repeated measurements. */
export interface Spread {
  /** Smallest value. */
  min: number;
  /** Median value. */
  median: number;
  /** Largest value. */
  max: number;
}

/** The tasks `harmony bench` measures. */
export const BENCH_TASKS = [
  "encode",
  "render",
  "parse",
  "render-dataset",
  "parse-dataset",
] as const;

/** One of {@link BENCH_TASKS}. */
export type BenchTask = typeof BENCH_TASKS[number];

/** One measured configuration of one task. */
export interface BenchPoint {
  /** What was measured. */
  task: BenchTask;
  /** Who did the work: `ours` or a peer's package name (`gpt-tokenizer`, `openai-harmony`, …). */
  implementation: string;
  /** The backend that ran the batches (`cpu`, `gpu`, or `auto: …` as the engine reports it). */
  backend: string;
  /** Worker threads (dataset tasks), else 1. */
  workers: number;
  /** Texts or conversations per batch (encode/render/parse), else null. */
  batchSize: number | null;
  /** Items (records, texts, conversations, completions) per repeat. */
  items: number;
  /** Tokens produced or read per repeat. */
  tokens: number;
  /** UTF-8 input bytes per repeat (text encoded, or the input file's bytes for dataset tasks). */
  inputBytes: number;
  /** Timed repeats. */
  repeats: number;
  /** Wall milliseconds per repeat. */
  ms: Spread;
  /** Items per second, from the median time. */
  itemsPerSecond: number;
  /** Tokens per second, from the median time. */
  tokensPerSecond: number;
  /** Megabytes (10^6 bytes) of input per second, from the median time. */
  mbPerSecond: number;
  /** Wall milliseconds per MB of input (median time). */
  wallMsPerMB: number;
  /**
   * Milliseconds per MB the JS thread spent in host work (packing, planning, stitching, CPU
   * fallbacks); for the CPU backend its whole time. Null where the backend does not report it.
   */
  hostMsPerMB: number | null;
  /** Device (kernel) milliseconds per MB from timestamp queries, or null without them. */
  deviceMsPerMB: number | null;
  /** Peak resident set size seen while this point ran, in bytes (sampled). */
  peakRssBytes: number;
  /** GPU figures where the backend reports them, else null. */
  gpu: {
    /** Compute dispatches per repeat. */
    dispatches: number;
    /** Bytes uploaded and read back per repeat. */
    bytesMoved: number;
    /** Kernel time per repeat from timestamp queries (ms), or null without them. */
    deviceMs: number | null;
  } | null;
  /** Whether the output was checked identical to ours before timing (peers only). */
  checked?: boolean;
}

/** Time to get ready before the first batch, measured once per run. */
export interface ColdStart {
  /** What was loaded: `vocabulary` or `gpu` (device, tables, pipelines). */
  what: string;
  /** Milliseconds. */
  ms: number;
  /** Resident set size added, in bytes. */
  rssBytes: number;
}

/** A whole run of `harmony bench`. */
export interface BenchRun {
  /** Schema version of this record. */
  version: 1;
  /** When the run started (ISO 8601). */
  date: string;
  /** The machine. */
  machine: MachineFacts;
  /** The input: a file list or `examples/sample.jsonl`, with the records used. */
  input: { files: string[]; records: number; bytes: number };
  /** Cold-start costs. */
  coldStart: ColdStart[];
  /** Every measured point. */
  points: BenchPoint[];
  /** Peers that were asked for but are not installed, with the command that installs each. */
  missingPeers: { name: string; install: string }[];
}

/**
 * Min, median and max of a non-empty list of numbers.
 *
 * @throws {RangeError} on an empty list.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { spread } from "./results.ts";
 * deepStrictEqual(spread([3, 1, 2]), { min: 1, median: 2, max: 3 });
 * deepStrictEqual(spread([4, 1, 2, 3]), { min: 1, median: 2.5, max: 4 });
 * ```
 */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new RangeError("Cannot summarize measurements: there are none");
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { min: s[0], median, max: s[s.length - 1] };
}
