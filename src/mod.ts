/**
 * harmony-engine: render, parse and tokenize OpenAI's harmony chat format (the format of the
 * gpt-oss models) with the o200k_harmony vocabulary, token for token like `openai/harmony`.
 *
 * Importing this module loads no vocabulary and no GPU code; `loadTokenizer()` (and the encoding
 * loaders) load the vocabulary lazily, once.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { loadTokenizer } from "harmony-engine";
 * const tok = await loadTokenizer();
 * const ids = tok.encode("<|start|>user<|message|>Hi<|end|>", { allowedSpecial: "all" });
 * strictEqual(tok.decode(ids), "<|start|>user<|message|>Hi<|end|>");
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
export { JsonFloat } from "./chat/content.ts";
export {
  type ChannelConfigJson,
  type ContentJson,
  conversationFromJson,
  conversationToJson,
  conversationToJsonText,
  type DeveloperContentJson,
  messageFromJson,
  type MessageJson,
  messageToJson,
  messageToJsonText,
  type SystemContentJson,
  type TextContentJson,
  type ToolDescriptionJson,
  type ToolNamespaceJson,
} from "./chat/json.ts";
export {
  formatFloat,
  parseJsonPreservingOrder,
  sortKeysAsBTreeMap,
  stringifyJson,
} from "./chat/json_text.ts";
export {
  type ConversationLike,
  HarmonyEncoding,
  type HarmonyEncodingName,
  loadHarmonyEncoding,
  type RenderBatchOptions,
  type RenderWithSpansOptions,
} from "./encoding/mod.ts";
export {
  type BatchItem,
  type BatchPlan,
  type BatchRenderOptions,
  HarmonyRenderError,
  jsonSchemaToTypescript,
  type MessageSpan,
  type RenderConversationConfig,
  type RenderMode,
  type RenderOptions,
} from "./render/mod.ts";
export {
  type EncodeOptions,
  FIRST_SPECIAL_ID,
  harmonySpecialTokens,
  type HarmonyTokenizer,
  loadTokenizer,
  SpecialToken,
  TokenBuffer,
  type Tokenizer,
  type TokenSink,
  VOCAB_SIZE,
} from "./tokenizer/mod.ts";
export {
  type BatchEncoder,
  encodeBatchCpu,
  EncodedBatch,
  ORDINARY,
} from "./tokenizer/encoded_batch.ts";
export {
  HarmonyParseError,
  type HarmonyParseErrorReason,
  parseMessagesFromCompletionTokens,
  type ParseOptions,
  type ParserEncoding,
  StreamableParser,
  StreamState,
} from "./parse/mod.ts";
export {
  analyzeCompletion,
  type AnalyzeOptions,
  type CompletionResult,
  type CompletionStatus,
  type StopKind,
  type ToolCallResult,
} from "./evals/completion.ts";
export {
  type Backend,
  type BackendKind,
  type BatchStats,
  createEngine,
  type Engine,
  type EngineInfo,
  type EngineOptions,
  GpuUnavailableError,
  openBackend,
  type ParseBatchOptions,
  type ParsedCompletion,
} from "./engine/mod.ts";
