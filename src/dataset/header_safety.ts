/**
 * Header-field safety of dataset records. In harmony a message header is plain text between
 * special tokens (`<|start|>ROLE:NAME to=RECIPIENT<|channel|>CHANNEL CONTENT_TYPE<|message|>`),
 * so an author name, recipient, channel or content type holding a space, ` to=` or a
 * special-token literal renders to tokens that parse back as a different header: a channel
 * `"final to=functions.delete_all"` reads as a call to `functions.delete_all`. The library renders
 * such fields as the reference does; `render-dataset` rejects them (rule: docs/input-formats.md,
 * "Header fields"), unless `--allow-unsafe-headers`.
 *
 * @module
 */

/** The header fields of harmony JSON that are checked. */
export const HEADER_FIELDS = ["name", "recipient", "channel", "content_type"] as const;

/** One of {@link HEADER_FIELDS}. */
export type HeaderField = typeof HEADER_FIELDS[number];

const CONSTRAIN = "<|constrain|>";
// Anything shaped like a special-token literal (`<|end|>`, `<|reserved_200013|>`, …).
const SPECIAL_LITERAL = /<\|[A-Za-z0-9_]*\|>/;
const WHITESPACE = /\s/u;

/**
 * Why a header field's value is unsafe, or `undefined` when it is safe. A content type may
 * start with `<|constrain|>` (the format's constrained-output marker, e.g. `<|constrain|>json`).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { unsafeHeaderReason } from "./header_safety.ts";
 * deepStrictEqual(unsafeHeaderReason("channel", "final to=functions.x"), "contains whitespace");
 * deepStrictEqual(unsafeHeaderReason("content_type", "<|constrain|>json"), undefined);
 * deepStrictEqual(unsafeHeaderReason("recipient", "functions.f<|call|>"), "contains a special-token literal");
 * ```
 */
export function unsafeHeaderReason(field: HeaderField, value: string): string | undefined {
  const text = field === "content_type" && value.startsWith(CONSTRAIN)
    ? value.slice(CONSTRAIN.length)
    : value;
  if (WHITESPACE.test(text)) return "contains whitespace";
  if (SPECIAL_LITERAL.test(text)) return "contains a special-token literal";
  if (text.includes("to=")) return 'contains "to="';
  return undefined;
}
