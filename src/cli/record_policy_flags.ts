/**
 * `render-dataset`'s training-data policy flags: `--analysis`, `--max-tokens`/`--overflow`,
 * `--skip-untrained`, `--keep-null-fields`, and how their counts are reported (summary line,
 * warning, `--stats FILE`). The policies are in `src/dataset/analysis_policy.ts` and
 * `src/dataset/record_policy.ts`.
 *
 * @module
 */

import { writeFileSync } from "node:fs";
import type { OptionSpec } from "./args.ts";
import { UsageError } from "./args.ts";
import type { Host } from "./host.ts";
import { ANALYSIS_POLICIES, type AnalysisPolicy } from "../dataset/analysis_policy.ts";
import {
  OVERFLOW_POLICIES,
  type OverflowPolicy,
  type RecordPolicyOptions,
} from "../dataset/record_policy.ts";
import type { RenderDatasetSummary } from "../dataset/pipeline.ts";
import { formatCount } from "../dataset/progress.ts";
import { type Shard, shardOutputPath, WHOLE } from "../dataset/shard.ts";

type Options = Record<string, string | boolean | string[] | undefined>;

/** The flags' specs. */
export const RECORD_POLICY_OPTIONS: readonly OptionSpec[] = [
  {
    name: "analysis",
    type: "string",
    choices: ANALYSIS_POLICIES,
    default: "last-turn",
    description: "Analysis kept: the last turn's, all, the reference's autoDropAnalysis, none",
  },
  {
    name: "keep-analysis",
    type: "boolean",
    description: "Alias of --analysis keep",
  },
  {
    name: "max-tokens",
    type: "string",
    valueName: "N",
    description: "Longest record in tokens (default: no limit)",
  },
  {
    name: "overflow",
    type: "string",
    choices: OVERFLOW_POLICIES,
    default: "error",
    description: "A record over --max-tokens: error (errors file), drop, or truncate",
  },
  {
    name: "skip-untrained",
    type: "boolean",
    description: "Leave out records with no trained token (default: write, count and warn)",
  },
  {
    name: "keep-null-fields",
    type: "boolean",
    description: "Parquet: keep null fields of struct columns (default: null = absent)",
  },
  {
    name: "mask-column",
    type: "string",
    valueName: "NAME",
    description: "Mask column of jsonl/parquet outputs (default loss_mask; TRL: assistant_masks)",
  },
  {
    name: "stats",
    type: "string",
    valueName: "FILE",
    description:
      "Write the run's counts (records, tokens, analysis, lengths) as JSON (a shard: FILE with its shard tag)",
  },
];

/** The flags read. */
export interface RecordPolicyFlags {
  /** The analysis policy. */
  analysis: AnalysisPolicy;
  /** Length and untrained policies. */
  record: RecordPolicyOptions;
  /** `--keep-null-fields`. */
  keepNullFields: boolean;
  /** `--mask-column`, if given. */
  maskColumn?: string;
  /** What a `--resume` must match. */
  settings: Record<string, unknown>;
}

/**
 * Reads the flags.
 *
 * @throws {UsageError} for contradicting or malformed flags.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { recordPolicyFlags } from "./record_policy_flags.ts";
 * deepStrictEqual(recordPolicyFlags({}).analysis, "last-turn");
 * ```
 */
export function recordPolicyFlags(o: Options): RecordPolicyFlags {
  const given = typeof o.analysis === "string" ? o.analysis as AnalysisPolicy : undefined;
  // The parser fills in the default, so only a non-default --analysis can contradict.
  if (
    o["keep-analysis"] === true && given !== undefined && given !== "keep" && given !== "last-turn"
  ) {
    throw new UsageError(`Cannot parse arguments: --keep-analysis contradicts --analysis ${given}`);
  }
  const analysis = o["keep-analysis"] === true ? "keep" : given ?? "last-turn";
  const record: RecordPolicyOptions = {};
  if (typeof o["max-tokens"] === "string") {
    const n = Number(o["max-tokens"]);
    if (!Number.isInteger(n) || n < 1) {
      throw new UsageError("Cannot parse arguments: --max-tokens takes a positive integer");
    }
    record.maxTokens = n;
  }
  if (typeof o.overflow === "string") record.overflow = o.overflow as OverflowPolicy;
  if (o["skip-untrained"] === true) record.skipUntrained = true;
  const keepNullFields = o["keep-null-fields"] === true;
  const maskColumn = typeof o["mask-column"] === "string" ? o["mask-column"] : undefined;
  if (maskColumn !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(maskColumn)) {
    throw new UsageError("Cannot parse arguments: --mask-column takes a column name");
  }
  if (maskColumn === "input_ids") {
    throw new UsageError("Cannot parse arguments: --mask-column cannot be input_ids");
  }
  return {
    analysis,
    record,
    keepNullFields,
    maskColumn,
    settings: {
      analysis,
      maxTokens: record.maxTokens ?? null,
      overflow: record.maxTokens !== undefined ? record.overflow ?? "error" : null,
      skipUntrained: record.skipUntrained ?? false,
      keepNullFields,
      maskColumn: maskColumn ?? "loss_mask",
    },
  };
}

/**
 * The summary line's notes on the policies (only what happened).
 *
 * @example
 * ```ts ignore
 * import { policyNotes } from "./record_policy_flags.ts";
 * policyNotes(summary); // ["analysis 12 kept, 3 dropped", "2 skipped (2 untrained)"]
 * ```
 */
export function policyNotes(s: RenderDatasetSummary): string[] {
  const notes: string[] = [];
  if (s.analysisKept + s.analysisDropped > 0) {
    notes.push(
      `analysis ${formatCount(s.analysisKept)} kept, ${formatCount(s.analysisDropped)} dropped`,
    );
  }
  if (s.truncated > 0) notes.push(`${s.truncated} truncated`);
  if (s.overflowFailed > 0) notes.push(`${s.overflowFailed} too long`);
  if (s.skipped > 0) {
    const why: string[] = [];
    if (s.overflowDropped > 0) why.push(`${s.overflowDropped} too long`);
    if (s.skippedUntrained > 0) why.push(`${s.skippedUntrained} untrained`);
    notes.push(`${s.skipped} skipped (${why.join(", ")})`);
  }
  return notes;
}

/**
 * Warns about records with no trained token and writes `--stats FILE` (a shard's:
 * `shardOutputPath(FILE, shard)`, which `merge --stats FILE` sums).
 *
 * @example
 * ```ts ignore
 * import { reportPolicies } from "./record_policy_flags.ts";
 * await reportPolicies(host, summary, { stats: "stats.json" });
 * ```
 */
export async function reportPolicies(
  host: Host,
  s: RenderDatasetSummary,
  o: Options,
  shard: Shard = WHOLE,
): Promise<void> {
  const written = s.untrained - s.skippedUntrained;
  if (written > 0) {
    await host.stderr.write(
      `render-dataset: warning: ${written} record${
        written === 1 ? " has" : "s have"
      } no trained token (loss mask all 0); --skip-untrained leaves them out\n`,
    );
  }
  if (typeof o.stats === "string") {
    const stats = {
      records: {
        read: s.read,
        written: s.written,
        failed: s.failed,
        skipped: s.skipped,
        other_shards: s.otherShards,
        untrained: s.untrained,
        skipped_untrained: s.skippedUntrained,
      },
      tokens: { total: s.tokens, trained: s.trainedTokens },
      analysis: {
        policy: recordPolicyFlags(o).analysis,
        kept: s.analysisKept,
        dropped: s.analysisDropped,
      },
      length: {
        max_tokens: recordPolicyFlags(o).record.maxTokens ?? null,
        failed: s.overflowFailed,
        dropped: s.overflowDropped,
        truncated: s.truncated,
        truncated_tokens: s.truncatedTokens,
      },
    };
    // Shards write their own file (the one naming rule of both dataset commands).
    writeFileSync(shardOutputPath(o.stats, shard), JSON.stringify(stats, null, 2) + "\n");
  }
}
