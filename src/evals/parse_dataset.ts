/**
 * The `parse-dataset` pipeline: streams eval records (JSONL, JSONL.gz, Parquet) through
 * {@link parseRecords} (`./parse_batch.ts`) on the main thread or in worker threads, and writes
 * one JSONL line per sample, in input order, under a temporary name renamed at the end. Memory
 * is bounded: a fixed number of batches in flight (one on the main thread, two per worker) plus
 * a 1 MiB output buffer.
 *
 * Nothing is lost or corrupted, with the same rules as `render-dataset` (`src/dataset/pipeline.ts`;
 * the journal is `OUT.checkpoint.json`, see `src/dataset/checkpoint.ts`):
 * - one run per output: `OUT.lock` is taken first (`src/io/output_lock.ts`);
 * - a fresh run removes an old checkpoint before it truncates `OUT.tmp`;
 * - every `checkpointEvery` records the output is fsynced, then the checkpoint (read position,
 *   output length and last-block hash, input fingerprints, the statistics so far) is written
 *   durably, once the batch ending at that record is written (later batches keep running);
 *   `resume` verifies all of it and refuses what it cannot verify;
 * - inputs that change while the run reads them are detected at each checkpoint;
 * - the final rename starts with a `finalizing` checkpoint, so a run killed around it is
 *   completed by `resume`;
 * - an aborted `signal` (SIGINT/SIGTERM in the CLI) drains the batches in flight, writes a
 *   checkpoint and returns `interrupted: true`.
 *
 * @module
 */

import { existsSync, renameSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type { Role } from "../chat/role.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import { type InputRecord, InputShard, type ReadPosition } from "../dataset/readers.ts";
import { type Shard, WHOLE } from "../dataset/shard.ts";
import { parseFieldPath } from "./field_path.ts";
import {
  inputsHash,
  settingsHash,
  VOCABULARY,
  writeShardManifest,
} from "../dataset/shard_manifest.ts";
import {
  checkpointPath,
  describeInputs,
  inputsChanged,
  type JournalBase,
  markFile,
  openJournal,
  removeCheckpoint,
  saveCheckpoint,
} from "../dataset/checkpoint.ts";
import { OrderedBatches } from "../dataset/ordered_batches.ts";
import { WorkerPool } from "../dataset/worker_pool.ts";
import { vocabularyTablesForWorkers } from "../tokenizer/vocabulary.ts";
import { AppendFile, syncDir, tempName } from "../io/durable_file.ts";
import { acquireOutputLock } from "../io/output_lock.ts";
import type { Backend } from "../engine/backend.ts";
import { CpuBackend } from "../engine/cpu_backend.ts";
import type { RecoverMode } from "./salvage.ts";
import {
  type PackedEvalRecords,
  type PackedSamples,
  packEvalRecords,
  type ParsedSample,
  parseRecords,
  type ParseSettings,
  type RawEvalRecord,
  unpackSamples,
} from "./parse_batch.ts";
import {
  type ParseDatasetStats,
  StatsCollector,
  type StatsRateBase,
  type StatsSnapshot,
} from "./stats.ts";

/** Counters passed to {@link ParseDatasetOptions.onProgress}. */
export interface ParseDatasetProgress {
  /** Records read (this shard's). */
  read: number;
  /** Samples written. */
  records: number;
  /** Samples with status `error`. */
  failed: number;
  /** Tokens parsed. */
  tokens: number;
  /** Raw input bytes read (this run). */
  bytes: number;
  /** Records read before this run (a resume's checkpoint), 0 otherwise. */
  resumedRead: number;
  /** Tokens parsed before this run, 0 otherwise. */
  resumedTokens: number;
}

/** Options of {@link parseDataset}. */
export interface ParseDatasetOptions {
  /** Input files, read in order. */
  inputs: readonly string[];
  /** Output JSONL path (gzip-compressed when it ends in `.gz`). */
  out: string;
  /** The o200k_harmony tokenizer. */
  tokenizer: Tokenizer;
  /** Role the completions start inside (default `"assistant"`; `null`: with `<|start|>`). */
  role?: Role | null;
  /** The completion's field path (default: detected per record, see `input_shape.ts`). */
  field?: string;
  /** Salvage malformed messages as the reference (`first`, default) or all (`recover.ts`). */
  recover?: RecoverMode;
  /** Recover stripped text (default true; `stripped.ts`). */
  stripped?: boolean;
  /** The shard to process (default: everything). */
  shard?: Shard;
  /**
   * Conversions added to each line (`conversions.ts`): `openai` (the chat-completions message)
   * and `responses` (the Responses output items); ids use the prefix `<record>_<sample>`.
   */
  emit?: readonly ("openai" | "responses")[];
  /**
   * Batch backend for encoding text completions (`allowedSpecial: "all"`) and strict parsing
   * (an `Engine` from `openBackend`); results are the CPU's whatever runs them, so the output
   * does not depend on the backend. Default: the CPU backend over `tokenizer`. Not used with
   * `workers` > 1 (each worker parses on its own CPU backend).
   */
  engine?: Backend;
  /**
   * Worker threads parsing batches (default 1: everything on the main thread). Output,
   * statistics and checkpoints are the same for every count, and a run may resume with another.
   */
  workers?: number;
  /**
   * Records per batch (default 2048 on the main thread, 256 per worker batch; a batch also ends
   * at 8 MiB of JSONL text).
   */
  batchSize?: number;
  /** Continue from `OUT.checkpoint.json` if it exists (default false). */
  resume?: boolean;
  /** Records read between checkpoints (default 8192). */
  checkpointEvery?: number;
  /**
   * Stops reading when aborted: the batches in flight are written, a checkpoint is taken, the
   * output stays under its temporary name, and the summary says `interrupted`; `resume`
   * continues.
   */
  signal?: AbortSignal;
  /** Take `OUT.lock` for the run (default true). */
  lock?: boolean;
  /** Called after the output is renamed to its final name (tests simulate kills here). */
  onFinalizeRename?: (path: string) => void;
  /** Called after every batch written (throttle on the receiving side). */
  onProgress?: (p: ParseDatasetProgress) => void;
  /** Clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

/** The result of {@link parseDataset}. */
export interface ParseDatasetSummary {
  /** The run's statistics (a resumed run: of the whole run, rates of this part only). */
  stats: ParseDatasetStats;
  /** Whether the run was aborted before completing. */
  interrupted: boolean;
  /** Records read before this run started (from the checkpoint), 0 without resume. */
  resumedFrom: number;
  /** The output file: `out`, or its temporary name if `interrupted`. */
  file: string;
  /** The statistics collector's state (`merge` combines the shards' into the whole run's). */
  snapshot: StatsSnapshot;
}

/** The temporary name the output is written under until the run completes (`tempName`). */
export function partialName(out: string): string {
  return tempName(out);
}

/** The checkpoint of a `parse-dataset` run. */
interface ParseCheckpoint extends JournalBase {
  /** Byte length of the temporary output. */
  outputLength: number;
  /** The statistics up to `position`. */
  stats: StatsSnapshot;
  /** The progress counters up to `position` (without `bytes`). */
  progress: { read: number; records: number; failed: number; tokens: number };
}

const START: ReadPosition = { records: 0, fileIndex: 0, line: 0, offset: 0 };

/** Where a checkpoint stands: the last record it covers and the records read up to it. */
interface CheckpointMark {
  position: ReadPosition;
  read: number;
}
const BATCH_TEXT = 1 << 23;

/** Parses batches somewhere (here, or in worker threads). */
interface BatchRunner {
  run(records: RawEvalRecord[]): Promise<ParsedSample[]>;
  close(): Promise<void>;
}

/**
 * Parses a dataset of sampled completions into eval results (see `completion.ts` for the fields'
 * rules and docs/parse-dataset.md for the format). A record that cannot be read still gets its
 * output line (`status: "error"`, `error` naming the record, its file and line), so output line
 * *k* always belongs to the shard's input sample *k*. See the module doc for the guarantees.
 *
 * @returns the run's statistics, and whether it was interrupted.
 * @throws {OutputLockedError} when another run holds `OUT.lock`.
 * @throws {RangeError} when a resume does not match its checkpoint, the temporary output is not
 * what the checkpoint recorded, or an input changed; otherwise when an input cannot be opened or
 * is corrupt as a whole (gzip, Parquet), or the output cannot be written.
 * @example
 * ```ts ignore
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { parseDataset } from "./parse_dataset.ts";
 * const { stats } = await parseDataset({
 *   inputs: ["samples.jsonl.gz"], out: "results.jsonl", tokenizer: await loadTokenizer(),
 * });
 * console.log(stats.status, stats.tokens_per_second);
 * ```
 */
export async function parseDataset(options: ParseDatasetOptions): Promise<ParseDatasetSummary> {
  const lock = options.lock === false ? undefined : acquireOutputLock(options.out);
  try {
    return await run(options);
  } finally {
    lock?.release();
  }
}

async function run(options: ParseDatasetOptions): Promise<ParseDatasetSummary> {
  const { tokenizer, out } = options;
  const shard = options.shard ?? WHOLE;
  // Shard i reads only its part of the inputs (contiguous shards, `shard.ts`). Record indexes and
  // lines name errors, statistics examples and --emit ids; a shard not at the inputs' start
  // places itself among them (one scan before its range) when a batch first needs that.
  const input = await InputShard.open(options.inputs, shard);
  const role = options.role === undefined ? "assistant" : options.role;
  const now = options.now ?? (() => performance.now());
  const workers = Math.max(1, Math.floor(options.workers ?? 1));
  const batchSize = Math.max(1, options.batchSize ?? (workers > 1 ? 256 : 2048));
  const every = Math.max(1, options.checkpointEvery ?? 8192);
  const gzip = out.endsWith(".gz");
  const parse: ParseSettings = {
    role,
    field: options.field,
    recover: options.recover ?? "first",
    stripped: options.stripped !== false,
    emit: [...(options.emit ?? [])],
  };
  const settings = {
    command: "parse-dataset",
    ...parse,
    field: parse.field ?? null,
    shard: `${shard.index}/${shard.count}`,
    gzip,
  };
  const inputs = describeInputs(options.inputs);
  const cp = openJournal<ParseCheckpoint>(out, {
    resume: options.resume === true,
    settings,
    inputs,
  });
  const started = now();
  const temp = partialName(out);
  const stats = cp ? StatsCollector.fromSnapshot(cp.stats) : new StatsCollector();
  const base: StatsRateBase | undefined = cp
    ? { records: cp.stats.records, samples: cp.stats.samples, tokens: cp.stats.tokens }
    : undefined;
  const file = new AppendFile(temp, { gzip, truncateTo: cp?.outputLength });
  const progress: ParseDatasetProgress = {
    ...(cp?.progress ?? { read: 0, records: 0, failed: 0, tokens: 0 }),
    bytes: 0,
    resumedRead: cp?.progress.read ?? 0,
    resumedTokens: cp?.progress.tokens ?? 0,
  };
  if (cp) {
    // Bytes of the files already done, for the progress estimate.
    for (let i = 0; i < cp.position.fileIndex; i++) progress.bytes += Math.max(0, inputs[i].size);
  }
  let position: ReadPosition = cp?.position ?? START;
  const summary = (interrupted: boolean): ParseDatasetSummary => ({
    stats: stats.result(
      (now() - started) / 1000,
      progress.read,
      `${shard.index}/${shard.count}`,
      base,
    ),
    interrupted,
    resumedFrom: progress.resumedRead,
    file: interrupted ? temp : out,
    snapshot: stats.snapshot(),
  });

  // `at`: the last record written and the records read up to it (the position and read count
  // of a checkpoint taken while later batches are still in flight).
  const checkpoint = (
    finalizing: boolean,
    at: CheckpointMark = { position, read: progress.read },
  ) => {
    const changed = inputsChanged(inputs);
    if (changed) throw new RangeError(`Cannot parse ${out}: ${changed} while it was read`);
    file.sync();
    const { records, failed, tokens } = progress;
    const read = at.read;
    saveCheckpoint<ParseCheckpoint>(out, {
      version: 2,
      settings,
      inputs,
      position: at.position,
      files: [markFile(temp, file.length)],
      outputLength: file.length,
      stats: stats.snapshot(),
      progress: { read, records, failed, tokens },
      ...(finalizing ? { finalizing: true } : {}),
    });
  };

  const finalize = () => {
    file.close();
    // Before the output appears: a published shard always has its manifest for `merge`.
    if (shard.count > 1) {
      writeShardManifest(out.replace(/\.jsonl(\.gz)?$/, ""), {
        version: 1,
        command: "parse-dataset",
        format: gzip ? "jsonl.gz" : "jsonl",
        bytes: file.length,
        vocabulary: VOCABULARY,
        shard,
        settings: settingsHash({ ...settings, shard: undefined }),
        inputs: inputsHash(inputs),
        ...(gzip
          ? {
            gzipMembers: {
              checkpointEvery: every,
              samples: parse.field !== undefined && parseFieldPath(parse.field).wildcard >= 0,
            },
          }
          : {}),
      });
    }
    renameSync(temp, out);
    options.onFinalizeRename?.(out);
    syncDir(dirname(out));
    removeCheckpoint(out);
  };

  if (cp?.finalizing) {
    finalize();
    return summary(false);
  }

  const vocabulary = workers > 1 ? await vocabularyTablesForWorkers() : undefined;
  const runner: BatchRunner = workers > 1
    ? (() => {
      // Batches cross the thread boundary packed (`parse_batch.ts`): one string and a few typed
      // arrays each way instead of an object per record and per sample.
      // The workers read this thread's vocabulary (shared memory) where that pays.
      const pool = new WorkerPool<PackedEvalRecords, PackedSamples>(
        new URL("./parse_worker.ts", import.meta.url),
        { ...parse, vocabulary },
        workers,
      );
      return {
        run: async (recs) => unpackSamples(await pool.run(packEvalRecords(recs)), recs),
        close: () => pool.close(),
      };
    })()
    : (() => {
      const ctx = { ...parse, tokenizer, engine: options.engine ?? new CpuBackend(tokenizer) };
      return { run: (recs) => parseRecords(recs, ctx), close: () => Promise.resolve() };
    })();
  // One batch ahead on one thread: batch k+1 is handed to the engine (which packs it while a GPU
  // runs batch k) before batch k is awaited; lines are still written in order.
  const maxInFlight = workers > 1 ? 2 * workers : 2;
  /** A batch in flight; `unplaced` keeps its records when it was read before the shard was placed. */
  type InFlight = { done: Promise<ParsedSample[]>; unplaced?: InputRecord[] };
  // Nothing is before the whole input or the first shard: their positions are global.
  let placed = input.range === undefined || input.range.start === 0;
  const raw = (rec: InputRecord): RawEvalRecord => {
    const at = input.located(rec) ?? { index: rec.index, line: rec.line };
    const { file: f, text, value, error } = rec;
    return { index: at.index, file: f, line: at.line, text, value, error };
  };

  const submit = (recs: InputRecord[]) => {
    if (recs.length === 0) return;
    const done = runner.run(recs.map(raw));
    done.catch(() => {}); // awaited in order by the queue; no unhandled rejection meanwhile
    queue.add(placed ? { done } : { done, unplaced: recs });
  };
  const write = async (entry: InFlight) => {
    let samples = await entry.done;
    if (entry.unplaced && samples.some(namesPosition)) {
      // The batch names its records (an error, a recovery, a tool call's example) by positions
      // local to the shard: place the shard among all inputs, then parse the batch again.
      await input.place();
      placed = true;
      samples = await runner.run(entry.unplaced.map(raw));
    }
    for (const s of samples) {
      stats.add(s.stats, s.tokens, s.where);
      file.writeText(s.line + "\n");
      progress.records++;
      progress.tokens += s.tokens;
      if (s.stats.status === "error") progress.failed++;
    }
    options.onProgress?.(progress);
  };
  // Written in input order; a checkpoint rides on the batch that ends at its position.
  const queue = new OrderedBatches<InFlight, CheckpointMark>(
    maxInFlight,
    write,
    (mark) => checkpoint(false, mark),
  );

  let batch: InputRecord[] = [];
  let batchText = 0;
  let sinceCheckpoint = 0;
  let interrupted = false;
  try {
    if ((parse.emit?.length ?? 0) > 0) {
      // --emit ids name every record: place the shard before the first batch.
      await input.place();
      placed = true;
    }
    const records = input.records({
      start: cp ? position : undefined,
      onBytes: (b) => void (progress.bytes += b),
    });
    for await (const rec of records) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      progress.read++;
      position = {
        records: rec.index + 1,
        fileIndex: rec.fileIndex,
        line: rec.line,
        offset: rec.byteOffset,
      };
      if (++sinceCheckpoint >= every) {
        // After this record is handled (below); a checkpoint never splits a record's samples.
        sinceCheckpoint = -1;
      }
      batch.push(rec);
      batchText += rec.text?.length ?? 0;
      if (batch.length >= batchSize || batchText >= BATCH_TEXT) {
        submit(batch);
        batch = [];
        batchText = 0;
        await queue.settle();
      }
      if (sinceCheckpoint < 0) {
        submit(batch);
        batch = [];
        batchText = 0;
        // Every record read so far is in the batch just submitted.
        queue.markAfterLast({ position, read: progress.read });
        await queue.settle();
        sinceCheckpoint = 0;
      }
    }
    submit(batch);
    batch = [];
    await queue.drain();
    if (interrupted) {
      checkpoint(false);
      file.close();
    } else {
      checkpoint(true);
      finalize();
    }
  } catch (e) {
    file.close();
    // Without a checkpoint the temporary output can never be resumed: remove it.
    if (!existsSync(checkpointPath(out))) rmSync(temp, { force: true });
    throw e;
  } finally {
    await runner.close();
  }
  return summary(interrupted);
}

/** Whether a sample's line or statistics name its record's position. */
function namesPosition(s: ParsedSample): boolean {
  return s.stats.status !== "ok" || s.stats.tool_calls.length > 0;
}

// One rule names every per-shard file (outputs, `--stats`) of both dataset commands.
export { shardOutputPath } from "../dataset/shard.ts";
