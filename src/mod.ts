/**
 * harmony-engine: render, parse and tokenize OpenAI's harmony chat format (the format of the
 * gpt-oss models) with the o200k_harmony vocabulary, token for token like `openai/harmony`.
 *
 * Importing this module loads no vocabulary and no GPU code; `loadTokenizer()` (and the encoding
 * loaders) load the vocabulary lazily, once.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "harmony-engine";
 * const tok = await loadTokenizer();
 * const ids = tok.encode("<|start|>user<|message|>Hi<|end|>", { allowedSpecial: "all" });
 * tok.decode(ids); // "<|start|>user<|message|>Hi<|end|>"
 * ```
 *
 * @module
 */

export { Author, isRole, parseRole, Role } from "./chat/role.ts";
export {
  ChannelConfig,
  type Content,
  DeveloperContent,
  type JsonMap,
  type JsonObject,
  type JsonValue,
  ReasoningEffort,
  SystemContent,
  TextContent,
  ToolDescription,
  ToolNamespaceConfig,
  type ToolNamespaces,
} from "./chat/content.ts";
export { Conversation, Message } from "./chat/message.ts";
export {
  type EncodeOptions,
  FIRST_SPECIAL_ID,
  harmonySpecialTokens,
  loadTokenizer,
  SpecialToken,
  TokenBuffer,
  type Tokenizer,
  type TokenSink,
  VOCAB_SIZE,
} from "./tokenizer/mod.ts";
