/**
 * The `render-dataset` pipeline: read records → map to harmony JSON → `Conversation` → render
 * (tokens + spans) → loss mask → write. Streaming with bounded memory: a fixed number of batches
 * is in flight (one on the main thread; two per worker with `workers` > 1), and every writer
 * streams to disk. Records are rendered by {@link renderRecords} on the main thread or in worker
 * threads, and always written in input order, so the output is the same for every worker count.
 *
 * Nothing is lost: each record of this shard yields an output record or one line in
 * `PREFIX.errors.jsonl` (`{"record", "file", "line", "byte_offset", "reason"}`), and
 * `read = written + failed + skipped + otherShards` (skipped: dropped by `--overflow drop` or
 * `--skip-untrained`, counted in the summary; `otherShards` is 0: a shard reads only its part).
 *
 * Shards are contiguous (`shard.ts`): shard `i` of `n` reads only its byte range of the inputs
 * (`InputShard`), so `merge` of all shards is byte for byte the unsharded output. Positions in
 * the errors file are global: the first error of a shard counts the records before its range
 * once (a newline scan; gzip inputs before it are decompressed). A sharded run writes
 * `PREFIX.shard.json` (`shard_manifest.ts`) with its settings for `merge` to check. Resume
 * positions are positions inside the shard's range.
 *
 * Nothing is corrupted (the journal is `PREFIX.checkpoint.json`, see `checkpoint.ts`):
 * - one run per prefix: `PREFIX.lock` is taken first (`src/io/output_lock.ts`);
 * - a fresh run removes an old checkpoint before it touches any temporary file;
 * - outputs are written under temporary names; every `checkpointEvery` records the outputs are
 *   flushed and fsynced, then the checkpoint is written durably (once the batch ending at that
 *   record is written; later batches keep running meanwhile); a resume verifies each file's
 *   length and last block and the inputs' fingerprints, and refuses what it cannot verify;
 * - inputs that change while the run reads them are detected at each checkpoint;
 * - finalization (indexes, footers, renames) starts with a `finalizing` checkpoint, so a run
 *   killed in the middle of it is completed by `resume`;
 * - an aborted `signal` (SIGINT/SIGTERM in the CLI) drains the batches in flight, writes a
 *   checkpoint and returns `interrupted: true`.
 *
 * @module
 */

import { renameSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { AppendFile, syncDir, tempName } from "../io/durable_file.ts";
import { acquireOutputLock, type OutputLock } from "../io/output_lock.ts";
import {
  type Checkpoint,
  describeInputs,
  type FileMark,
  inputsChanged,
  markFile,
  openJournal,
  removeCheckpoint,
  type RunCounts,
  saveCheckpoint,
} from "./checkpoint.ts";
import type { TrainOn } from "./loss_mask.ts";
import type { HarmonyJsonConversation, InputFormat, MappingDefaults } from "./mapping.ts";
import { type InputRecord, InputShard, type ReadPosition, totalInputBytes } from "./readers.ts";
import { type Shard, WHOLE } from "./shard.ts";
import {
  inputsHash,
  settingsHash,
  type ShardManifest,
  VOCABULARY,
  writeShardManifest,
} from "./shard_manifest.ts";
import { createWriter, type DatasetWriter, type OutputFormat } from "./writers.ts";
import type { Conversation } from "../chat/message.ts";
import {
  type RawRecord,
  type RecordContext,
  type RecordOutcome,
  type RenderBatch,
  renderRecords,
} from "./record_batch.ts";
import { RenderWorkers } from "./render_workers.ts";
import { OrderedBatches } from "./ordered_batches.ts";
import { vocabularyTablesForWorkers } from "../tokenizer/vocabulary.ts";
import type { AnalysisPolicy } from "./analysis_policy.ts";
import {
  decideRecord,
  emptyPolicyCounts,
  type PolicyCounts,
  type RecordPolicyOptions,
} from "./record_policy.ts";

export type { RenderBatch, RenderResult } from "./record_batch.ts";

/** Progress counters reported while running. */
export interface PipelineProgress extends RunCounts {
  /** Input bytes read so far. */
  bytes: number;
  /** Records read before this run (from the checkpoint). */
  resumedFrom: number;
  /** Tokens written before this run (from the checkpoint). */
  resumedTokens: number;
}

/** Options of {@link renderDataset}. */
export interface RenderDatasetOptions {
  /** Input files (JSONL, JSONL.gz, Parquet), read in order. */
  inputs: readonly string[];
  /** Output prefix (files are `PREFIX.bin`, `PREFIX.jsonl`, … and `PREFIX.errors.jsonl`). */
  prefix: string;
  /** Output format (default `megatron`). */
  outputFormat?: OutputFormat;
  /** Input record format (default `auto`, per record). */
  inputFormat?: InputFormat;
  /** System/developer defaults for records without them. */
  defaults?: MappingDefaults;
  /** Which assistant messages get loss mask 1 (default `assistant`). */
  trainOn?: TrainOn;
  /** This run's shard (default: everything). */
  shard?: Shard;
  /** Continue from `PREFIX.checkpoint.json` if it exists (default false). */
  resume?: boolean;
  /** Harmony JSON → Conversation (the chat layer's `conversationFromJson`). */
  toConversation: (json: HarmonyJsonConversation) => Conversation;
  /** Renders a batch of conversations for training (on the main thread). */
  renderBatch: RenderBatch;
  /**
   * Worker threads rendering batches (default 1: everything on the main thread). With more,
   * each worker loads the training renderer itself (`loadTrainingRenderer` with
   * {@link RenderDatasetOptions.analysis}, CPU encoding) and `toConversation`/`renderBatch` are
   * not used.
   */
  workers?: number;
  /** The analysis policy the workers render with (default `reference`; see `analysis_policy.ts`). */
  analysis?: AnalysisPolicy;
  /** Length and untrained-record policies (`record_policy.ts`). */
  recordPolicy?: RecordPolicyOptions;
  /** Name of the mask column of JSONL and Parquet outputs (default `loss_mask`). */
  maskColumn?: string;
  /** Keep `null` fields of Parquet struct columns (default: a null field is an absent field). */
  keepNullFields?: boolean;
  /** Records per render batch (default 64). */
  batchSize?: number;
  /** Records read between checkpoints (default 8192). */
  checkpointEvery?: number;
  /** Extra settings a resume must match (e.g. `keepAnalysis`). */
  settings?: Record<string, unknown>;
  /** Called after every batch with the counts so far. */
  onProgress?: (p: PipelineProgress) => void;
  /**
   * Stops reading when aborted: the batches in flight are written, a checkpoint is taken, files
   * are closed without renaming, and the summary says `interrupted`; `resume` continues.
   */
  signal?: AbortSignal;
  /** Take `PREFIX.lock` for the run (default true). */
  lock?: boolean;
  /** Called after each output is renamed during finalization (tests simulate kills here). */
  onFinalizeRename?: (path: string) => void;
  /** Parquet row-group size in rows (tests use small ones). */
  rowGroupRows?: number;
}

/** The result of a run. */
export interface RenderDatasetSummary extends RunCounts, PolicyCounts {
  /** The output files (final names; temporary names if `interrupted`). */
  files: string[];
  /** The errors file. */
  errorsFile: string;
  /** Records read before this run started (from the checkpoint), 0 without resume. */
  resumedFrom: number;
  /** Tokens written before this run started (from the checkpoint), 0 without resume. */
  resumedTokens: number;
  /** Whether the run was aborted before completing. */
  interrupted: boolean;
  /** Input bytes. */
  inputBytes: number;
}

/** Renders batches of raw records somewhere (here, or in worker threads). */
interface BatchRunner {
  run(records: RawRecord[]): Promise<RecordOutcome[]>;
  close(): Promise<void>;
}

const START: ReadPosition = { records: 0, fileIndex: 0, line: 0, offset: 0 };

/** Where a checkpoint stands: the last record it covers and the records read up to it. */
interface CheckpointMark {
  position: ReadPosition;
  read: number;
}

/**
 * Renders a dataset. See the module doc for the guarantees.
 *
 * @throws {OutputLockedError} when another run holds `PREFIX.lock`.
 * @throws {RangeError} when a resume does not match its checkpoint, the temporary files are not
 * what the checkpoint recorded, or an input changed; otherwise when an input cannot be read.
 * @example
 * ```ts ignore
 * import { renderDataset } from "./pipeline.ts";
 * const summary = await renderDataset({
 *   inputs: ["chats.jsonl"], prefix: "out/train", toConversation, renderBatch,
 * });
 * summary.written + summary.failed; // records of this shard
 * ```
 */
export async function renderDataset(options: RenderDatasetOptions): Promise<RenderDatasetSummary> {
  const lock: OutputLock | undefined = options.lock === false
    ? undefined
    : acquireOutputLock(options.prefix);
  try {
    return await run(options);
  } finally {
    lock?.release();
  }
}

async function run(options: RenderDatasetOptions): Promise<RenderDatasetSummary> {
  const prefix = options.prefix;
  const format = options.outputFormat ?? "megatron";
  const inputFormat = options.inputFormat ?? "auto";
  const trainOn = options.trainOn ?? "assistant";
  const shard = options.shard ?? WHOLE;
  const defaults = options.defaults ?? {};
  const batchSize = options.batchSize ?? 64;
  const every = options.checkpointEvery ?? 8192;
  const workers = Math.max(1, Math.floor(options.workers ?? 1));
  const settings = {
    format,
    inputFormat,
    trainOn,
    shard: `${shard.index}/${shard.count}`,
    // Checkpoints of round-robin shards (before contiguous ones) count other records: refused.
    ...(shard.count > 1 ? { sharding: "contiguous" } : {}),
    defaults,
    ...options.settings,
  };
  const input = await InputShard.open(options.inputs, shard);
  const inputs = describeInputs(options.inputs);
  const manifest: ShardManifest | undefined = shard.count > 1
    ? {
      version: 1,
      command: "render-dataset",
      format,
      vocabulary: VOCABULARY,
      shard,
      settings: settingsHash({ ...settings, shard: undefined }),
      inputs: inputsHash(inputs),
      ...(format === "parquet" && options.rowGroupRows !== undefined
        ? { rowGroupRows: options.rowGroupRows }
        : {}),
    }
    : undefined;
  const inputBytes = await totalInputBytes(options.inputs);
  const errorsFile = `${prefix}.errors.jsonl`;
  const errorsTemp = tempName(errorsFile);

  const cp = openJournal<Checkpoint>(prefix, { resume: options.resume === true, settings, inputs });
  const counts: RunCounts & PolicyCounts = cp ? { ...emptyPolicyCounts(), ...cp.counts } : {
    ...emptyPolicyCounts(),
    read: 0,
    written: 0,
    failed: 0,
    otherShards: 0,
    tokens: 0,
    trainedTokens: 0,
  };
  const resumedFrom = counts.read;
  const resumedTokens = counts.tokens;
  const writer: DatasetWriter = createWriter(format, prefix, {
    resume: cp?.writer,
    rowGroupRows: options.rowGroupRows,
    maskColumn: options.maskColumn,
  });
  const errors = new AppendFile(errorsTemp, { truncateTo: cp?.errorsLength });
  let position: ReadPosition = cp?.position ?? START;
  let bytes = 0;
  if (cp) {
    // Bytes already done, for the progress estimate: whole files before the position (for a
    // shard, the part of them in its range).
    let at = 0;
    for (let i = 0; i < cp.position.fileIndex; i++) {
      const size = Math.max(0, inputs[i].size);
      const from = Math.max(at, input.range?.start ?? 0);
      const to = Math.min(at + size, input.range?.end ?? Infinity);
      bytes += Math.max(0, to - from);
      at += size;
    }
  }
  const progress = () => options.onProgress?.({ ...counts, bytes, resumedFrom, resumedTokens });

  // The errors file names records by their global index and line: a shard places its records
  // among all inputs at its first error (one scan of the inputs before its range, cached).
  const fail = async (rec: InputRecord, reason: string) => {
    counts.failed++;
    const at = input.located(rec) ?? await input.locate(rec);
    errors.writeText(
      JSON.stringify({
        record: at.index,
        file: rec.file,
        line: at.line,
        byte_offset: rec.byteOffset,
        reason,
      }) + "\n",
    );
  };

  // `at`: the last record written and the records read up to it (the position and read count
  // of a checkpoint taken while later batches are still in flight).
  const checkpoint = (
    finalizing: boolean,
    at: CheckpointMark = { position, read: counts.read },
  ) => {
    const changed = inputsChanged(inputs);
    if (changed) throw new RangeError(`Cannot render ${prefix}: ${changed} while it was read`);
    const state = writer.checkpoint();
    errors.sync();
    const files: FileMark[] = writer.tempFiles.map((p, i) =>
      markFile(p, state.lengths[i], writer.rewrittenHead[i])
    );
    files.push(markFile(errorsTemp, errors.length));
    saveCheckpoint(prefix, {
      version: 2,
      settings,
      inputs,
      position: at.position,
      counts: { ...counts, read: at.read },
      writer: state,
      errorsLength: errors.length,
      files,
      ...(finalizing ? { finalizing: true } : {}),
    });
  };

  const closeAll = () => {
    writer.close();
    errors.close();
  };

  if (cp?.finalizing) {
    try {
      finalize(writer, errors, errorsFile, prefix, manifest, options.onFinalizeRename);
    } catch (e) {
      closeAll();
      throw e;
    }
    return {
      ...counts,
      files: [...writer.files],
      errorsFile,
      resumedFrom,
      resumedTokens,
      interrupted: false,
      inputBytes,
    };
  }

  const context: RecordContext = {
    inputFormat,
    defaults,
    trainOn,
    toConversation: options.toConversation,
    renderBatch: options.renderBatch,
  };
  const runner: BatchRunner = workers > 1
    ? new RenderWorkers(workers, {
      inputFormat,
      defaults,
      trainOn,
      analysis: options.analysis ?? "reference",
      // One vocabulary for all threads (shared memory) where that pays (see the function).
      vocabulary: await vocabularyTablesForWorkers(),
    })
    : { run: (records) => renderRecords(records, context), close: () => Promise.resolve() };
  // One batch ahead on one thread: batch k+1 is read and handed to the engine (which packs it
  // while a GPU runs batch k) before batch k is awaited; outputs are still written in order.
  const maxInFlight = workers > 1 ? 2 * workers : 2;
  type InFlight = { recs: InputRecord[]; done: Promise<RecordOutcome[]> };

  const submit = (recs: InputRecord[]) => {
    if (recs.length === 0) return;
    const done = runner.run(recs.map((r) => ({ text: r.text, value: r.value, error: r.error })));
    done.catch(() => {}); // awaited in order by the queue; no unhandled rejection meanwhile
    queue.add({ recs, done });
  };
  const write = async (b: InFlight) => {
    const outcomes = await b.done;
    for (let i = 0; i < b.recs.length; i++) {
      const o = outcomes[i];
      if (o.reason !== undefined) {
        await fail(b.recs[i], o.reason);
        continue;
      }
      const d = decideRecord(o.mask, o.trained, o.analysis, options.recordPolicy ?? {}, counts);
      if (d.action === "fail") await fail(b.recs[i], d.reason);
      if (d.action !== "write") continue;
      const n = d.length;
      writer.write(
        n === o.tokens.length ? o.tokens : o.tokens.subarray(0, n),
        o.mask.subarray(0, n),
      );
      counts.written++;
      counts.tokens += n;
      counts.trainedTokens += d.trained;
    }
    progress();
  };
  // Written in input order; a checkpoint rides on the batch that ends at its position.
  const queue = new OrderedBatches<InFlight, CheckpointMark>(
    maxInFlight,
    write,
    (mark) => checkpoint(false, mark),
  );

  let batch: InputRecord[] = [];
  let sinceCheckpoint = 0;
  let interrupted = false;
  try {
    for await (
      const rec of input.records({
        start: cp ? position : undefined,
        onBytes: (n) => (bytes += n),
        keepNullFields: options.keepNullFields,
      })
    ) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      counts.read++;
      batch.push(rec);
      position = {
        records: rec.index + 1,
        fileIndex: rec.fileIndex,
        line: rec.line,
        offset: rec.byteOffset,
      };
      if (batch.length >= batchSize) {
        submit(batch);
        batch = [];
        await queue.settle();
      }
      if (++sinceCheckpoint >= every) {
        submit(batch);
        batch = [];
        // Every record read so far is in the batch just submitted.
        queue.markAfterLast({ position, read: counts.read });
        await queue.settle();
        sinceCheckpoint = 0;
      }
    }
    submit(batch);
    batch = [];
    await queue.drain();
    if (interrupted) {
      checkpoint(false);
      closeAll();
    } else {
      progress();
      checkpoint(true);
      finalize(writer, errors, errorsFile, prefix, manifest, options.onFinalizeRename);
    }
  } catch (e) {
    closeAll();
    throw e;
  } finally {
    await runner.close();
  }
  return {
    ...counts,
    files: interrupted ? [...writer.tempFiles] : [...writer.files],
    errorsFile: interrupted ? errorsTemp : errorsFile,
    resumedFrom,
    resumedTokens,
    interrupted,
    inputBytes,
  };
}

/**
 * Publishes a run whose every record is durable (a `finalizing` checkpoint exists): indexes and
 * footers into temporary files, the shard manifest, renames, directory fsync, checkpoint removal, scratch removal.
 * Each step can be repeated from the checkpoint.
 */
function finalize(
  writer: DatasetWriter,
  errors: AppendFile,
  errorsFile: string,
  prefix: string,
  manifest: ShardManifest | undefined,
  onRename?: (path: string) => void,
): void {
  const plan = writer.prepareFinish();
  errors.sync();
  errors.close();
  // Before the outputs appear: a published shard always has its manifest for `merge`.
  if (manifest) writeShardManifest(prefix, manifest);
  const renames = [...plan.renames, { from: errors.path, to: errorsFile }];
  for (const r of renames) {
    renameSync(r.from, r.to);
    onRename?.(r.to);
  }
  syncDir(dirname(prefix));
  removeCheckpoint(prefix);
  for (const f of plan.remove) rmSync(f, { force: true });
}
