/**
 * Parsing a whole completion (reference: `src/encoding.rs`,
 * `HarmonyEncoding::parse_messages_from_completion_tokens[_with_options]`).
 *
 * @module
 */

import type { Role } from "../chat/role.ts";
import type { Message } from "../chat/message.ts";
import { type ParseOptions, type ParserEncoding, StreamableParser } from "./streamable_parser.ts";

/**
 * Parses the messages of a completion: feeds every token to a {@link StreamableParser}, then
 * signals the end of the stream. Same messages and same success or failure as the reference for
 * every input. O(tokens + bytes).
 *
 * @param encoding anything with the o200k_harmony `tokenizer` (e.g. a `HarmonyEncoding`).
 * @param tokens the completion's token ids.
 * @param role the role of the message the tokens start inside (the reference's Python default is
 * `None`: the tokens start with `<|start|>`); `"assistant"` for the output of a model prompted with
 * `<|start|>assistant`.
 * @param options `{ strict = true }`; non-strict mode recovers from a stop token inside a header.
 * @returns the parsed messages, each with one text content.
 * @throws {HarmonyParseError} on a malformed stream, with the index of the offending token.
 * @throws {RangeError} when a token is not an integer in `[0, 2^32)`.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { parseMessagesFromCompletionTokens } from "./completion.ts";
 * const tokenizer = await loadTokenizer();
 * const ids = tokenizer.encode(
 *   "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final<|message|>Hi<|return|>",
 *   { allowedSpecial: "all" },
 * );
 * const messages = parseMessagesFromCompletionTokens({ tokenizer }, ids, "assistant");
 * deepStrictEqual(messages.map((m) => m.channel), ["analysis", "final"]);
 * ```
 */
export function parseMessagesFromCompletionTokens(
  encoding: ParserEncoding,
  tokens: ArrayLike<number>,
  role?: Role | null,
  options?: ParseOptions,
): Message[] {
  const parser = new StreamableParser(encoding, role, options);
  parser._processAll(tokens).processEos();
  return parser.messages as Message[];
}
