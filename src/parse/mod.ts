/**
 * The harmony parser: completion tokens → messages, whole or streaming, exactly as
 * `openai/harmony` parses them.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { parseMessagesFromCompletionTokens } from "./mod.ts";
 * const tokenizer = await loadTokenizer();
 * const ids = tokenizer.encode("<|start|>assistant<|channel|>final<|message|>Hi<|end|>", {
 *   allowedSpecial: "all",
 * });
 * strictEqual(parseMessagesFromCompletionTokens({ tokenizer }, ids)[0].channel, "final");
 * ```
 *
 * @module
 */

export { HarmonyParseError, type HarmonyParseErrorReason } from "./errors.ts";
export {
  type ParseOptions,
  type ParserEncoding,
  StreamableParser,
  StreamState,
} from "./streamable_parser.ts";
export { parseMessagesFromCompletionTokens } from "./completion.ts";
export {
  messageFromHeader,
  type MessageHeader,
  type ParsedHeader,
  parseHeaderText,
} from "./_header.ts";
