/**
 * The checkpoint of a `render-dataset` run (`PREFIX.checkpoint.json`): how far the input was read,
 * the counts so far, and the byte lengths of the temporary outputs at that point. It is written
 * (atomically: temporary file + rename) only after the outputs it describes were flushed, so a
 * killed run leaves outputs at least as long as its last checkpoint; `--resume` truncates them to
 * it and reads on from the recorded position.
 *
 * @module
 */

import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { ReadPosition } from "./readers.ts";
import type { WriterState } from "./writers.ts";

/** Counts of a run. In-shard records = written + failed. */
export interface RunCounts {
  /** Records read from the inputs (every shard). */
  read: number;
  /** Records written to the output. */
  written: number;
  /** Records that failed (one line each in `PREFIX.errors.jsonl`). */
  failed: number;
  /** Records of other shards (skipped unread). */
  otherShards: number;
  /** Tokens written. */
  tokens: number;
  /** Tokens with loss mask 1. */
  trainedTokens: number;
}

/** A checkpoint file's contents. */
export interface Checkpoint {
  /** Format version (1). */
  version: 1;
  /** The run's settings; a resume must use the same. */
  settings: Record<string, unknown>;
  /** The inputs and their sizes (a resume refuses changed inputs). */
  inputs: Array<{ path: string; size: number }>;
  /** Where reading stopped. */
  position: ReadPosition;
  /** Counts up to `position`. */
  counts: RunCounts;
  /** The output writer's state. */
  writer: WriterState;
  /** Byte length of the temporary errors file. */
  errorsLength: number;
}

/**
 * The checkpoint path of an output prefix.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { checkpointPath } from "./checkpoint.ts";
 * strictEqual(checkpointPath("out/train"), "out/train.checkpoint.json");
 * ```
 */
export function checkpointPath(prefix: string): string {
  return `${prefix}.checkpoint.json`;
}

/**
 * Writes a checkpoint atomically.
 *
 * @example
 * ```ts ignore
 * import { saveCheckpoint } from "./checkpoint.ts";
 * saveCheckpoint("out/train", checkpoint);
 * ```
 */
export function saveCheckpoint(prefix: string, cp: Checkpoint): void {
  const path = checkpointPath(prefix);
  writeFileSync(`${path}.tmp`, JSON.stringify(cp));
  renameSync(`${path}.tmp`, path);
}

/**
 * Reads the checkpoint of `prefix`, or undefined when there is none.
 *
 * @example
 * ```ts ignore
 * import { loadCheckpoint } from "./checkpoint.ts";
 * const cp = loadCheckpoint("out/train");
 * cp?.position.records;
 * ```
 */
export function loadCheckpoint(prefix: string): Checkpoint | undefined {
  const path = checkpointPath(prefix);
  if (!existsSync(path)) return undefined;
  let cp: Checkpoint;
  try {
    cp = JSON.parse(readFileSync(path, "utf8")) as Checkpoint;
  } catch (e) {
    throw new SyntaxError(`Cannot read checkpoint ${path}: ${e instanceof Error ? e.message : e}`, {
      cause: e,
    });
  }
  if (cp.version !== 1) {
    throw new SyntaxError(`Cannot read checkpoint ${path}: unsupported version ${cp.version}`);
  }
  return cp;
}

/**
 * Removes the checkpoint of `prefix`.
 *
 * @example
 * ```ts ignore
 * import { removeCheckpoint } from "./checkpoint.ts";
 * removeCheckpoint("out/train");
 * ```
 */
export function removeCheckpoint(prefix: string): void {
  rmSync(checkpointPath(prefix), { force: true });
}

/**
 * The inputs with their sizes, as a checkpoint records them.
 *
 * @example
 * ```ts ignore
 * import { describeInputs } from "./checkpoint.ts";
 * describeInputs(["chats.jsonl"]); // [{ path: "chats.jsonl", size: … }]
 * ```
 */
export function describeInputs(paths: readonly string[]): Array<{ path: string; size: number }> {
  return paths.map((path) => ({ path, size: statSync(path).size }));
}

/**
 * Why a checkpoint cannot be resumed with these settings and inputs, or undefined if it can.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { resumeMismatch } from "./checkpoint.ts";
 * const cp = { settings: { format: "jsonl" }, inputs: [] };
 * strictEqual(resumeMismatch(cp as never, { format: "bin" }, []), 'setting "format" was "jsonl", now "bin"');
 * ```
 */
export function resumeMismatch(
  cp: Checkpoint,
  settings: Record<string, unknown>,
  inputs: Array<{ path: string; size: number }>,
): string | undefined {
  for (const k of new Set([...Object.keys(cp.settings), ...Object.keys(settings)])) {
    const a = JSON.stringify(cp.settings[k]);
    const b = JSON.stringify(settings[k]);
    if (a !== b) return `setting "${k}" was ${a}, now ${b}`;
  }
  if (cp.inputs.length !== inputs.length) {
    return `${cp.inputs.length} inputs before, ${inputs.length} now`;
  }
  for (let i = 0; i < inputs.length; i++) {
    if (cp.inputs[i].path !== inputs[i].path || cp.inputs[i].size !== inputs[i].size) {
      return `input ${i + 1} changed (${cp.inputs[i].path}, ${cp.inputs[i].size} bytes)`;
    }
  }
  return undefined;
}
