/**
 * The checkpoint of a `render-dataset` run (`PREFIX.checkpoint.json`), its journal: how far the
 * input was read, the counts so far, and for every temporary output its byte length and the
 * hash of its last block at that point. It is written only after the outputs it describes were
 * flushed and fsynced, itself to a temporary name that is fsynced, renamed, and the directory
 * fsynced — so a killed run leaves outputs at least as long as its last checkpoint. `--resume`
 * verifies that (length and tail hash of every file, and the inputs' size, mtime and first and
 * last blocks), truncates the outputs to it and reads on from the recorded position; anything it
 * cannot verify is refused. A checkpoint marked `finalizing` records that every record was
 * written: a resume then only completes the finalization (indexes, footers, renames).
 *
 * @module
 */

import { existsSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import {
  finalName,
  HASH_BLOCK,
  hashRange,
  syncDir,
  tailHash,
  writeFileDurably,
} from "../io/durable_file.ts";
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
  /** Records of other shards: 0, since a contiguous shard reads only its own (`shard.ts`). */
  otherShards: number;
  /** Tokens written. */
  tokens: number;
  /** Tokens with loss mask 1. */
  trainedTokens: number;
}

/** An input as a checkpoint records it, to recognise it on resume. */
export interface InputFingerprint {
  /** The path as given. */
  path: string;
  /** Size in bytes (-1: not a regular file, e.g. a pipe). */
  size: number;
  /** Modification time in milliseconds. */
  mtimeMs: number;
  /** SHA-256 of the first {@link HASH_BLOCK} bytes. */
  head: string;
  /** SHA-256 of the last {@link HASH_BLOCK} bytes. */
  tail: string;
}

/** A temporary output as a checkpoint records it. */
export interface FileMark {
  /** The temporary file. */
  path: string;
  /** Its byte length at the checkpoint. */
  length: number;
  /** Where the hashed block may start (bytes before it are rewritten by finalization). */
  from: number;
  /** SHA-256 of its last block before `length` (see `tailHash`). */
  hash: string;
}

/**
 * What every job's checkpoint holds, whatever else it records (`render-dataset`'s
 * {@link Checkpoint}, `parse-dataset`'s in `src/evals/parse_dataset.ts`).
 */
export interface JournalBase {
  /** Format version (2). */
  version: 2;
  /** The run's settings; a resume must use the same. */
  settings: Record<string, unknown>;
  /** The inputs; a resume refuses changed inputs. */
  inputs: InputFingerprint[];
  /** Where reading stopped. */
  position: ReadPosition;
  /** Every temporary file with its length and tail hash. */
  files: FileMark[];
  /**
   * Every record is written; what remains is finalization (renames of `files` to their final
   * names, {@link finalName}); a resume completes it.
   */
  finalizing?: boolean;
}

/** A `render-dataset` checkpoint file's contents. */
export interface Checkpoint extends JournalBase {
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
 * Writes a checkpoint atomically and durably (temporary name, fsync, rename, directory fsync).
 * The caller fsyncs the files it describes first.
 *
 * @example
 * ```ts ignore
 * import { saveCheckpoint } from "./checkpoint.ts";
 * saveCheckpoint("out/train", checkpoint);
 * ```
 */
export function saveCheckpoint<T extends JournalBase>(prefix: string, cp: T): void {
  writeFileDurably(checkpointPath(prefix), JSON.stringify(cp));
}

/**
 * Reads the checkpoint of `prefix`, or undefined when there is none.
 *
 * @throws {SyntaxError} on an unreadable checkpoint or another version.
 * @example
 * ```ts ignore
 * import { loadCheckpoint } from "./checkpoint.ts";
 * const cp = loadCheckpoint("out/train");
 * cp?.position.records;
 * ```
 */
export function loadCheckpoint<T extends JournalBase = Checkpoint>(
  prefix: string,
): T | undefined {
  const path = checkpointPath(prefix);
  if (!existsSync(path)) return undefined;
  let cp: T;
  try {
    cp = JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (e) {
    throw new SyntaxError(`Cannot read checkpoint ${path}: ${e instanceof Error ? e.message : e}`, {
      cause: e,
    });
  }
  if (cp.version !== 2) {
    throw new SyntaxError(`Cannot read checkpoint ${path}: unsupported version ${cp.version}`);
  }
  return cp;
}

/**
 * Removes the checkpoint of `prefix`, durably (the directory is fsynced).
 *
 * @example
 * ```ts ignore
 * import { removeCheckpoint } from "./checkpoint.ts";
 * removeCheckpoint("out/train");
 * ```
 */
export function removeCheckpoint(prefix: string): void {
  const path = checkpointPath(prefix);
  if (!existsSync(path)) return;
  rmSync(path, { force: true });
  syncDir(dirname(path));
}

/**
 * Fingerprints the inputs: size, mtime, and hashes of the first and last blocks. Inputs that
 * are not regular files (pipes, `/dev/stdin`) get size -1 and no hashes: they cannot be
 * re-read, so a run over them cannot be resumed.
 *
 * @example
 * ```ts ignore
 * import { describeInputs } from "./checkpoint.ts";
 * describeInputs(["chats.jsonl"]); // [{ path: "chats.jsonl", size: …, mtimeMs: …, … }]
 * ```
 */
export function describeInputs(paths: readonly string[]): InputFingerprint[] {
  return paths.map((path) => {
    const st = statSync(path);
    if (!st.isFile()) return { path, size: -1, mtimeMs: 0, head: "", tail: "" };
    return {
      path,
      size: st.size,
      mtimeMs: st.mtimeMs,
      head: hashRange(path, 0, HASH_BLOCK),
      tail: hashRange(path, Math.max(0, st.size - HASH_BLOCK), st.size),
    };
  });
}

/**
 * Why the inputs differ from their fingerprints (size or mtime, by `stat` only: cheap enough
 * for every checkpoint), or undefined when they look the same.
 *
 * @example
 * ```ts ignore
 * import { describeInputs, inputsChanged } from "./checkpoint.ts";
 * const before = describeInputs(["a.jsonl"]);
 * inputsChanged(before); // undefined while a.jsonl is untouched
 * ```
 */
export function inputsChanged(inputs: readonly InputFingerprint[]): string | undefined {
  for (const f of inputs) {
    if (f.size < 0) continue;
    let st;
    try {
      st = statSync(f.path);
    } catch {
      return `input ${f.path} is gone`;
    }
    if (st.size !== f.size) return `input ${f.path} was ${f.size} bytes, now ${st.size}`;
    if (st.mtimeMs !== f.mtimeMs) return `input ${f.path} was modified`;
  }
  return undefined;
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
  cp: JournalBase,
  settings: Record<string, unknown>,
  inputs: readonly InputFingerprint[],
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
    const was = cp.inputs[i];
    const now = inputs[i];
    const where = `input ${i + 1} (${now.path.slice(-48)})`;
    if (was.path !== now.path) return `${where} was ${was.path.slice(-48)}`;
    if (now.size < 0) return `${where} is not a regular file and cannot be re-read`;
    if (was.size !== now.size) return `${where} was ${was.size} bytes, now ${now.size}`;
    if (was.mtimeMs !== now.mtimeMs) return `${where} was modified since the checkpoint`;
    if (was.head !== now.head || was.tail !== now.tail) {
      return `${where} has other content than at the checkpoint`;
    }
  }
  return undefined;
}

/**
 * Marks a temporary file for a checkpoint: its length and the hash of its last block.
 *
 * @example
 * ```ts ignore
 * import { markFile } from "./checkpoint.ts";
 * markFile("out/train.bin.tmp", 4096);
 * ```
 */
export function markFile(path: string, length: number, from = 0): FileMark {
  return { path, length, from, hash: tailHash(path, length, from) };
}

/**
 * Why the temporary files do not hold what the checkpoint recorded (missing, shorter, or
 * another last block), or undefined when every one does.
 *
 * @example
 * ```ts ignore
 * import { loadCheckpoint, verifyFiles } from "./checkpoint.ts";
 * verifyFiles(loadCheckpoint("out/train")!.files); // undefined when resumable
 * ```
 */
export function verifyFiles(files: readonly FileMark[]): string | undefined {
  for (const f of files) {
    let size;
    try {
      size = statSync(f.path).size;
    } catch {
      return `${f.path} is gone`;
    }
    if (size < f.length) {
      return `${f.path} has ${size} bytes, the checkpoint recorded ${f.length}`;
    }
    if (tailHash(f.path, f.length, f.from) !== f.hash) {
      return `${f.path} does not hold the bytes the checkpoint recorded`;
    }
  }
  return undefined;
}

/** Options of {@link openJournal}. */
export interface OpenJournalOptions {
  /** Continue from the checkpoint if there is one (else: a fresh run). */
  resume: boolean;
  /** This run's settings (a resume must match the checkpoint's). */
  settings: Record<string, unknown>;
  /** This run's inputs, from {@link describeInputs}. */
  inputs: readonly InputFingerprint[];
}

/**
 * Starts a job on `prefix` from its journal, the one rule for every checkpointed job:
 * - a fresh run (`resume` false) removes an old checkpoint first, so it cannot outlive the
 *   temporary files the run is about to truncate;
 * - a resume refuses inputs that cannot be re-read (pipes), other settings, changed inputs, and
 *   temporary files shorter than, or with another last block than, the checkpoint recorded;
 * - a resume of a run killed while finalizing first renames back what was already published
 *   (`files` are temporary names), so the caller finalizes again from the checkpoint.
 *
 * @returns the checkpoint to continue from, or undefined (start from the beginning).
 * @throws {RangeError} `Cannot resume PREFIX: why` when a resume cannot be verified.
 * @throws {SyntaxError} when the checkpoint cannot be read.
 * @example
 * ```ts ignore
 * import { describeInputs, openJournal } from "./checkpoint.ts";
 * const cp = openJournal("out/train", { resume: true, settings, inputs: describeInputs(paths) });
 * cp?.position; // where to read on from
 * ```
 */
export function openJournal<T extends JournalBase>(
  prefix: string,
  options: OpenJournalOptions,
): T | undefined {
  if (!options.resume) {
    removeCheckpoint(prefix);
    return undefined;
  }
  const refuse = (why: string) => new RangeError(`Cannot resume ${prefix}: ${why}`);
  const pipe = options.inputs.find((f) => f.size < 0);
  if (pipe) throw refuse(`input ${pipe.path} is not a regular file and cannot be re-read`);
  const cp = loadCheckpoint<T>(prefix);
  if (!cp) return undefined;
  const why = resumeMismatch(cp, options.settings, options.inputs);
  if (why) throw refuse(why);
  if (cp.finalizing) {
    // Killed while publishing: take back what was renamed, then finalize again.
    for (const f of cp.files) {
      const final = finalName(f.path);
      if (!existsSync(f.path) && existsSync(final)) renameSync(final, f.path);
    }
  }
  const bad = verifyFiles(cp.files);
  if (bad) throw refuse(bad);
  return cp;
}
