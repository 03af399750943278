/**
 * The `render-dataset` pipeline: read records → map to harmony JSON → `Conversation` → render
 * (tokens + spans, injected) → loss mask → write. Streaming with bounded memory: at most one
 * batch of records is held at a time, and every writer streams to disk.
 *
 * Nothing is lost: each record of this shard yields an output record or one line in
 * `PREFIX.errors.jsonl` (`{"record", "file", "line", "byte_offset", "reason"}`), and
 * `read = written + failed + skipped + otherShards`. Outputs are written under temporary names, renamed
 * when the run completes; a checkpoint every `checkpointEvery` records lets `resume` continue a
 * killed run without duplicating records.
 *
 * @module
 */

import { existsSync, renameSync } from "node:fs";
import type { Conversation } from "../chat/message.ts";
import { AppendFile } from "./_append_file.ts";
import {
  type Checkpoint,
  describeInputs,
  loadCheckpoint,
  removeCheckpoint,
  resumeMismatch,
  type RunCounts,
  saveCheckpoint,
} from "./checkpoint.ts";
import { fillLossMask, type MaskSpan, type TrainOn } from "./loss_mask.ts";
import {
  type HarmonyJsonConversation,
  type InputFormat,
  type MappingDefaults,
  recordToHarmonyJson,
} from "./mapping.ts";
import { type InputRecord, type ReadPosition, readRecords, totalInputBytes } from "./readers.ts";
import { inShard, type Shard, WHOLE } from "./shard.ts";
import { createWriter, type DatasetWriter, type OutputFormat, tempName } from "./writers.ts";
import { parseRecordText } from "./record_json.ts";
import type { AnalysisCounts } from "./analysis_policy.ts";
import {
  decideRecord,
  emptyPolicyCounts,
  type PolicyCounts,
  type RecordPolicyOptions,
} from "./record_policy.ts";

/** What rendering one conversation gives. */
export interface RenderResult {
  /** The tokens (training rendering). */
  tokens: Uint32Array;
  /** One span per rendered message. */
  spans: readonly MaskSpan[];
  /** Analysis messages dropped and kept by the renderer's policy. */
  analysis?: AnalysisCounts;
}

/** Renders conversations in a batch; a failed conversation gives its `Error`. */
export type RenderBatch = (
  conversations: readonly Conversation[],
) => Array<RenderResult | Error> | Promise<Array<RenderResult | Error>>;

/** Progress counters reported while running. */
export interface PipelineProgress extends RunCounts {
  /** Input bytes read so far. */
  bytes: number;
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
  /** Renders a batch of conversations for training. */
  renderBatch: RenderBatch;
  /** Records per render batch (default 64). */
  batchSize?: number;
  /** Records read between checkpoints (default 8192). */
  checkpointEvery?: number;
  /** Extra settings a resume must match (e.g. `keepAnalysis`). */
  settings?: Record<string, unknown>;
  /** Called after every batch with the counts so far. */
  onProgress?: (p: PipelineProgress) => void;
  /**
   * Stops reading when aborted, as a kill would: files are closed without a checkpoint and
   * without renaming, so a later `resume` continues from the last checkpoint.
   */
  signal?: AbortSignal;
  /** Parquet row-group size in rows (tests use small ones). */
  rowGroupRows?: number;
  /** Length and untrained-record policies (`record_policy.ts`). */
  recordPolicy?: RecordPolicyOptions;
  /** Name of the mask column of JSONL and Parquet outputs (default `loss_mask`). */
  maskColumn?: string;
  /** Keep `null` fields of Parquet struct columns (default: a null field is an absent field). */
  keepNullFields?: boolean;
}

/** The result of a run. */
export interface RenderDatasetSummary extends RunCounts, PolicyCounts {
  /** The output files (final names; temporary names if `interrupted`). */
  files: string[];
  /** The errors file. */
  errorsFile: string;
  /** Records read before this run started (from the checkpoint), 0 without resume. */
  resumedFrom: number;
  /** Whether the run was aborted before completing. */
  interrupted: boolean;
  /** Input bytes. */
  inputBytes: number;
}

interface Pending {
  rec: InputRecord;
  conversation: Conversation;
}

/**
 * Renders a dataset. See the module doc for the guarantees.
 *
 * @throws when an input cannot be read as a whole, or a resume does not match its checkpoint.
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
  const prefix = options.prefix;
  const format = options.outputFormat ?? "megatron";
  const inputFormat = options.inputFormat ?? "auto";
  const trainOn = options.trainOn ?? "assistant";
  const shard = options.shard ?? WHOLE;
  const defaults = options.defaults ?? {};
  const batchSize = options.batchSize ?? 64;
  const every = options.checkpointEvery ?? 8192;
  const settings = {
    format,
    inputFormat,
    trainOn,
    shard: `${shard.index}/${shard.count}`,
    defaults,
    ...options.settings,
  };
  const inputs = describeInputs(options.inputs);
  const inputBytes = await totalInputBytes(options.inputs);
  const errorsFile = `${prefix}.errors.jsonl`;

  let cp: Checkpoint | undefined;
  if (options.resume) {
    cp = loadCheckpoint(prefix);
    if (cp) {
      const why = resumeMismatch(cp, settings, inputs);
      if (why) throw new RangeError(`Cannot resume ${prefix}: ${why}`);
      if (!existsSync(tempName(errorsFile))) {
        throw new RangeError(`Cannot resume ${prefix}: its temporary files are gone`);
      }
    }
  }
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
  const writer: DatasetWriter = createWriter(format, prefix, {
    resume: cp?.writer,
    rowGroupRows: options.rowGroupRows,
    maskColumn: options.maskColumn,
  });
  const errors = new AppendFile(tempName(errorsFile), cp?.errorsLength);
  let position: ReadPosition | undefined = cp?.position;
  let bytes = 0;
  if (cp) {
    // Bytes of the files already done, for the progress estimate.
    for (let i = 0; i < cp.position.fileIndex; i++) bytes += inputs[i].size;
  }
  const progress = () => options.onProgress?.({ ...counts, bytes });

  const fail = (rec: InputRecord, reason: string) => {
    counts.failed++;
    errors.writeText(
      JSON.stringify({
        record: rec.index,
        file: rec.file,
        line: rec.line,
        byte_offset: rec.byteOffset,
        reason,
      }) + "\n",
    );
  };

  let mask = new Uint8Array(4096);
  const flushBatch = async (batch: Pending[]) => {
    if (batch.length === 0) return;
    let results: Array<RenderResult | Error>;
    try {
      results = await options.renderBatch(batch.map((p) => p.conversation));
    } catch {
      // The batch as a whole failed: render one by one so that only the bad record fails.
      results = [];
      for (const p of batch) {
        try {
          results.push((await options.renderBatch([p.conversation]))[0]);
        } catch (e) {
          results.push(e instanceof Error ? e : new Error(String(e)));
        }
      }
    }
    for (let i = 0; i < batch.length; i++) {
      const r = results[i];
      const rec = batch[i].rec;
      if (r instanceof Error || r === undefined) {
        fail(rec, `Cannot render record: ${r?.message ?? "no result"}`);
        continue;
      }
      if (mask.length < r.tokens.length) mask = new Uint8Array(r.tokens.length * 2);
      const m = mask.subarray(0, r.tokens.length);
      let ones: number;
      try {
        ones = fillLossMask(m, r.spans, trainOn);
      } catch (e) {
        fail(rec, e instanceof Error ? e.message : String(e));
        continue;
      }
      const d = decideRecord(m, ones, r.analysis, options.recordPolicy ?? {}, counts);
      if (d.action === "fail") fail(rec, d.reason);
      if (d.action !== "write") continue;
      const n = d.length;
      writer.write(n === r.tokens.length ? r.tokens : r.tokens.subarray(0, n), m.subarray(0, n));
      counts.written++;
      counts.tokens += n;
      counts.trainedTokens += d.trained;
    }
  };

  const checkpoint = () => {
    if (!position) return;
    errors.flush();
    saveCheckpoint(prefix, {
      version: 1,
      settings,
      inputs,
      position,
      counts,
      writer: writer.checkpoint(),
      errorsLength: errors.length,
    });
  };

  let batch: Pending[] = [];
  let sinceCheckpoint = 0;
  let interrupted = false;
  try {
    for await (
      const rec of readRecords(options.inputs, {
        start: position,
        onBytes: (n) => (bytes += n),
        keepNullFields: options.keepNullFields,
      })
    ) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      counts.read++;
      if (!inShard(rec.index, shard)) {
        counts.otherShards++;
      } else {
        try {
          if (rec.error !== undefined) throw new SyntaxError(`Cannot read record: ${rec.error}`);
          const value = rec.text !== undefined ? parseRecordText(rec.text) : rec.value;
          const json = recordToHarmonyJson(value, inputFormat, defaults);
          batch.push({ rec, conversation: options.toConversation(json) });
        } catch (e) {
          fail(rec, e instanceof Error ? e.message : String(e));
        }
      }
      position = {
        records: rec.index + 1,
        fileIndex: rec.fileIndex,
        line: rec.line,
        offset: rec.byteOffset,
      };
      if (batch.length >= batchSize) {
        await flushBatch(batch);
        batch = [];
        progress();
        // A kill can come between a write and the next checkpoint.
        if (options.signal?.aborted) {
          interrupted = true;
          break;
        }
      }
      if (++sinceCheckpoint >= every) {
        await flushBatch(batch);
        batch = [];
        checkpoint();
        sinceCheckpoint = 0;
      }
    }
    if (!interrupted) {
      await flushBatch(batch);
      batch = [];
      progress();
    }
  } catch (e) {
    writer.close();
    errors.close();
    throw e;
  }
  if (interrupted) {
    writer.close();
    errors.close();
    return {
      ...counts,
      files: [...writer.files.map(tempName)],
      errorsFile: tempName(errorsFile),
      resumedFrom,
      interrupted,
      inputBytes,
    };
  }
  writer.finish();
  errors.close();
  renameSync(tempName(errorsFile), errorsFile);
  removeCheckpoint(prefix);
  return {
    ...counts,
    files: [...writer.files],
    errorsFile,
    resumedFrom,
    interrupted,
    inputBytes,
  };
}
