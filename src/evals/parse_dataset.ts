/**
 * The `parse-dataset` pipeline: streams eval records (JSONL, JSONL.gz, Parquet) through
 * `analyzeCompletion` (`./completion.ts`) and writes one JSONL line per record, in input order, under a
 * temporary name renamed at the end. Memory is bounded by one record plus a 1 MiB output buffer.
 *
 * @module
 */

import { renameSync, rmSync } from "node:fs";
import type { Role } from "../chat/role.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import { type InputRecord, InputShard } from "../dataset/readers.ts";
import { type Shard, shardTag, WHOLE } from "../dataset/shard.ts";
import { describeInputs } from "../dataset/checkpoint.ts";
import {
  inputsHash,
  settingsHash,
  VOCABULARY,
  writeShardManifest,
} from "../dataset/shard_manifest.ts";
import { AppendFile, tempName } from "../io/durable_file.ts";
import type { Backend } from "../engine/backend.ts";
import { CpuBackend } from "../engine/cpu_backend.ts";
import { analyzeParsedCompletion, type CompletionAnalysis } from "./completion.ts";
import {
  type EvalRecord,
  finishSample,
  formatResultLine,
  readEvalSamples,
  RecordReadError,
} from "./record.ts";
import type { RecoverMode } from "./salvage.ts";
import { messageFromJson } from "../chat/json.ts";
import type { Message } from "../chat/message.ts";
import { toChatCompletionMessage, toResponsesOutput } from "./conversions.ts";
import { type ParseDatasetStats, StatsCollector } from "./stats.ts";

/** Counters passed to {@link ParseDatasetOptions.onProgress}. */
export interface ParseDatasetProgress {
  /** Records read (this shard's). */
  read: number;
  /** Records written. */
  records: number;
  /** Records with status `error`. */
  failed: number;
  /** Tokens parsed. */
  tokens: number;
  /** Raw input bytes read. */
  bytes: number;
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
   * does not depend on the backend. Default: the CPU backend over `tokenizer`.
   */
  engine?: Backend;
  /** Records per engine batch (default 2048; a batch also ends at 8M tokens). */
  batchSize?: number;
  /** Called after every record (throttle on the receiving side). */
  onProgress?: (p: ParseDatasetProgress) => void;
  /** Clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

/** The temporary name the output is written under until the run completes (`tempName`). */
export function partialName(out: string): string {
  return tempName(out);
}

/** A record on its way through a batch. */
interface Pending {
  where: { record: number; file: string; line: number };
  /** The input record and which of its samples this is (to redo it once placed). */
  source?: { rec: InputRecord; k: number };
  carried: string[];
  record?: EvalRecord;
  result?: CompletionAnalysis;
  /** The result as the statistics see it (read errors without the record's location). */
  statsError?: CompletionAnalysis;
}

/** Makes `p` an error line for a record that cannot be read (or failed unexpectedly). */
function failRecord(p: Pending, e: unknown): void {
  if (e instanceof RecordReadError) p.carried = e.carried;
  const sample = e instanceof RecordReadError ? e.sample : p.record?.sample;
  const reason = e instanceof RecordReadError ? e.reason : "internal";
  const message = e instanceof Error ? e.message : String(e);
  const { record, file, line } = p.where;
  p.record = undefined;
  p.result = {
    ...EMPTY,
    error: `${reason}: record ${record} (${file}:${line}): ${message}`,
    reason,
  };
  if (sample !== undefined) p.result.sample = sample;
  // The statistics name the record themselves.
  p.statsError = { ...p.result, error: `${reason}: ${message}` };
}

/** Encodes the batch's texts and strict-parses its completions on the engine, then analyzes. */
async function runEngine(
  engine: Backend,
  encoding: { tokenizer: Tokenizer },
  batch: Pending[],
  role: Role | null,
  recover?: RecoverMode,
): Promise<void> {
  const texts: string[] = [];
  const textOf: Pending[] = [];
  for (const p of batch) {
    if (p.record?.text !== undefined) {
      texts.push(p.record.text);
      textOf.push(p);
    }
  }
  if (texts.length > 0) {
    const encoded = await engine.encodeBatch(texts, { allowedSpecial: "all" });
    for (let i = 0; i < texts.length; i++) {
      const p = textOf[i];
      const err = encoded.errors.get(i);
      if (err) failRecord(p, new RecordReadError("bad-completion", err.message, { cause: err }));
      else p.record = { ...p.record!, tokens: encoded.get(i), text: undefined };
    }
  }
  const todo = batch.filter((p) => p.record !== undefined);
  if (todo.length === 0) return;
  const parsed = await engine.parseBatch(todo.map((p) => p.record!.tokens), {
    role,
    strict: true,
  });
  for (let i = 0; i < todo.length; i++) {
    const p = todo[i];
    try {
      p.result = finishSample(
        analyzeParsedCompletion(encoding, p.record!.tokens, parsed[i], { role, recover }),
        p.record!,
      );
    } catch (e) {
      failRecord(p, e);
    }
  }
}

/** The result's messages back as `Message`s (one that does not read back is left out). */
function messagesOf(result: CompletionAnalysis): Message[] {
  const out: Message[] = [];
  for (const m of result.messages) {
    try {
      out.push(messageFromJson(m));
    } catch {
      // written out as parsed; the conversions skip it
    }
  }
  return out;
}

/** Whether a result names its record's position (an error, a recovery, a tool call's example). */
function namesPosition(p: Pending): boolean {
  return p.result!.status !== "ok" || p.result!.tool_calls.length > 0;
}

const EMPTY: CompletionAnalysis = {
  messages: [],
  final: null,
  analysis: null,
  tool_calls: [],
  stop: "none",
  status: "error",
};

/**
 * Parses a dataset of sampled completions into eval results (see `completion.ts` for the fields'
 * rules and docs/parse-dataset.md for the format). A record that cannot be read still gets its
 * output line (`status: "error"`, `error` naming the record, its file and line), so output line
 * *k* always belongs to the shard's input record *k*.
 *
 * @returns the run's statistics.
 * @throws when an input cannot be opened or is corrupt as a whole (gzip, Parquet), or the output
 * cannot be written; the partial output is removed.
 * @example
 * ```ts ignore
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { parseDataset } from "./parse_dataset.ts";
 * const stats = await parseDataset({
 *   inputs: ["samples.jsonl.gz"], out: "results.jsonl", tokenizer: await loadTokenizer(),
 * });
 * console.log(stats.status, stats.tokens_per_second);
 * ```
 */
export async function parseDataset(options: ParseDatasetOptions): Promise<ParseDatasetStats> {
  const { tokenizer, out } = options;
  const shard = options.shard ?? WHOLE;
  // Shard i reads only its part of the inputs (contiguous shards, `shard.ts`). Record indexes and
  // lines name errors, statistics examples and --emit ids; a shard not at the inputs' start
  // places itself among them (one scan before its range) when a batch first needs that.
  const input = await InputShard.open(options.inputs, shard);
  let placed = input.range === undefined || input.range.start === 0;
  const role = options.role === undefined ? "assistant" : options.role;
  const now = options.now ?? (() => performance.now());
  const encoding = { tokenizer };
  const stats = new StatsCollector();
  const temp = partialName(out);
  const file = new AppendFile(temp, { gzip: out.endsWith(".gz") });
  const started = now();
  const progress: ParseDatasetProgress = { read: 0, records: 0, failed: 0, tokens: 0, bytes: 0 };
  const engine = options.engine ?? new CpuBackend(tokenizer);
  const batchSize = Math.max(1, options.batchSize ?? 2048);
  let pending: Pending[] = [];
  let pendingTokens = 0;

  const emitOpenai = options.emit?.includes("openai") ?? false;
  const emitResponses = options.emit?.includes("responses") ?? false;

  const emit = (p: Pending, result: CompletionAnalysis, tokens: number): void => {
    stats.add(p.statsError ?? result, tokens, p.where);
    if (emitOpenai || emitResponses) {
      const messages = messagesOf(result);
      const conv = { idPrefix: `${p.where.record}_${result.sample ?? 0}` };
      if (emitOpenai) result.openai = toChatCompletionMessage(messages, conv);
      if (emitResponses) {
        result.responses = toResponsesOutput(messages, {
          ...conv,
          incomplete: result.stop === "none",
        });
      }
    }
    file.writeText(formatResultLine(p.carried, result) + "\n");
    progress.records++;
    progress.tokens += tokens;
    if (result.status === "error") progress.failed++;
    options.onProgress?.(progress);
  };

  const flush = async (midRecord = false): Promise<void> => {
    let batch = pending;
    pending = [];
    pendingTokens = 0;
    await runEngine(engine, encoding, batch, role, options.recover);
    if (!placed && (midRecord || batch.some(namesPosition))) {
      // This batch names records (or splits one): place the shard, then redo the batch.
      await input.place();
      placed = true;
      batch = batch.map((p) => readSamples(p.source!.rec)[p.source!.k]);
      await runEngine(engine, encoding, batch, role, options.recover);
    }
    for (const p of batch) emit(p, p.result!, p.record ? p.record.tokens.length : 0);
  };

  /** A record's samples (one for a flat record), analyzed on the CPU when there is no engine. */
  const readSamples = (rec: InputRecord): Pending[] => {
    const at = input.located(rec) ?? { index: rec.index, line: rec.line };
    const where = { record: at.index, file: rec.file, line: at.line };
    let read: (EvalRecord | RecordReadError)[];
    try {
      read = readEvalSamples(tokenizer, rec, {
        field: options.field,
        encodeText: false, // the engine encodes the texts of a batch together
        stripped: options.stripped,
        role,
      });
    } catch (e) {
      const p: Pending = { where, carried: [], source: { rec, k: 0 } };
      failRecord(p, e);
      return [p];
    }
    return read.map((r, k) => {
      const p: Pending = { where, carried: [], source: { rec, k } };
      if (r instanceof RecordReadError) {
        failRecord(p, r);
        return p;
      }
      p.carried = r.carried;
      p.record = r;
      return p;
    });
  };

  try {
    if (emitOpenai || emitResponses) {
      await input.place();
      placed = true;
    }
    const records = input.records({
      onBytes: (b) => void (progress.bytes += b),
    });
    for await (const rec of records) {
      progress.read++;
      const samples = readSamples(rec);
      for (let k = 0; k < samples.length; k++) {
        const p = samples[k];
        pending.push(p);
        pendingTokens += p.record ? p.record.tokens.length || (p.record.text?.length ?? 0) : 0;
        if (pending.length >= batchSize || pendingTokens >= 1 << 23) {
          await flush(k < samples.length - 1);
        }
      }
    }
    if (pending.length > 0) await flush();
    file.close();
  } catch (e) {
    try {
      file.close();
    } finally {
      rmSync(temp, { force: true });
    }
    throw e;
  }
  if (shard.count > 1) writeParseManifest(out, shard, options);
  renameSync(temp, out);
  return stats.result((now() - started) / 1000, progress.read, `${shard.index}/${shard.count}`);
}

/** Records a shard's settings next to its output for `merge` (`shard_manifest.ts`). */
function writeParseManifest(out: string, shard: Shard, options: ParseDatasetOptions): void {
  const settings = {
    role: options.role === undefined ? "assistant" : options.role,
    field: options.field,
    recover: options.recover,
    stripped: options.stripped,
    emit: options.emit,
  };
  writeShardManifest(out.endsWith(".jsonl") ? out.slice(0, -6) : out, {
    version: 1,
    command: "parse-dataset",
    format: out.endsWith(".gz") ? "jsonl.gz" : "jsonl",
    vocabulary: VOCABULARY,
    shard,
    settings: settingsHash(settings),
    inputs: inputsHash(describeInputs(options.inputs)),
  });
}

/**
 * The output path of a shard: the whole input keeps `out`; shard `i` of `n` inserts
 * `.shard-0000i-of-0000n` before `.jsonl`/`.jsonl.gz`/`.json` (else appends it).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { shardOutputPath } from "./parse_dataset.ts";
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
