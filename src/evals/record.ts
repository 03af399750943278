/**
 * Reading one eval record (a JSONL line or a Parquet row) into a completion's token ids plus the
 * record's other fields, and writing the output line: those fields unchanged, then the eval
 * fields of {@link CompletionResult}.
 *
 * @module
 */

import type { Role } from "../chat/role.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import type { CompletionResult } from "./completion.ts";
import { objectMembers } from "./_json_members.ts";
import { JsonSyntaxError, parseJson } from "../chat/json_text.ts";
import { type FieldPath, parseFieldPath, rootKey, selectPath } from "./field_path.ts";
import {
  COMPLETION_FIELDS,
  detectInputShape,
  finishReasonOf,
  type InputShape,
} from "./input_shape.ts";
import { parseStrippedText, strippedTokens } from "./stripped.ts";

export { COMPLETION_FIELDS };

/** The output fields {@link formatResultLine} writes; input fields of these names are replaced. */
export const RESULT_FIELDS: readonly string[] = [
  "messages",
  "final",
  "analysis",
  "tool_calls",
  "stop",
  "status",
  "error",
  "dropped",
  "repairs",
  "stripped",
  "openai",
  "responses",
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
  /** The sample this error is about, when the record holds several. */
  sample?: number;
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
  /** The path of the field the completion came from (`tokens`, `outputs[*].token_ids`). */
  field: string;
  /** The other fields as JSON member texts (`"key": value`), in record order. */
  carried: string[];
  /** The sample's index in the record, for a field path with `[*]`. */
  sample?: number;
  /** The sample's `finish_reason` (`stop`, `length`, …), when the record has one. */
  finishReason?: string;
  /** True when the completion was stripped text, rebuilt by the grammar of `stripped.ts`. */
  stripped?: boolean;
  /** The detected input shape (undefined when `field` was given). */
  shape?: InputShape;
}

/** Options of {@link readEvalRecord} and {@link readEvalSamples}. */
export interface ReadEvalRecordOptions {
  /**
   * The completion's field path (`field_path.ts`: `outputs[*].token_ids`, `resps[0][0]`);
   * default: detected per record (`input_shape.ts`).
   */
  field?: string | FieldPath;
  /**
   * Encode a text completion (default true); false leaves it in {@link EvalRecord.text}, for a
   * caller that encodes texts in batches.
   */
  encodeText?: boolean;
  /**
   * Recover text without special tokens that has the stripped shape (default true; see
   * `stripped.ts`); false reads it as any text.
   */
  stripped?: boolean;
  /** Role the completions start inside (default `"assistant"`), for stripped text. */
  role?: Role | null;
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

function parseRecordObject(
  record: { text?: string; value?: unknown; error?: string },
): Record<string, unknown> {
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
  return obj as Record<string, unknown>;
}

/**
 * Reads a record with one completion: a JSONL line (`text`) or a Parquet row (`value`, an
 * object). For records holding several samples use {@link readEvalSamples}.
 *
 * @param tokenizer encodes text completions and bounds token ids (`vocabSize`).
 * @throws {RecordReadError} when the line is not a JSON object, has no completion field, the
 * field is neither text nor an array of token ids in `[0, vocabSize)`, or it holds other than
 * one sample.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { readEvalRecord } from "./record.ts";
 * const tok = await loadTokenizer();
 * const r = readEvalRecord(tok, { text: '{"id": 7, "tokens": [200005, 17196]}' });
 * assert.deepEqual([r.field, Array.from(r.tokens), r.carried], ["tokens", [200005, 17196], ['"id": 7']]);
 * ```
 */
export function readEvalRecord(
  tokenizer: Tokenizer,
  record: { text?: string; value?: unknown; error?: string },
  options: ReadEvalRecordOptions = {},
): EvalRecord {
  const samples = readEvalSamples(tokenizer, record, options);
  const first = samples[0];
  if (first instanceof RecordReadError) throw first;
  if (samples.length !== 1) {
    const e = new RecordReadError(
      "bad-completion",
      `Cannot read record: "${first.field}" holds ${samples.length} samples (use readEvalSamples)`,
    );
    e.carried = first.carried;
    throw e;
  }
  return first;
}

/**
 * Reads a record into its samples: one for a flat record, k for a record whose field path has
 * `[*]` (vLLM `outputs[*]`, OpenAI `choices[*]`, lm-eval `resps[0][*]`), in order, each with
 * the record's other fields (the path's top-level member excluded) and `sample` set. A sample
 * that cannot be read is a {@link RecordReadError} in its place (with `carried` set), so the
 * others still go on.
 *
 * @throws {RecordReadError} when the record as a whole cannot be read: not a JSON object, no
 * completion (also a `[*]` array that is empty or missing).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { readEvalSamples } from "./record.ts";
 * const tok = await loadTokenizer();
 * const line = '{"request_id": "r1", "outputs": [{"token_ids": [200005, 17196]}, {"token_ids": [200005]}]}';
 * const [a, b] = readEvalSamples(tok, { text: line });
 * assert.ok(!(a instanceof Error) && !(b instanceof Error));
 * assert.deepEqual([a.field, a.sample, b.sample, a.carried], ["outputs[*].token_ids", 0, 1, ['"request_id": "r1"']]);
 * ```
 */
export function readEvalSamples(
  tokenizer: Tokenizer,
  record: { text?: string; value?: unknown },
  options: ReadEvalRecordOptions = {},
): (EvalRecord | RecordReadError)[] {
  const o = parseRecordObject(record);
  let path: FieldPath | undefined;
  let shape: InputShape | undefined;
  if (options.field !== undefined) {
    path = typeof options.field === "string" ? parseFieldPath(options.field) : options.field;
  } else {
    const d = detectInputShape(o);
    path = d?.path;
    shape = d?.shape;
  }
  const sampled = path !== undefined && path.wildcard >= 0;
  const carried = carriedMembers(record.text, o, path && rootKey(path), sampled);
  const values = path === undefined ? [] : selectPath(o, path);
  if (values.length === 0 || (!sampled && (values[0].value ?? null) === null)) {
    const names = path !== undefined
      ? `"${path.text}"`
      : COMPLETION_FIELDS.map((f) => `"${f}"`).join(", ") +
        ", outputs[*], resps, choices[*], response.body.choices[*]";
    const e = new RecordReadError(
      "no-completion",
      `Cannot read record: no completion field (${names})`,
    );
    e.carried = carried;
    throw e;
  }
  const field = path!.text;
  const role = options.role === undefined ? "assistant" : options.role;
  const out: (EvalRecord | RecordReadError)[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i].value;
    const base: EvalRecord = { tokens: EMPTY_IDS, field, carried };
    if (sampled) base.sample = i;
    if (shape !== undefined) base.shape = shape;
    const finish = finishReasonOf(o, values[i]);
    if (finish !== undefined) base.finishReason = finish;
    try {
      if (v === undefined || v === null) {
        throw new RecordReadError(
          "no-completion",
          `Cannot read record: sample ${i} has no completion at "${field}"`,
        );
      }
      if (
        typeof v === "string" && options.stripped !== false && role !== undefined &&
        (role === null || role === "assistant")
      ) {
        const messages = parseStrippedText(v);
        if (messages !== undefined) {
          const last = messages[messages.length - 1];
          const stop = finish !== "stop"
            ? undefined
            : last.recipient !== undefined
            ? "<|call|>"
            : "<|return|>";
          base.tokens = strippedTokens(tokenizer, messages, role, stop);
          base.stripped = true;
          out.push(base);
          continue;
        }
      }
      if (typeof v === "string" && options.encodeText === false) base.text = v;
      else base.tokens = completionTokens(tokenizer, v, field);
      out.push(base);
    } catch (e) {
      if (!(e instanceof RecordReadError)) throw e;
      e.carried = carried;
      if (sampled) e.sample = i;
      out.push(e);
    }
  }
  return out;
}

const EMPTY_IDS = new Uint32Array(0);

function carriedMembers(
  text: string | undefined,
  o: Record<string, unknown>,
  field: string | undefined,
  sampled: boolean,
): string[] {
  const out: string[] = [];
  const skip = (key: string): boolean =>
    key === field || RESULT_FIELDS.includes(key) || (sampled && key === "sample");
  if (text !== undefined) {
    for (const m of objectMembers(text)) {
      if (skip(m.key)) continue;
      out.push(text.slice(m.start, m.end));
    }
    return out;
  }
  for (const key of Object.keys(o)) {
    if (skip(key)) continue;
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
  if (r.sample !== undefined) s += `"sample":${r.sample},`;
  s += `"messages":${JSON.stringify(r.messages)},"final":${JSON.stringify(r.final)},"analysis":${
    JSON.stringify(r.analysis)
  },"tool_calls":${JSON.stringify(r.tool_calls)},"stop":"${r.stop}","status":"${r.status}"`;
  if (r.error !== undefined) s += `,"error":${JSON.stringify(r.error)}`;
  if (r.dropped !== undefined) s += `,"dropped":${JSON.stringify(r.dropped)}`;
  if (r.repairs !== undefined) s += `,"repairs":${JSON.stringify(r.repairs)}`;
  if (r.stripped) s += `,"stripped":true`;
  if (r.openai !== undefined) s += `,"openai":${JSON.stringify(r.openai)}`;
  if (r.responses !== undefined) s += `,"responses":${JSON.stringify(r.responses)}`;
  return s + "}";
}

/** The reason code of a stripped-text record (its `error` and the `recovered` statistics). */
export const STRIPPED_REASON = "stripped-text";

/**
 * Applies what the record says about a sample to its analysis: `sample` is set;
 * `finish_reason: "length"` makes `stop` `none` (the sampler hit its limit, whatever the last
 * token); a stripped-text sample is `stripped: true` and, when its rebuilt tokens parse, `status:
 * "recovered"` with `error` `stripped-text: …`.
 *
 * @returns `result`, changed in place.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finishSample } from "./record.ts";
 * import type { CompletionResult } from "./completion.ts";
 * const parsed: CompletionResult = {
 *   messages: [], final: null, analysis: null, tool_calls: [], stop: "end", status: "ok",
 * };
 * const r = finishSample(parsed, {
 *   tokens: [], field: "outputs[*].token_ids", carried: [], sample: 2, finishReason: "length",
 * });
 * assert.deepEqual([r.stop, r.sample], ["none", 2]);
 * ```
 */
export function finishSample<
  T extends CompletionResult & { reason?: string; truncated?: boolean },
>(
  result: T,
  record: EvalRecord,
): T {
  if (record.sample !== undefined) result.sample = record.sample;
  if (record.finishReason === "length") result.stop = "none";
  if (record.stripped) {
    result.stripped = true;
    if (result.status === "ok") {
      result.status = "recovered";
      result.reason = STRIPPED_REASON;
      result.error = `${STRIPPED_REASON}: special tokens were removed from the text ` +
        "(skip_special_tokens); messages rebuilt by the stripped-text grammar";
    }
  }
  result.truncated = record.finishReason === "length" ||
    (record.finishReason === undefined && !record.stripped && result.stop === "none");
  return result;
}
