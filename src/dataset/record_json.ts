/**
 * Parsing of one JSONL record. `JSON.parse` is used unless the line has an integer-like object
 * key (`"10":`), which plain objects would reorder; then the chat layer's order-preserving reader
 * parses it, and everything but tool `parameters` (which must keep their written order, as the
 * reference's serde_json `preserve_order` does) is turned back into plain objects.
 *
 * @module
 */

import {
  JsonSyntaxError,
  parseJson,
  parseJsonPreservingOrder,
  setDataProperty,
} from "../chat/json_text.ts";

const DIGIT_KEY = /"\d+"\s*:/;

/**
 * Parses a record's JSON text.
 *
 * @throws {SyntaxError} on malformed JSON ("Cannot parse record: …").
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { parseRecordText } from "./record_json.ts";
 * deepStrictEqual(parseRecordText('{"messages": []}'), { messages: [] });
 * ```
 */
export function parseRecordText(text: string): unknown {
  try {
    if (!DIGIT_KEY.test(text)) return parseJson(text);
    return plainExceptParameters(parseJsonPreservingOrder(text));
  } catch (e) {
    throw new SyntaxError(
      `Cannot parse record: ${
        e instanceof JsonSyntaxError ? e.detail : e instanceof Error ? e.message : String(e)
      }`,
      { cause: e },
    );
  }
}

function plainExceptParameters(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plainExceptParameters);
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v as Map<string, unknown>) {
      setDataProperty(out, k, k === "parameters" ? x : plainExceptParameters(x));
    }
    return out;
  }
  return v;
}
