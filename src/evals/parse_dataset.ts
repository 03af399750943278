/**
 * The `parse-dataset` pipeline: streams eval records (JSONL, JSONL.gz, Parquet) through
 * {@link analyzeCompletion} and writes one JSONL line per record, in input order, under a
 * temporary name renamed at the end. Memory is bounded by one record plus a 1 MiB output buffer.
 *
 * @module
 */

import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { gzipSync } from "node:zlib";
import type { Role } from "../chat/role.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import { readRecords } from "../dataset/readers.ts";
import { inShard, type Shard, WHOLE } from "../dataset/shard.ts";
import type { EncodedBatch, ParseBatchOptions, ParsedCompletion } from "../engine/backend.ts";
import type { EncodeOptions } from "../tokenizer/types.ts";
import {
  analyzeCompletion,
  analyzeParsedCompletion,
  type CompletionAnalysis,
} from "./completion.ts";
import {
  type EvalRecord,
  finishSample,
  formatResultLine,
  readEvalSamples,
  RecordReadError,
} from "./record.ts";
import type { RecoverMode } from "./salvage.ts";
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

/**
 * What {@link parseDataset} uses of an engine (`createEngine` of `src/engine` fits): batch
 * encoding of text completions and batch strict parsing, on the CPU or a GPU. Results must be the
 * CPU's (the engine's contract), so the output does not depend on the backend.
 */
export interface EvalEngine {
  /** Encodes texts (`allowedSpecial: "all"` is passed), errors per text. */
  encodeBatch(texts: readonly string[], options?: EncodeOptions): Promise<EncodedBatch>;
  /** Parses completions (`strict: true` and the role are passed), errors per completion. */
  parseBatch(
    completions: ReadonlyArray<ArrayLike<number>>,
    options?: ParseBatchOptions,
  ): Promise<ParsedCompletion[]>;
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
   * Batch backend for encoding and strict parsing; without one, each record is encoded and
   * parsed on the CPU as it is read.
   */
  engine?: EvalEngine;
  /** Records per engine batch (default 2048; a batch also ends at 8M tokens). */
  batchSize?: number;
  /** Called after every record (throttle on the receiving side). */
  onProgress?: (p: ParseDatasetProgress) => void;
  /** Clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

/** The temporary name the output is written under until the run completes. */
export function partialName(out: string): string {
  return `${out}.partial`;
}

/** A buffered synchronous file writer; gzip output is written as one gzip member per flush. */
class OutputFile {
  #fd: number;
  #gzip: boolean;
  #parts: string[] = [];
  #size = 0;

  constructor(path: string, gzip: boolean) {
    this.#fd = openSync(path, "w");
    this.#gzip = gzip;
  }

  line(text: string): void {
    this.#parts.push(text, "\n");
    this.#size += text.length + 1;
    if (this.#size >= 1 << 20) this.flush();
  }

  flush(): void {
    if (this.#size === 0 || this.#fd < 0) return;
    const text = this.#parts.join("");
    this.#parts = [];
    this.#size = 0;
    const bytes = new TextEncoder().encode(text);
    const data = this.#gzip ? gzipSync(bytes) : bytes;
    let at = 0;
    while (at < data.length) at += writeSync(this.#fd, data, at, data.length - at);
  }

  close(): void {
    if (this.#fd < 0) return;
    try {
      this.flush();
    } finally {
      closeSync(this.#fd);
      this.#fd = -1;
    }
  }
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
  engine: EvalEngine,
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
  const file = new OutputFile(temp, out.endsWith(".gz"));
  const started = now();
  const progress: ParseDatasetProgress = { read: 0, records: 0, failed: 0, tokens: 0, bytes: 0 };
  const engine = options.engine;
  const batchSize = Math.max(1, options.batchSize ?? 2048);
  let pending: Pending[] = [];
  let pendingTokens = 0;

  const emit = (p: Pending, result: CompletionAnalysis, tokens: number): void => {
    stats.add(p.statsError ?? result, tokens, p.where);
    file.line(formatResultLine(p.carried, result));
    progress.records++;
    progress.tokens += tokens;
    if (result.status === "error") progress.failed++;
    options.onProgress?.(progress);
  };

  const flush = async (): Promise<void> => {
    const batch = pending;
    pending = [];
    pendingTokens = 0;
    if (engine) await runEngine(engine, encoding, batch, role, options.recover);
    for (const p of batch) emit(p, p.result!, p.record ? p.record.tokens.length : 0);
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
        encodeText: engine === undefined,
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
      if (engine) return p;
      try {
        const a = analyzeCompletion(encoding, r.tokens, { role, recover: options.recover });
        p.result = finishSample(a, r);
      } catch (e) {
        failRecord(p, e);
      }
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
        if (!engine) {
          emit(p, p.result!, p.record ? p.record.tokens.length : 0);
          continue;
        }
        pending.push(p);
        pendingTokens += p.record ? p.record.tokens.length || (p.record.text?.length ?? 0) : 0;
        if (pending.length >= batchSize || pendingTokens >= 1 << 23) await flush();
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
  renameSync(temp, out);
  return stats.result((now() - started) / 1000, progress.read, `${shard.index}/${shard.count}`);
}

/**
 * The output path of a shard: the whole input keeps `out`; shard `i` of `n` inserts
 * `.shard-0000i-of-0000n` before `.jsonl`/`.jsonl.gz`/`.json` (else appends it).
 *
 * @example
 * ```ts
 * import { shardOutputPath } from "./parse_dataset.ts";
 * shardOutputPath("results.jsonl", { index: 3, count: 8 }); // "results.shard-00003-of-00008.jsonl"
 * ```
 */
export function shardOutputPath(out: string, shard: Shard): string {
  if (shard.count === 1) return out;
  const w = Math.max(5, String(shard.count).length);
  const tag = `.shard-${String(shard.index).padStart(w, "0")}-of-${
    String(shard.count).padStart(w, "0")
  }`;
  for (const ext of [".jsonl.gz", ".jsonl", ".json.gz", ".json"]) {
    if (out.endsWith(ext)) return out.slice(0, out.length - ext.length) + tag + ext;
  }
  return out + tag;
}
