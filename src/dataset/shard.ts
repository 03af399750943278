/**
 * Deterministic sharding by record index: shard `i` of `n` takes the records whose 0-based index
 * over all inputs is `i` modulo `n`. Defaults come from the scheduler's environment: Slurm job
 * arrays (`SLURM_ARRAY_TASK_ID` relative to `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_COUNT`) or
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
    const min = env("SLURM_ARRAY_TASK_MIN");
    const base = min !== undefined ? toInt(min, "SLURM_ARRAY_TASK_MIN") : 0;
    return check({
      index: toInt(slurmId, "SLURM_ARRAY_TASK_ID") - base,
      count: flags.shardCount !== undefined
        ? toInt(flags.shardCount, "--shard-count")
        : toInt(slurmCount, "SLURM_ARRAY_TASK_COUNT"),
    });
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
 * Whether record `index` belongs to `shard`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { inShard } from "./shard.ts";
 * strictEqual(inShard(7, { index: 1, count: 3 }), true);
 * ```
 */
export function inShard(index: number, shard: Shard): boolean {
  return index % shard.count === shard.index;
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
