/**
 * `HarmonyEncoding`: the reference's encoding object (reference: `src/encoding.rs`,
 * `src/registry.rs`, and the Python API of `python/openai_harmony/__init__.py` in camelCase).
 * Tokens are returned as `Uint32Array` everywhere.
 *
 * @module
 */

import { Conversation, type Message } from "../chat/message.ts";
import type { Role } from "../chat/role.ts";
import { loadTokenizer } from "../tokenizer/mod.ts";
import { parseMessagesFromCompletionTokens } from "../parse/completion.ts";
import { type ParseOptions, StreamableParser } from "../parse/streamable_parser.ts";
import type { EncodeOptions, Tokenizer } from "../tokenizer/types.ts";
import {
  type FormattingTokens,
  type RenderConversationConfig,
  renderConversationInto,
  renderMessageInto,
  type RenderMode,
  type RenderOptions,
} from "../render/renderer.ts";
import {
  type BatchItem,
  type BatchPlan,
  type BatchRenderOptions,
  DirectSink,
  marksToSpans,
  type MessageSpan,
  planBatch,
  SegmentCache,
} from "../render/plan.ts";
import { encodeBatchCpu, ORDINARY } from "../tokenizer/encoded_batch.ts";

/** Names of the harmony encodings (reference: `HarmonyEncodingName`). */
export type HarmonyEncodingName = "HarmonyGptOss";

/** A conversation, or its messages. */
export type ConversationLike = Conversation | readonly Message[];

/** Options of {@link HarmonyEncoding.renderConversationWithSpans}. */
export interface RenderWithSpansOptions {
  /** `completion` (append `<|start|>` + next role), `conversation`, or `training`. */
  mode: RenderMode;
  /** The next turn's role in `completion` mode. Default: `assistant`. */
  nextRole?: Role;
  /** Conversation config. Default: `{ autoDropAnalysis: true }`. */
  config?: RenderConversationConfig;
}

/**
 * Options of {@link HarmonyEncoding.renderBatch}. (To encode a batch's texts on another
 * backend, e.g. a GPU, use `planBatch` and that backend's `encodeBatch`, or `Engine.renderBatch`.)
 */
export type RenderBatchOptions = BatchRenderOptions;

function messagesOf(c: ConversationLike): readonly Message[] {
  return c instanceof Conversation ? c.messages : c as readonly Message[];
}

const N_CTX = 1_048_576; // 2^20 (reference: src/registry.rs)
const MAX_ACTION_LENGTH = 524_288; // 2^19

function formattingTokens(tok: Tokenizer): FormattingTokens {
  const id = (literal: string): number => {
    const v = tok.specialTokens.get(literal);
    if (v === undefined) {
      throw new RangeError(`Cannot map formatting token: ${literal} is not in ${tok.name}`);
    }
    return v;
  };
  return {
    start: id("<|start|>"),
    message: id("<|message|>"),
    end: id("<|end|>"),
    return: id("<|return|>"),
    call: id("<|call|>"),
    channel: id("<|channel|>"),
    constrain: id("<|constrain|>"),
  };
}

/**
 * Renders conversations to tokens and tokenizes text, token for token as the reference.
 * Create it with {@link loadHarmonyEncoding}.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { loadHarmonyEncoding } from "./harmony_encoding.ts";
 * import { Conversation, Message, Role } from "../mod.ts";
 * const enc = await loadHarmonyEncoding("HarmonyGptOss");
 * const convo = Conversation.fromMessages([Message.fromRoleAndContent(Role.User, "Hi")]);
 * const tokens = enc.renderConversationForCompletion(convo, Role.Assistant);
 * strictEqual(enc.decodeUtf8(tokens), "<|start|>user<|message|>Hi<|end|><|start|>assistant");
 * ```
 */
export class HarmonyEncoding {
  /** The encoding's name, `HarmonyGptOss`. */
  readonly name: HarmonyEncodingName;
  /** The tokenizer (o200k_harmony). */
  readonly tokenizer: Tokenizer;
  /** Context length, 2^20. */
  readonly nCtx: number = N_CTX;
  /** Longest assistant action, 2^19. */
  readonly maxActionLength: number = MAX_ACTION_LENGTH;
  /** Longest message: `nCtx - maxActionLength`. */
  readonly maxMessageTokens: number = N_CTX - MAX_ACTION_LENGTH;
  /** Special-token ids the renderer writes. */
  readonly formattingTokens: Readonly<FormattingTokens>;
  /** Tokens of repeated text (header pieces, system/developer sections); see {@link clearCache}. */
  readonly #cache = new SegmentCache();

  /** Wraps a loaded tokenizer; use {@link loadHarmonyEncoding}. */
  constructor(name: HarmonyEncodingName, tokenizer: Tokenizer) {
    this.name = name;
    this.tokenizer = tokenizer;
    this.formattingTokens = formattingTokens(tokenizer);
  }

  /** The tokenizer's name, `o200k_harmony`. */
  get tokenizerName(): string {
    return this.tokenizer.name;
  }

  // ---- Rendering ---------------------------------------------------------------------------

  #render(
    convo: ConversationLike,
    mode: RenderMode,
    nextRole: Role | undefined,
    config: RenderConversationConfig | undefined,
  ): Uint32Array {
    const sink = new DirectSink(this.tokenizer, this.#cache);
    renderConversationInto(sink, this.formattingTokens, messagesOf(convo), mode, nextRole, config);
    return sink.buf.toArray();
  }

  /**
   * Renders a conversation and opens the next turn: `…<|start|>{nextRole}` (reference:
   * `render_conversation_for_completion`).
   *
   * @param config Default `{ autoDropAnalysis: true }`.
   * @throws {HarmonyRenderError} for a tool message without a name, or system/developer content
   * in another role's message.
   */
  renderConversationForCompletion(
    conversation: ConversationLike,
    nextRole: Role,
    config?: RenderConversationConfig,
  ): Uint32Array {
    return this.#render(conversation, "completion", nextRole, config);
  }

  /**
   * Renders a conversation without opening a turn (reference: `render_conversation`).
   *
   * @param config Default `{ autoDropAnalysis: true }`.
   */
  renderConversation(
    conversation: ConversationLike,
    config?: RenderConversationConfig,
  ): Uint32Array {
    return this.#render(conversation, "conversation", undefined, config);
  }

  /**
   * Renders a conversation for training: as {@link renderConversation}, but when the last message
   * is an assistant `final` message its last token becomes `<|return|>` (reference:
   * `render_conversation_for_training`).
   */
  renderConversationForTraining(
    conversation: ConversationLike,
    config?: RenderConversationConfig,
  ): Uint32Array {
    return this.#render(conversation, "training", undefined, config);
  }

  /**
   * Renders one message (reference: `render`).
   *
   * @param options Default `{ conversationHasFunctionTools: false }`.
   */
  render(message: Message, options?: RenderOptions): Uint32Array {
    const sink = new DirectSink(this.tokenizer, this.#cache);
    renderMessageInto(
      sink,
      this.formattingTokens,
      message,
      options?.conversationHasFunctionTools ?? false,
      0,
    );
    return sink.buf.toArray();
  }

  /**
   * Renders a conversation and reports each rendered message's token span (dropped analysis
   * messages have none).
   *
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { loadHarmonyEncoding } from "./harmony_encoding.ts";
   * import { Message, Role } from "../mod.ts";
   * const enc = await loadHarmonyEncoding("HarmonyGptOss");
   * const { spans } = enc.renderConversationWithSpans(
   *   [Message.fromRoleAndContent(Role.User, "Hi")],
   *   { mode: "conversation" },
   * );
   * deepStrictEqual(spans[0], { messageIndex: 0, role: "user", start: 0, sampledStart: 2, end: 5 });
   * ```
   */
  renderConversationWithSpans(
    conversation: ConversationLike,
    options: RenderWithSpansOptions,
  ): { tokens: Uint32Array; spans: MessageSpan[] } {
    const messages = messagesOf(conversation);
    const sink = new DirectSink(this.tokenizer, this.#cache);
    const marks = renderConversationInto(
      sink,
      this.formattingTokens,
      messages,
      options.mode,
      options.nextRole,
      options.config,
    );
    return { tokens: sink.buf.toArray(), spans: marksToSpans(messages, marks) };
  }

  /**
   * Plans a batch: the rules run for every conversation, the texts to tokenize are collected
   * (deduplicated; cached ones resolved). Encode `plan.texts` with any `BatchEncoder` (e.g. the
   * GPU, asynchronously) and `ORDINARY` options, and call `plan.finish(batch)`.
   *
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { loadHarmonyEncoding } from "./harmony_encoding.ts";
   * import { encodeBatchCpu, Message, ORDINARY, Role } from "../mod.ts";
   * const enc = await loadHarmonyEncoding("HarmonyGptOss");
   * const plan = enc.planBatch([[Message.fromRoleAndContent(Role.User, "Hi")]], { mode: "conversation" });
   * const items = plan.finish(encodeBatchCpu(enc.tokenizer, plan.texts, ORDINARY));
   * deepStrictEqual(items[0].tokens, new Uint32Array([200006, 1428, 200008, 12194, 200007]));
   * ```
   */
  planBatch(
    conversations: ReadonlyArray<ConversationLike>,
    options: BatchRenderOptions,
  ): BatchPlan {
    return planBatch(conversations.map(messagesOf), this.formattingTokens, options, this.#cache);
  }

  /**
   * Renders many conversations, synchronously; their texts are encoded together by the CPU
   * tokenizer into one packed batch (`encodeBatchCpu`). A conversation that breaks a rendering rule gets `{ error }`; the others
   * are rendered. Each item also carries the message spans.
   *
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { loadHarmonyEncoding } from "./harmony_encoding.ts";
   * import { Message, Role } from "../mod.ts";
   * const enc = await loadHarmonyEncoding("HarmonyGptOss");
   * const [a] = enc.renderBatch([[Message.fromRoleAndContent(Role.User, "Hi")]], {
   *   mode: "completion",
   *   nextRole: Role.Assistant,
   * });
   * strictEqual(a.tokens?.length, 7);
   * ```
   */
  renderBatch(
    conversations: ReadonlyArray<ConversationLike>,
    options: RenderBatchOptions,
  ): BatchItem[] {
    const plan = this.planBatch(conversations, options);
    return plan.finish(encodeBatchCpu(this.tokenizer, plan.texts, ORDINARY));
  }

  /** Empties the cache of repeated-text tokens (bounded: 4096 texts, 2^22 tokens). */
  clearCache(): void {
    this.#cache.clear();
  }

  // ---- Parsing -------------------------------------------------------------------------------

  /**
   * Parses completion tokens into messages, exactly as the reference's
   * `parse_messages_from_completion_tokens` (see `src/parse/completion.ts`).
   *
   * @param tokens The completion's token ids.
   * @param role The role the completion was sampled for (`"assistant"` when the prompt ended with
   * `<|start|>assistant`), or `null` (the default, as the reference's) when it starts with `<|start|>`.
   * @param options `strict` (default true): reject header leftovers and stop tokens inside headers.
   * @throws {HarmonyParseError} on a malformed token stream (with `tokenIndex`).
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { loadHarmonyEncoding } from "./mod.ts";
   * const enc = await loadHarmonyEncoding("HarmonyGptOss");
   * const ids = enc.encode("<|channel|>final<|message|>Hi<|return|>", { allowedSpecial: "all" });
   * strictEqual(enc.parseMessagesFromCompletionTokens(ids, "assistant")[0].channel, "final");
   * ```
   */
  parseMessagesFromCompletionTokens(
    tokens: ArrayLike<number>,
    role: Role | null = null,
    options?: ParseOptions,
  ): Message[] {
    return parseMessagesFromCompletionTokens(this, tokens, role, options);
  }

  /**
   * A streaming parser over this encoding (reference: `StreamableParser::new(encoding, role)`).
   *
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { loadHarmonyEncoding } from "./mod.ts";
   * const enc = await loadHarmonyEncoding("HarmonyGptOss");
   * const parser = enc.streamableParser("assistant");
   * for (const t of enc.encode("<|channel|>final<|message|>Hi<|end|>", { allowedSpecial: "all" })) {
   *   parser.process(t);
   * }
   * strictEqual(parser.messages.length, 1);
   * ```
   */
  streamableParser(role: Role | null = null, options?: ParseOptions): StreamableParser {
    return new StreamableParser(this, role, options);
  }

  // ---- Stop tokens ---------------------------------------------------------------------------

  /** `<|return|>`, `<|end|>`, `<|call|>`: the tokens that end a sampled message (sorted). */
  stopTokens(): Uint32Array {
    const t = this.formattingTokens;
    return Uint32Array.from([t.return, t.end, t.call]).sort();
  }

  /** `<|return|>`, `<|call|>`: the tokens that end an assistant action (sorted). */
  stopTokensForAssistantActions(): Uint32Array {
    const t = this.formattingTokens;
    return Uint32Array.from([t.return, t.call]).sort();
  }

  // ---- Tokenizer pass-throughs ---------------------------------------------------------------

  /**
   * Encodes text (tiktoken semantics: by default special-token text is an error; see
   * `EncodeOptions`).
   */
  encode(text: string, options?: EncodeOptions): Uint32Array {
    return this.tokenizer.encode(text, options);
  }

  /** Encodes text; special-token text is ordinary text. */
  encodeOrdinary(text: string): Uint32Array {
    return this.tokenizer.encodeOrdinary(text);
  }

  /** Encodes text with every special-token literal as its id. */
  encodeWithSpecialTokens(text: string): Uint32Array {
    return this.tokenizer.encode(text, { allowedSpecial: "all" });
  }

  /** Decodes tokens to text; invalid UTF-8 becomes U+FFFD. @throws {RangeError} on an unknown id. */
  decode(tokens: ArrayLike<number>): string {
    return this.tokenizer.decode(tokens);
  }

  /**
   * Decodes tokens to text, strictly.
   *
   * @throws {RangeError} on an unknown id; {@link SyntaxError} when the bytes are not UTF-8.
   */
  decodeUtf8(tokens: ArrayLike<number>): string {
    const bytes = this.tokenizer.decodeBytes(tokens);
    try {
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch (e) {
      throw new SyntaxError("Cannot decode tokens: the bytes are not valid UTF-8", { cause: e });
    }
  }

  /** Decodes tokens to bytes. @throws {RangeError} on an unknown id. */
  decodeBytes(tokens: ArrayLike<number>): Uint8Array {
    return this.tokenizer.decodeBytes(tokens);
  }

  /** Whether `token` is a special token. */
  isSpecialToken(token: number): boolean {
    return this.tokenizer.isSpecial(token);
  }

  /** All special-token literals. */
  specialTokens(): string[] {
    return [...this.tokenizer.specialTokens.keys()];
  }

  /** All special-token literals as a set (reference Python: `special_tokens_set`). */
  get specialTokensSet(): ReadonlySet<string> {
    return this.#specialSet ??= new Set(this.tokenizer.specialTokens.keys());
  }
  #specialSet: Set<string> | undefined;
}

/**
 * Loads a harmony encoding (reference: `load_harmony_encoding`), once: later calls return the
 * same instance.
 *
 * @throws {RangeError} for an unknown encoding name.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { loadHarmonyEncoding } from "./harmony_encoding.ts";
 * const enc = await loadHarmonyEncoding("HarmonyGptOss");
 * strictEqual(enc.tokenizerName, "o200k_harmony");
 * ```
 */
export function loadHarmonyEncoding(name: HarmonyEncodingName): Promise<HarmonyEncoding> {
  if (name !== "HarmonyGptOss") {
    return Promise.reject(
      new RangeError(`Cannot load harmony encoding: unknown name "${String(name).slice(0, 32)}"`),
    );
  }
  return loaded ??= loadTokenizer().then((tok) => new HarmonyEncoding(name, tok));
}

let loaded: Promise<HarmonyEncoding> | undefined;
