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
