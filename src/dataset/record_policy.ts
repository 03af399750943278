/**
 * What `render-dataset` does with a rendered record before writing it: the length policy
 * (`--max-tokens N --overflow drop|truncate|error`), records with no trained token (counted and
 * warned; `--skip-untrained` leaves them out), and the analysis counts of the training renderer.
 * One function decides, the pipeline calls it once per record; the counts are part of the run's
 * summary and checkpoint.
 *
 * @module
 */

import type { AnalysisCounts } from "./analysis_policy.ts";

/** The `--overflow` policies. */
export const OVERFLOW_POLICIES = ["error", "drop", "truncate"] as const;

/** One of {@link OVERFLOW_POLICIES}. */
export type OverflowPolicy = typeof OVERFLOW_POLICIES[number];

/** Options of {@link decideRecord}. */
export interface RecordPolicyOptions {
  /** Longest record in tokens (default: no limit). */
  maxTokens?: number;
  /**
   * A longer record: `error` (default) fails it (errors file, with its length), `drop` leaves it
   * out (counted), `truncate` keeps its first `maxTokens` tokens and their mask.
   */
  overflow?: OverflowPolicy;
  /** Leave out records whose loss mask is all 0 (default false: write them, count them). */
  skipUntrained?: boolean;
}

/** Counts of the record policies over a run. */
export interface PolicyCounts {
  /** Records rendered but left out (`drop` overflow, `--skip-untrained`). */
  skipped: number;
  /** Records over `maxTokens` that failed (`error`). */
  overflowFailed: number;
  /** Records over `maxTokens` left out (`drop`). */
  overflowDropped: number;
  /** Records cut to `maxTokens` (`truncate`). */
  truncated: number;
  /** Tokens cut off by truncation. */
  truncatedTokens: number;
  /** Records with no trained token (written, or left out with `skipUntrained`). */
  untrained: number;
  /** Records with no trained token left out (`skipUntrained`). */
  skippedUntrained: number;
  /** Analysis messages dropped in written records. */
  analysisDropped: number;
  /** Analysis messages kept in written records. */
  analysisKept: number;
}

/**
 * Zero counts.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { emptyPolicyCounts } from "./record_policy.ts";
 * deepStrictEqual(emptyPolicyCounts().untrained, 0);
 * ```
 */
export function emptyPolicyCounts(): PolicyCounts {
  return {
    skipped: 0,
    overflowFailed: 0,
    overflowDropped: 0,
    truncated: 0,
    truncatedTokens: 0,
    untrained: 0,
    skippedUntrained: 0,
    analysisDropped: 0,
    analysisKept: 0,
  };
}

/** What to do with a record. */
export type RecordDecision =
  | { action: "write"; length: number; trained: number }
  | { action: "skip" }
  | { action: "fail"; reason: string };

/**
 * Decides a rendered record's fate and updates `counts`. `mask` is the record's loss mask
 * (length = its tokens), `trained` its ones. For `write`, write the first `length` tokens and
 * mask values (truncation cuts both together).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { decideRecord, emptyPolicyCounts } from "./record_policy.ts";
 * const counts = emptyPolicyCounts();
 * const policy = { maxTokens: 2, overflow: "truncate" as const };
 * deepStrictEqual(decideRecord(Uint8Array.of(0, 1, 1, 1), 3, undefined, policy, counts), {
 *   action: "write",
 *   length: 2,
 *   trained: 1,
 * });
 * ```
 */
export function decideRecord(
  mask: Uint8Array,
  trained: number,
  analysis: AnalysisCounts | undefined,
  options: RecordPolicyOptions,
  counts: PolicyCounts,
): RecordDecision {
  let length = mask.length;
  const max = options.maxTokens;
  if (max !== undefined && length > max) {
    const overflow = options.overflow ?? "error";
    if (overflow === "error") {
      counts.overflowFailed++;
      return {
        action: "fail",
        reason: `Cannot write record: ${length} tokens, more than --max-tokens ${max}`,
      };
    }
    if (overflow === "drop") {
      counts.overflowDropped++;
      counts.skipped++;
      return { action: "skip" };
    }
    for (let i = max; i < length; i++) trained -= mask[i];
    counts.truncated++;
    counts.truncatedTokens += length - max;
    length = max;
  }
  if (trained === 0) {
    counts.untrained++;
    if (options.skipUntrained) {
      counts.skippedUntrained++;
      counts.skipped++;
      return { action: "skip" };
    }
  }
  if (analysis !== undefined) {
    counts.analysisDropped += analysis.dropped;
    counts.analysisKept += analysis.kept;
  }
  return { action: "write", length, trained };
}
