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
import { readRecords } from "../dataset/readers.ts";
import { inShard, type Shard, shardTag, WHOLE } from "../dataset/shard.ts";
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
  /** Records read (all shards). */
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

  // One batch ahead: a full batch is handed to the engine and the previous one is awaited and
  // written only then, so the engine packs batch k+1 while a GPU runs batch k; lines stay in order.
  type InFlight = { batch: Pending[]; done: Promise<void> };
  let inFlight: InFlight | undefined;
  const emitBatch = async (f: InFlight): Promise<void> => {
    await f.done;
    for (const p of f.batch) emit(p, p.result!, p.record ? p.record.tokens.length : 0);
  };
  const flush = async (): Promise<void> => {
    const batch = pending;
    pending = [];
    pendingTokens = 0;
    const done = runEngine(engine, encoding, batch, role, options.recover);
    done.catch(() => {}); // awaited by emitBatch, in order
    const previous = inFlight;
    inFlight = { batch, done };
    if (previous) await emitBatch(previous);
  };

  /** A record's samples (one for a flat record), analyzed on the CPU when there is no engine. */
  const readSamples = (
    rec: { index: number; file: string; line: number; text?: string; value?: unknown },
  ): Pending[] => {
    const where = { record: rec.index, file: rec.file, line: rec.line };
    let read: (EvalRecord | RecordReadError)[];
    try {
      read = readEvalSamples(tokenizer, rec, {
        field: options.field,
        encodeText: false, // the engine encodes the texts of a batch together
        stripped: options.stripped,
        role,
      });
    } catch (e) {
      const p: Pending = { where, carried: [] };
      failRecord(p, e);
      return [p];
    }
    return read.map((r) => {
      const p: Pending = { where, carried: [] };
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
    const records = readRecords(options.inputs, {
      onBytes: (b) => void (progress.bytes += b),
    });
    for await (const rec of records) {
      progress.read++;
      if (!inShard(rec.index, shard)) continue;
      for (const p of readSamples(rec)) {
        pending.push(p);
        pendingTokens += p.record ? p.record.tokens.length || (p.record.text?.length ?? 0) : 0;
        if (pending.length >= batchSize || pendingTokens >= 1 << 23) await flush();
      }
    }
    if (pending.length > 0) await flush();
    if (inFlight) await emitBatch(inFlight);
    file.close();
  } catch (e) {
    try {
      file.close();
    } finally {
      rmSync(temp, { force: true });
    }
    throw e;
  }
  renameSync(temp, out);
  return stats.result((now() - started) / 1000, progress.read, `${shard.index}/${shard.count}`);
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
