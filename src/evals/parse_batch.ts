/**
 * One batch of `parse-dataset`: raw input records → each sample's output line and what the
 * statistics count of it. The same function runs on the main thread (with any engine, the GPU
 * included) and in `parse-dataset --workers N`'s worker threads (`parse_worker.ts`, CPU), so
 * the output does not depend on where a batch ran; batches are written in input order by
 * `parse_dataset.ts`. Results depend on a record alone, never on the batch it was in.
 *
 * @module
 */

import type { Role } from "../chat/role.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import type { Backend } from "../engine/backend.ts";
import { messageFromJson } from "../chat/json.ts";
import type { Message } from "../chat/message.ts";
import { analyzeParsedCompletion, type CompletionAnalysis } from "./completion.ts";
import {
  type EvalRecord,
  finishSample,
  formatResultLine,
  readEvalSamples,
  RecordReadError,
} from "./record.ts";
import type { RecoverMode } from "./salvage.ts";
import { toChatCompletionMessage, toResponsesOutput } from "./conversions.ts";
import type { RecordWhere, StatsInput } from "./stats.ts";

/** An input record as the reader yields it (structured-cloneable: it may go to a worker). */
export interface RawEvalRecord {
  /** 0-based record index over all inputs. */
  index: number;
  /** Input file. */
  file: string;
  /** 1-based line (JSONL) or row (Parquet). */
  line: number;
  /** The JSONL line. */
  text?: string;
  /** The Parquet row. */
  value?: unknown;
  /** Why the line could not be decoded (invalid UTF-8). */
  error?: string;
}

/** How records are parsed (structured-cloneable: a worker gets a copy). */
export interface ParseSettings {
  /** Role the completions start inside (`null`: with `<|start|>`). */
  role: Role | null;
  /** The completion's field path (default: detected per record). */
  field?: string;
  /** Salvage mode (`salvage.ts`; default `first`). */
  recover?: RecoverMode;
  /** Recover stripped text (default true). */
  stripped?: boolean;
  /** Conversions added to each line. */
  emit?: readonly ("openai" | "responses")[];
}

/** What {@link parseRecords} needs besides the settings. */
export interface ParseContext extends ParseSettings {
  /** The o200k_harmony tokenizer. */
  tokenizer: Tokenizer;
  /** Encodes text completions and strict-parses (CPU reference results on every backend). */
  engine: Backend;
}

/** One sample's output. */
export interface ParsedSample {
  /** The output line (without its newline). */
  line: string;
  /** The record it belongs to. */
  where: RecordWhere;
  /** What the statistics count (a slim copy of the result). */
  stats: StatsInput;
  /** Tokens parsed. */
  tokens: number;
}

/** A sample on its way through the batch. */
interface Pending {
  where: RecordWhere;
  carried: string[];
  record?: EvalRecord;
  result?: CompletionAnalysis;
  /** The result as the statistics see it (read errors without the record's location). */
  statsError?: CompletionAnalysis;
}

const EMPTY: CompletionAnalysis = {
  messages: [],
  final: null,
  analysis: null,
  tool_calls: [],
  stop: "none",
  status: "error",
};

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

/** A record's samples (one for a flat record; an unreadable record is one error sample). */
function readSamples(tokenizer: Tokenizer, rec: RawEvalRecord, s: ParseSettings): Pending[] {
  const where = { record: rec.index, file: rec.file, line: rec.line };
  let read: (EvalRecord | RecordReadError)[];
  try {
    read = readEvalSamples(tokenizer, rec, {
      field: s.field,
      encodeText: false, // the engine encodes the texts of a batch together
      stripped: s.stripped,
      role: s.role,
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
}

/** Encodes the batch's texts and strict-parses its completions on the engine, then analyzes. */
async function runEngine(ctx: ParseContext, batch: Pending[]): Promise<void> {
  const texts: string[] = [];
  const textOf: Pending[] = [];
  for (const p of batch) {
    if (p.record?.text !== undefined) {
      texts.push(p.record.text);
      textOf.push(p);
    }
  }
  if (texts.length > 0) {
    const encoded = await ctx.engine.encodeBatch(texts, { allowedSpecial: "all" });
    for (let i = 0; i < texts.length; i++) {
      const p = textOf[i];
      const err = encoded.errors.get(i);
      if (err) failRecord(p, new RecordReadError("bad-completion", err.message, { cause: err }));
      else p.record = { ...p.record!, tokens: encoded.get(i), text: undefined };
    }
  }
  const todo = batch.filter((p) => p.record !== undefined);
  if (todo.length === 0) return;
  const parsed = await ctx.engine.parseBatch(todo.map((p) => p.record!.tokens), {
    role: ctx.role,
    strict: true,
  });
  const encoding = { tokenizer: ctx.tokenizer };
  for (let i = 0; i < todo.length; i++) {
    const p = todo[i];
    try {
      p.result = finishSample(
        analyzeParsedCompletion(encoding, p.record!.tokens, parsed[i], {
          role: ctx.role,
          recover: ctx.recover,
        }),
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

/**
 * The part of a result the statistics read, as a small cloneable object (what a worker sends
 * back besides the line). `StatsCollector.add` gives the same counts for it as for the result.
 */
function statsInputOf(r: CompletionAnalysis, unreadable: boolean): StatsInput {
  const s: StatsInput = {
    status: r.status,
    stop: r.stop,
    messages: r.messages.map((m) => (m.channel === undefined ? {} : { channel: m.channel })),
    tool_calls: r.tool_calls.map((t) => ({
      recipient: t.recipient,
      content_type: t.content_type,
      arguments: t.arguments === null ? null : true,
      ...(t.arguments === null && t.raw !== undefined ? { raw: t.raw } : {}),
    })),
  };
  if (r.sample !== undefined) s.sample = r.sample;
  if (r.truncated) s.truncated = true;
  if (r.stripped) s.stripped = true;
  if (unreadable) s.unreadable = true;
  if (r.dropped !== undefined) s.dropped = r.dropped;
  if (r.repairs !== undefined) s.repairs = r.repairs.map((x) => ({ repair: x.repair }));
  if (r.content_tokens !== undefined) s.content_tokens = r.content_tokens;
  if (r.error !== undefined) s.error = r.error;
  if (r.reason !== undefined) s.reason = r.reason;
  return s;
}

/**
 * Parses a batch of records into their samples' output lines, in order (see `completion.ts`
 * for the fields and docs/parse-dataset.md for the format). A record that cannot be read still
 * gets its line (`status: "error"`, `error` naming the record, its file and line).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { CpuBackend } from "../engine/cpu_backend.ts";
 * import { parseRecords } from "./parse_batch.ts";
 * const tokenizer = await loadTokenizer();
 * const [s] = await parseRecords(
 *   [{ index: 0, file: "a.jsonl", line: 1, text: '{"id": 1, "text": "<|channel|>final<|message|>4<|return|>"}' }],
 *   { tokenizer, engine: new CpuBackend(tokenizer), role: "assistant" },
 * );
 * strictEqual(JSON.parse(s.line).final, "4");
 * ```
 */
export async function parseRecords(
  records: readonly RawEvalRecord[],
  ctx: ParseContext,
): Promise<ParsedSample[]> {
  const batch: Pending[] = [];
  for (const rec of records) batch.push(...readSamples(ctx.tokenizer, rec, ctx));
  await runEngine(ctx, batch);
  const emitOpenai = ctx.emit?.includes("openai") ?? false;
  const emitResponses = ctx.emit?.includes("responses") ?? false;
  const out: ParsedSample[] = [];
  for (const p of batch) {
    const result = p.result!;
    const tokens = p.record ? p.record.tokens.length : 0;
    const stats = statsInputOf(p.statsError ?? result, p.statsError !== undefined);
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
    out.push({ line: formatResultLine(p.carried, result), where: p.where, stats, tokens });
  }
  return out;
}

/**
 * A batch of records on its way to a worker: JSONL lines back to back in one string (`texts`,
 * with their UTF-16 `lengths`), the records' indexes and lines, and their files (`fileOf[i]`
 * indexes `files`); or the records as they are when any is not a plain line (a Parquet row, an
 * unreadable line). The structured clone then copies a few buffers instead of an object per record.
 */
export type PackedEvalRecords = {
  texts: string;
  lengths: Uint32Array;
  index: Float64Array;
  line: Float64Array;
  fileOf: Uint32Array;
  files: string[];
} | { records: RawEvalRecord[] };

/**
 * A batch's samples on their way back: the output lines back to back in `lines` (UTF-16
 * `lengths`), each sample's record as its index in the batch, its tokens, and the statistics'
 * inputs. Where a sample came from is its record's (`RecordWhere` of the batch's record).
 */
export interface PackedSamples {
  /** Output lines of all samples, without newlines, back to back. */
  lines: string;
  /** UTF-16 length of each line. */
  lengths: Uint32Array;
  /** Each sample's record, as an index into the batch. */
  record: Uint32Array;
  /** Tokens parsed per sample. */
  tokens: Float64Array;
  /** What the statistics count of each sample. */
  stats: StatsInput[];
}

/**
 * Packs a batch of records for a worker (see {@link PackedEvalRecords}).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { packEvalRecords, unpackEvalRecords } from "./parse_batch.ts";
 * const batch = [
 *   { index: 7, file: "a.jsonl", line: 8, text: '{"text":"x"}' },
 *   { index: 8, file: "b.jsonl", line: 1, text: "" },
 * ];
 * deepStrictEqual(unpackEvalRecords(packEvalRecords(batch)), batch);
 * ```
 */
export function packEvalRecords(records: readonly RawEvalRecord[]): PackedEvalRecords {
  const n = records.length;
  const lengths = new Uint32Array(n), fileOf = new Uint32Array(n);
  const index = new Float64Array(n), line = new Float64Array(n);
  const files: string[] = [];
  const texts: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const r = records[i];
    if (r.text === undefined || r.value !== undefined || r.error !== undefined) {
      return { records: [...records] };
    }
    texts[i] = r.text;
    lengths[i] = r.text.length;
    index[i] = r.index;
    line[i] = r.line;
    if (files.length === 0 || files[files.length - 1] !== r.file) files.push(r.file);
    fileOf[i] = files.length - 1;
  }
  return { texts: texts.join(""), lengths, index, line, fileOf, files };
}

/**
 * The records of a packed batch.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { unpackEvalRecords } from "./parse_batch.ts";
 * const rows = [{ index: 0, file: "a.parquet", line: 1, value: { text: "x" } }];
 * deepStrictEqual(unpackEvalRecords({ records: rows }), rows);
 * ```
 */
export function unpackEvalRecords(packed: PackedEvalRecords): RawEvalRecord[] {
  if ("records" in packed) return packed.records;
  const n = packed.lengths.length;
  const out = new Array<RawEvalRecord>(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const end = at + packed.lengths[i];
    out[i] = {
      index: packed.index[i],
      file: packed.files[packed.fileOf[i]],
      line: packed.line[i],
      text: packed.texts.slice(at, end),
    };
    at = end;
  }
  return out;
}

/**
 * Packs a batch's samples (see {@link PackedSamples}); `records` is the batch they came from.
 *
 * @throws {RangeError} when a sample does not belong to the batch (in order).
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { packSamples, unpackSamples } from "./parse_batch.ts";
 * const records = [{ index: 4, file: "a.jsonl", line: 5, text: "" }];
 * const where = { record: 4, file: "a.jsonl", line: 5 };
 * const samples = [
 *   { line: '{"a":1}', where, stats: { status: "ok" as const, stop: "return" as const, messages: [], tool_calls: [] }, tokens: 3 },
 * ];
 * deepStrictEqual(unpackSamples(packSamples(samples, records), records), samples);
 * ```
 */
export function packSamples(
  samples: readonly ParsedSample[],
  records: readonly RawEvalRecord[],
): PackedSamples {
  const n = samples.length;
  const lengths = new Uint32Array(n), record = new Uint32Array(n);
  const tokens = new Float64Array(n);
  const lines = new Array<string>(n);
  const stats = new Array<StatsInput>(n);
  let j = 0;
  for (let i = 0; i < n; i++) {
    const s = samples[i];
    while (j < records.length && records[j].index !== s.where.record) j++;
    if (j === records.length) {
      throw new RangeError(`Cannot pack sample ${i}: record ${s.where.record} is not in the batch`);
    }
    record[i] = j;
    lines[i] = s.line;
    lengths[i] = s.line.length;
    tokens[i] = s.tokens;
    stats[i] = s.stats;
  }
  return { lines: lines.join(""), lengths, record, tokens, stats };
}

/**
 * The samples of a packed batch; `records` is the batch they came from (each sample's `where`
 * is its record's).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { unpackSamples } from "./parse_batch.ts";
 * const [s] = unpackSamples(
 *   { lines: "{}", lengths: Uint32Array.of(2), record: Uint32Array.of(0), tokens: Float64Array.of(0), stats: [{ status: "ok", stop: "none", messages: [], tool_calls: [] }] },
 *   [{ index: 9, file: "a.jsonl", line: 10, text: "" }],
 * );
 * strictEqual(s.where.record, 9);
 * ```
 */
export function unpackSamples(
  packed: PackedSamples,
  records: readonly RawEvalRecord[],
): ParsedSample[] {
  const n = packed.lengths.length;
  const out = new Array<ParsedSample>(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const end = at + packed.lengths[i];
    const r = records[packed.record[i]];
    out[i] = {
      line: packed.lines.slice(at, end),
      where: { record: r.index, file: r.file, line: r.line },
      stats: packed.stats[i],
      tokens: packed.tokens[i],
    };
    at = end;
  }
  return out;
}
