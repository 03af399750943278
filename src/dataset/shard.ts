/**
 * Contiguous sharding of the inputs. Shard `i` of `n` owns the byte range
 * `[⌊i·T/n⌋, ⌊(i+1)·T/n⌋)` of the concatenation of all input files (`T` bytes in all, raw file
 * bytes, compressed ones for gzip), and a *unit* belongs to the shard whose range holds its first
 * byte — Hadoop's input-split rule, so concatenating the shards' outputs in shard order is the
 * unsharded output:
 * - plain JSONL: a unit is a line (a shard starting mid-line skips to the next line start; a
 *   shard reads past its end to finish its last line);
 * - Parquet: a unit is a whole row group (its first column chunk's first page);
 * - JSONL.gz: a unit is the whole file (gzip cannot be entered mid-stream);
 * - mixed inputs follow the same rule, file by file: every file keeps its place and its size in
 *   the concatenation, whatever its kind.
 * A pipe has no size, so it cannot be placed: sharding a pipe is refused (`readers.ts`). Shards
 * may be empty (e.g. one gzip file in three shards). The readers read only a shard's range; the
 * record indexes and line numbers before it are counted lazily (`InputShard.locate`).
 *
 * The shard itself comes from flags or the scheduler's environment: Slurm job arrays (task
 * `(SLURM_ARRAY_TASK_ID − MIN) / STEP` of `(MAX − MIN) / STEP + 1`, see `slurmShard`) or
 * Kubernetes Indexed Jobs (`JOB_COMPLETION_INDEX`, with the count from `--shard-count`).
 *
 * @module
 */

/** A shard: `index` of `count` (0 ≤ index < count). */
export interface Shard {
  /** 0-based shard index. */
  index: number;
  /** Number of shards. */
  count: number;
}

/** The whole input as one shard. */
export const WHOLE: Shard = Object.freeze({ index: 0, count: 1 });

function toInt(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new RangeError(`Cannot read shard: ${what} "${text.slice(0, 32)}" is not an integer`);
  }
  return Number(text.trim());
}

function check(s: Shard): Shard {
  if (s.count < 1 || s.index >= s.count) {
    throw new RangeError(`Cannot use shard ${s.index}/${s.count}: index must be below count`);
  }
  return s;
}

/**
 * Parses `i/n` (0-based index).
 *
 * @throws {RangeError} on malformed text or an index not below the count.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { parseShard } from "./shard.ts";
 * deepStrictEqual(parseShard("2/8"), { index: 2, count: 8 });
 * ```
 */
export function parseShard(text: string): Shard {
  const slash = text.indexOf("/");
  if (slash < 0) throw new RangeError(`Cannot read shard "${text.slice(0, 32)}": expected i/n`);
  return check({
    index: toInt(text.slice(0, slash), "index"),
    count: toInt(text.slice(slash + 1), "count"),
  });
}

/**
 * The shard from flags and environment: `--shard i/n` wins; else Slurm array variables; else
 * `JOB_COMPLETION_INDEX` with `--shard-count` (or `JOB_COMPLETION_COUNT`/`SHARD_COUNT`); else
 * the whole input.
 *
 * @throws {RangeError} when the variables are inconsistent.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { resolveShard } from "./shard.ts";
 * const env = { SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_COUNT: "4" };
 * deepStrictEqual(resolveShard({}, (k) => env[k as keyof typeof env]), { index: 3, count: 4 });
 * ```
 */
export function resolveShard(
  flags: { shard?: string; shardCount?: string },
  env: (name: string) => string | undefined,
): Shard {
  if (flags.shard !== undefined) return parseShard(flags.shard);
  const slurmId = env("SLURM_ARRAY_TASK_ID");
  const slurmCount = env("SLURM_ARRAY_TASK_COUNT");
  if (slurmId !== undefined && slurmCount !== undefined) {
    if (flags.shardCount !== undefined) {
      // The index as the array gives it; the count as the flag says.
      const count = toInt(flags.shardCount, "--shard-count");
      return check({
        index: slurmShard((k) =>
          k === "SLURM_ARRAY_TASK_MAX"
            ? undefined
            : k === "SLURM_ARRAY_TASK_COUNT"
            ? String(count)
            : env(k)
        ).index,
        count,
      });
    }
    return slurmShard(env);
  }
  const k8s = env("JOB_COMPLETION_INDEX");
  if (k8s !== undefined) {
    const count = flags.shardCount ?? env("JOB_COMPLETION_COUNT") ?? env("SHARD_COUNT");
    if (count === undefined) {
      throw new RangeError(
        "Cannot use JOB_COMPLETION_INDEX: the shard count is unknown (pass --shard-count)",
      );
    }
    return check({ index: toInt(k8s, "JOB_COMPLETION_INDEX"), count: toInt(count, "count") });
  }
  if (flags.shardCount !== undefined) {
    throw new RangeError("Cannot use --shard-count: no shard index (--shard or a scheduler)");
  }
  return WHOLE;
}

/**
 * The shard of a Slurm array task: task `SLURM_ARRAY_TASK_ID` of the range
 * `SLURM_ARRAY_TASK_MIN..SLURM_ARRAY_TASK_MAX` stepped by `SLURM_ARRAY_TASK_STEP` is shard
 * `(id − min) / step` of `(max − min) / step + 1` (`--array=0-4:2` gives tasks 0, 2, 4 → shards
 * 0, 1, 2 of 3). Without `SLURM_ARRAY_TASK_MAX` the count is `SLURM_ARRAY_TASK_COUNT`; a missing
 * min is 0 and a missing step 1.
 *
 * @throws {RangeError} when a variable is not an integer, the id is off the step grid or the
 *   count disagrees with `SLURM_ARRAY_TASK_COUNT`.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { slurmShard } from "./shard.ts";
 * const env: Record<string, string> = {
 *   SLURM_ARRAY_TASK_ID: "4", SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_MAX: "4",
 *   SLURM_ARRAY_TASK_STEP: "2", SLURM_ARRAY_TASK_COUNT: "3",
 * };
 * deepStrictEqual(slurmShard((k) => env[k]), { index: 2, count: 3 });
 * ```
 */
export function slurmShard(env: (name: string) => string | undefined): Shard {
  const int = (name: string, fallback: number): number => {
    const v = env(name);
    return v === undefined ? fallback : toInt(v, name);
  };
  const id = int("SLURM_ARRAY_TASK_ID", 0);
  const min = int("SLURM_ARRAY_TASK_MIN", 0);
  const step = int("SLURM_ARRAY_TASK_STEP", 1);
  const tasks = env("SLURM_ARRAY_TASK_COUNT");
  if (step < 1 || (id - min) % step !== 0) {
    throw new RangeError(
      `Cannot use Slurm task ${id}: not on the array grid ${min}+k·${step} (pass --shard i/n)`,
    );
  }
  const max = env("SLURM_ARRAY_TASK_MAX");
  const count = max !== undefined
    ? (toInt(max, "SLURM_ARRAY_TASK_MAX") - min) / step + 1
    : int("SLURM_ARRAY_TASK_COUNT", 1);
  if (!Number.isInteger(count) || (tasks !== undefined && toInt(tasks, "count") !== count)) {
    throw new RangeError(
      `Cannot use Slurm array ${min}-${max}:${step}: ${tasks} tasks is not a contiguous range (pass --shard i/n)`,
    );
  }
  return check({ index: (id - min) / step, count });
}

/** A half-open byte range `[start, end)` of the concatenated inputs. */
export interface ByteRange {
  /** First byte owned. */
  start: number;
  /** First byte not owned. */
  end: number;
}

/**
 * The byte range shard `i` of `n` owns among `total` bytes: `[⌊i·total/n⌋, ⌊(i+1)·total/n⌋)`.
 * The ranges of the `n` shards are disjoint and cover `[0, total)`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { shardRange } from "./shard.ts";
 * deepStrictEqual(shardRange(10, { index: 1, count: 3 }), { start: 3, end: 6 });
 * deepStrictEqual(shardRange(10, { index: 2, count: 3 }), { start: 6, end: 10 });
 * ```
 */
export function shardRange(total: number, shard: Shard): ByteRange {
  check(shard);
  const at = (i: number) => i === shard.count ? total : Math.floor((i * total) / shard.count);
  return { start: at(shard.index), end: at(shard.index + 1) };
}

/**
 * Whether a unit (a line, a row group, a gzip file) whose first byte is at `position` in the
 * concatenated inputs belongs to the shard owning `range`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { ownsUnit } from "./shard.ts";
 * deepStrictEqual([2, 3, 5, 6].map((p) => ownsUnit(p, { start: 3, end: 6 })), [false, true, true, false]);
 * ```
 */
export function ownsUnit(position: number, range: ByteRange): boolean {
  return position >= range.start && position < range.end;
}

/**
 * The output prefix of a shard: `PREFIX` for the whole input, else `PREFIX.shard-00003-of-00008`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { shardPrefix } from "./shard.ts";
 * strictEqual(shardPrefix("data/train", { index: 3, count: 8 }), "data/train.shard-00003-of-00008");
 * ```
 */
export function shardPrefix(prefix: string, shard: Shard): string {
  return prefix + shardTag(shard);
}

/**
 * The one shard-name rule: `""` for the whole input, else `.shard-IIIII-of-NNNNN` (at least five
 * digits). Used for dataset prefixes and eval output files alike.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { shardTag } from "./shard.ts";
 * deepStrictEqual(shardTag({ index: 3, count: 8 }), ".shard-00003-of-00008");
 * ```
 */
export function shardTag(shard: Shard): string {
  if (shard.count === 1) return "";
  const w = Math.max(5, String(shard.count).length);
  return `.shard-${String(shard.index).padStart(w, "0")}-of-${
    String(shard.count).padStart(w, "0")
  }`;
}

/**
 * The path of a shard's file (`parse-dataset --out`, the `--stats` file of both dataset
 * commands): the whole input keeps `out`; shard `i` of `n` inserts `.shard-0000i-of-0000n`
 * before `.jsonl`/`.jsonl.gz`/`.json`/`.json.gz` (else appends it), so concurrent shards never
 * write the same file.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { shardOutputPath } from "./shard.ts";
 * strictEqual(shardOutputPath("results.jsonl", { index: 3, count: 8 }), "results.shard-00003-of-00008.jsonl");
 * ```
 */
export function shardOutputPath(out: string, shard: Shard): string {
  if (shard.count === 1) return out;
  const tag = shardTag(shard);
  for (const ext of [".jsonl.gz", ".jsonl", ".json.gz", ".json"]) {
    if (out.endsWith(ext)) return out.slice(0, out.length - ext.length) + tag + ext;
  }
  return out + tag;
}
