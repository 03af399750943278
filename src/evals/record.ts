/**
 * Reading one eval record (a JSONL line or a Parquet row) into a completion's token ids plus the
 * record's other fields, and writing the output line: those fields unchanged, then the eval
 * fields of {@link CompletionResult}.
 *
 * @module
 */

import type { Tokenizer } from "../tokenizer/types.ts";
import type { CompletionResult } from "./completion.ts";
import { objectMembers } from "./_json_members.ts";
import { JsonSyntaxError, parseJson } from "../chat/json_text.ts";

/** Fields tried, in order, when no `field` is given: token ids first, then text. */
export const COMPLETION_FIELDS: readonly string[] = [
  "tokens",
  "completion_tokens",
  "output_ids",
  "text",
  "completion",
];

/** The output fields {@link formatResultLine} writes; input fields of these names are replaced. */
export const RESULT_FIELDS: readonly string[] = [
  "messages",
  "final",
  "analysis",
  "tool_calls",
  "stop",
  "status",
  "error",
];

/** Why a record could not be read (the statistics key). */
export type ReadErrorReason =
  | "invalid-utf8"
  | "bad-json"
  | "not-an-object"
  | "no-completion"
  | "bad-completion"
  | "token-out-of-range";

/** A record that cannot be read: no completion can be parsed from it. */
export class RecordReadError extends TypeError {
  /** Machine-readable reason. */
  readonly reason: ReadErrorReason;
  /** The record's fields that can still be carried to the output (`"key": value` texts). */
  carried: string[] = [];
  /** Creates the error. */
  constructor(reason: ReadErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RecordReadError";
    this.reason = reason;
  }
}

/** A record read: its completion's tokens and the JSON text of its other fields. */
export interface EvalRecord {
  /**
   * The completion's token ids (text completions are encoded with every special token; empty
   * when `encodeText` was false and the completion is text).
   */
  tokens: ArrayLike<number>;
  /** The completion's text, when it is text and `encodeText` was false (encode it yourself). */
  text?: string;
  /** The name of the field the completion came from. */
  field: string;
  /** The other fields as JSON member texts (`"key": value`), in record order. */
  carried: string[];
}

/** Options of {@link readEvalRecord}. */
export interface ReadEvalRecordOptions {
  /** The completion's field; default: the first of {@link COMPLETION_FIELDS} present. */
  field?: string;
  /**
   * Encode a text completion (default true); false leaves it in {@link EvalRecord.text}, for a
   * caller that encodes texts in batches.
   */
  encodeText?: boolean;
}

function shortJson(v: unknown): string {
  let s: string;
  try {
    s = typeof v === "bigint" ? String(v) : JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 32 ? s.slice(0, 32) + "…" : s;
}

/**
 * Reads a record: a JSONL line (`text`) or a Parquet row (`value`, an object).
 *
 * @param tokenizer encodes text completions and bounds token ids (`vocabSize`).
 * @throws {RecordReadError} when the line is not a JSON object, has no completion field, or the
 * field is neither text nor an array of token ids in `[0, vocabSize)`.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { readEvalRecord } from "./record.ts";
 * const tok = await loadTokenizer();
 * const r = readEvalRecord(tok, { text: '{"id": 7, "tokens": [200005, 17196]}' });
 * deepStrictEqual([r.field, Array.from(r.tokens), r.carried], ["tokens", [200005, 17196], ['"id": 7']]);
 * ```
 */
export function readEvalRecord(
  tokenizer: Tokenizer,
  record: { text?: string; value?: unknown; error?: string },
  options: ReadEvalRecordOptions = {},
): EvalRecord {
  if (record.error !== undefined) {
    throw new RecordReadError("invalid-utf8", `Cannot read record: ${record.error}`);
  }
  let obj: unknown;
  const text = record.text;
  if (text !== undefined) {
    try {
      obj = parseJson(text);
    } catch (e) {
      throw new RecordReadError(
        "bad-json",
        `Cannot parse record: ${
          e instanceof JsonSyntaxError ? e.detail : e instanceof Error ? e.message : String(e)
        }`,
        { cause: e },
      );
    }
  } else obj = record.value;
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new RecordReadError(
      "not-an-object",
      `Cannot read record: expected a JSON object, got ${shortJson(obj)}`,
    );
  }
  const o = obj as Record<string, unknown>;
  const field = options.field ?? COMPLETION_FIELDS.find((f) => o[f] !== undefined && o[f] !== null);
  const carried = carriedMembers(text, o, field);
  if (field === undefined || o[field] === undefined || o[field] === null) {
    const names = options.field !== undefined
      ? `"${options.field}"`
      : COMPLETION_FIELDS.map((f) => `"${f}"`).join(", ");
    const e = new RecordReadError(
      "no-completion",
      `Cannot read record: no completion field (${names})`,
    );
    e.carried = carried;
    throw e;
  }
  const v = o[field];
  if (typeof v === "string" && options.encodeText === false) {
    return { tokens: new Uint32Array(0), text: v, field, carried };
  }
  try {
    return { tokens: completionTokens(tokenizer, v, field), field, carried };
  } catch (e) {
    if (e instanceof RecordReadError) e.carried = carried;
    throw e;
  }
}

function carriedMembers(
  text: string | undefined,
  o: Record<string, unknown>,
  field: string | undefined,
): string[] {
  const out: string[] = [];
  if (text !== undefined) {
    for (const m of objectMembers(text)) {
      if (m.key === field || RESULT_FIELDS.includes(m.key)) continue;
      out.push(text.slice(m.start, m.end));
    }
    return out;
  }
  for (const key of Object.keys(o)) {
    if (key === field || RESULT_FIELDS.includes(key)) continue;
    out.push(`${JSON.stringify(key)}:${stringifyValue(o[key])}`);
  }
  return out;
}

/**
 * JSON text of a Parquet value: like `JSON.stringify`, but a `bigint` is written as its exact
 * digits and typed arrays as arrays.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { stringifyValue } from "./record.ts";
 * strictEqual(stringifyValue({ id: 12345678901234567890n }), '{"id":12345678901234567890}');
 * ```
 */
export function stringifyValue(v: unknown): string {
  if (typeof v === "bigint") return v.toString();
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (v instanceof Date) return JSON.stringify(v);
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    return stringifyValue(Array.from(v as unknown as ArrayLike<number | bigint>));
  }
  if (Array.isArray(v)) return `[${v.map(stringifyValue).join(",")}]`;
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === undefined || typeof x === "function") continue;
    parts.push(`${JSON.stringify(k)}:${stringifyValue(x)}`);
  }
  return `{${parts.join(",")}}`;
}

function completionTokens(tokenizer: Tokenizer, v: unknown, field: string): ArrayLike<number> {
  if (typeof v === "string") return tokenizer.encode(v, { allowedSpecial: "all" });
  let arr: ArrayLike<unknown>;
  if (Array.isArray(v)) arr = v;
  else if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    arr = v as unknown as ArrayLike<unknown>;
  } else {
    throw new RecordReadError(
      "bad-completion",
      `Cannot read record: "${field}" must be text or an array of token ids, got ${shortJson(v)}`,
    );
  }
  const n = arr.length;
  const out = new Uint32Array(n);
  const limit = tokenizer.vocabSize;
  for (let i = 0; i < n; i++) {
    const x = arr[i];
    const id = typeof x === "bigint" ? Number(x) : x;
    if (typeof id !== "number" || !Number.isInteger(id)) {
      throw new RecordReadError(
        "bad-completion",
        `Cannot read record: "${field}"[${i}] is not a token id (${shortJson(x)})`,
      );
    }
    if (id < 0 || id >= limit) {
      throw new RecordReadError(
        "token-out-of-range",
        `Cannot read record: "${field}"[${i}] = ${id} is out of range [0, ${limit})`,
      );
    }
    out[i] = id;
  }
  return out;
}

/**
 * The output line of a record: its carried fields, then the eval fields (`error` only when set).
 *
 * @example
 * ```ts
 * import { formatResultLine } from "./record.ts";
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(
 *   formatResultLine(['"id":1'], {
 *     messages: [], final: null, analysis: null, tool_calls: [], stop: "none", status: "ok",
 *   }),
 *   '{"id":1,"messages":[],"final":null,"analysis":null,"tool_calls":[],"stop":"none","status":"ok"}',
 * );
 * ```
 */
export function formatResultLine(carried: readonly string[], r: CompletionResult): string {
  let s = "{";
  for (let i = 0; i < carried.length; i++) s += carried[i] + ",";
  s += `"messages":${JSON.stringify(r.messages)},"final":${JSON.stringify(r.final)},"analysis":${
    JSON.stringify(r.analysis)
  },"tool_calls":${JSON.stringify(r.tool_calls)},"stop":"${r.stop}","status":"${r.status}"`;
  if (r.error !== undefined) s += `,"error":${JSON.stringify(r.error)}`;
  return s + "}";
}
