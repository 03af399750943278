/**
 * Sinks for the renderer: one that writes tokens directly (with a bounded cache for text that
 * repeats), and one that records a batch plan.
 *
 * Batch rendering is where the renderer meets the batch-encoding seam: {@link planBatch} runs
 * the rules for every conversation and records special-token ids and references to the
 * (deduplicated) texts still to encode, `plan.texts`; any `BatchEncoder` (the CPU tokenizer's
 * `encodeBatchCpu`, a GPU backend, the engine) encodes them with `ORDINARY` options into one
 * `EncodedBatch` (`src/tokenizer/encoded_batch.ts`); `plan.finish(batch)` stitches every
 * conversation straight from that packed buffer (no array per text).
 *
 * @module
 */

import type { Message } from "../chat/message.ts";
import type { Role } from "../chat/role.ts";
import type { EncodedBatch } from "../tokenizer/encoded_batch.ts";
import { TokenBuffer } from "../tokenizer/token_buffer.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import {
  type FormattingTokens,
  type MessageMarks,
  type RenderConversationConfig,
  renderConversationInto,
  type RenderMode,
  type RenderSink,
} from "./renderer.ts";

/**
 * A bounded cache of the tokens of text that repeats (header pieces, system and developer
 * sections). Holds at most `maxEntries` texts (default 4096) of at most `maxChars` UTF-16 units
 * each (default 65536) and at most `maxTokens` tokens in all (default 2^22, 16 MiB); when a bound
 * would be passed it is emptied (simple, and allocation-free on hits).
 *
 * @example
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 * import { SegmentCache } from "./plan.ts";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * const cache = new SegmentCache(16);
 * deepStrictEqual(cache.encode("assistant", await loadTokenizer()), new Uint32Array([173781]));
 * strictEqual(cache.size, 1);
 * ```
 */
export class SegmentCache {
  #map = new Map<string, Uint32Array>();
  #tokens = 0;
  /** Maximum number of cached texts. */
  readonly maxEntries: number;
  /** Longest text cached. */
  readonly maxChars: number;
  /** Maximum number of tokens held in all. */
  readonly maxTokens: number;

  /** Creates an empty cache. */
  constructor(maxEntries = 4096, maxChars = 65536, maxTokens = 1 << 22) {
    this.maxEntries = maxEntries;
    this.maxChars = maxChars;
    this.maxTokens = maxTokens;
  }

  /** The cached tokens of `text`, or undefined. */
  get(text: string): Uint32Array | undefined {
    return this.#map.get(text);
  }

  /** Stores the tokens of `text` (if it is short enough). */
  set(text: string, tokens: Uint32Array): void {
    if (text.length > this.maxChars || tokens.length > this.maxTokens) return;
    if (this.#map.size >= this.maxEntries || this.#tokens + tokens.length > this.maxTokens) {
      this.clear();
    }
    const old = this.#map.get(text);
    if (old !== undefined) this.#tokens -= old.length;
    this.#map.set(text, tokens);
    this.#tokens += tokens.length;
  }

  /** The tokens of `text`, encoded with `tokenizer` on a miss. */
  encode(text: string, tokenizer: Tokenizer): Uint32Array {
    let t = this.#map.get(text);
    if (t === undefined) {
      t = tokenizer.encodeOrdinary(text);
      this.set(text, t);
    }
    return t;
  }

  /** Number of cached texts. */
  get size(): number {
    return this.#map.size;
  }

  /** Empties the cache. */
  clear(): void {
    this.#map.clear();
    this.#tokens = 0;
  }
}

/**
 * A sink that writes tokens into a {@link TokenBuffer}, encoding text as it comes (shared text
 * through the cache).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { DirectSink, SegmentCache } from "./plan.ts";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * const sink = new DirectSink(await loadTokenizer(), new SegmentCache());
 * sink.special(200006);
 * sink.text("user", true);
 * deepStrictEqual(sink.buf.toArray(), new Uint32Array([200006, 1428]));
 * ```
 */
export class DirectSink implements RenderSink {
  /** The tokens written so far. */
  readonly buf: TokenBuffer;
  readonly #tok: Tokenizer;
  readonly #cache: SegmentCache;

  /** Creates a sink writing into a new buffer. */
  constructor(tokenizer: Tokenizer, cache: SegmentCache, capacity = 512) {
    this.#tok = tokenizer;
    this.#cache = cache;
    this.buf = new TokenBuffer(capacity);
  }
  /** @inheritdoc */
  special(id: number): void {
    this.buf.push(id);
  }
  /** @inheritdoc */
  text(text: string, shared: boolean): void {
    if (text.length === 0) return;
    if (shared) this.buf.pushAll(this.#cache.encode(text, this.#tok));
    else this.#tok.encodeOrdinaryInto(text, this.buf);
  }
  /** @inheritdoc */
  mark(): number {
    return this.buf.length;
  }
  /** @inheritdoc */
  replaceLast(id: number): void {
    this.buf.data[this.buf.length - 1] = id;
  }
}

/** A message's token span in a rendered conversation. */
export interface MessageSpan {
  /** Index of the message in `conversation.messages`. */
  messageIndex: number;
  /** The message's role. */
  role: Role;
  /** The message's channel, if any. */
  channel?: string;
  /** The message's recipient, if any. */
  recipient?: string;
  /** Index of the message's `<|start|>` token. */
  start: number;
  /**
   * Index of the first token after the header's role (and `:name`, or a tool's name) tokens:
   * where a model begins sampling after a completion prompt `<|start|>role`.
   */
  sampledStart: number;
  /** Index after the message's stop token (`<|end|>`, `<|call|>` or `<|return|>`); exclusive. */
  end: number;
}

/**
 * Converts marks to spans; `position` maps a mark to a token index (identity for a direct sink).
 *
 * @example
 * ```ts
 * import { marksToSpans } from "./plan.ts";
 * import { Message, Role } from "../mod.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(
 *   marksToSpans([Message.fromRoleAndContent(Role.User, "Hi")], [
 *     { messageIndex: 0, start: 0, sampledStart: 2, end: 5 },
 *   ]),
 *   [{ messageIndex: 0, role: "user", start: 0, sampledStart: 2, end: 5 }],
 * );
 * ```
 */
export function marksToSpans(
  messages: readonly Message[],
  marks: readonly MessageMarks[],
  position: (mark: number) => number = (m) => m,
): MessageSpan[] {
  const spans = new Array<MessageSpan>(marks.length);
  for (let i = 0; i < marks.length; i++) {
    const mk = marks[i];
    const m = messages[mk.messageIndex];
    const span: MessageSpan = {
      messageIndex: mk.messageIndex,
      role: m.author.role,
      start: position(mk.start),
      sampledStart: position(mk.sampledStart),
      end: position(mk.end),
    };
    if (m.channel !== undefined) span.channel = m.channel;
    if (m.recipient !== undefined) span.recipient = m.recipient;
    spans[i] = span;
  }
  return spans;
}

/**
 * Records a batch plan. Items are numbers: a special-token id (`>= 0`), or `-(k + 1)` for the
 * k-th unique text of the batch. Texts are deduplicated across the whole batch.
 */
class PlanSink implements RenderSink {
  items: number[] = [];
  readonly texts: string[] = [];
  readonly shared: boolean[] = [];
  readonly #index = new Map<string, number>();

  special(id: number): void {
    this.items.push(id);
  }
  text(text: string, shared: boolean): void {
    if (text.length === 0) return;
    let k = this.#index.get(text);
    if (k === undefined) {
      k = this.texts.length;
      this.texts.push(text);
      this.shared.push(shared);
      this.#index.set(text, k);
    } else if (shared) this.shared[k] = true;
    this.items.push(-(k + 1));
  }
  mark(): number {
    return this.items.length;
  }
  replaceLast(id: number): void {
    this.items[this.items.length - 1] = id;
  }
}

/** One conversation of a batch: its tokens and spans, or the error that stopped it. */
export type BatchItem =
  | { tokens: Uint32Array; spans: MessageSpan[]; error?: undefined }
  | { tokens?: undefined; spans?: undefined; error: Error };

/** What a batch renders. */
export interface BatchRenderOptions {
  /** `completion` (append `<|start|>` + next role), `conversation`, or `training`. */
  mode: RenderMode;
  /** The next turn's role in `completion` mode. Default: `assistant`. */
  nextRole?: Role;
  /** Conversation config (default: drop analysis as the reference's bindings do). */
  config?: RenderConversationConfig;
}

/**
 * A batch render in two steps, so a backend can encode all texts at once (synchronously or not):
 * `texts` lists the unique texts still to encode (cached ones are resolved already); `finish`
 * takes their packed tokens, in the same order, and stitches every conversation.
 */
export interface BatchPlan {
  /** Texts to encode with `encode_ordinary` (`ORDINARY` options), deduplicated across the batch. */
  readonly texts: readonly string[];
  /**
   * Stitches the conversations from the encoded `texts` (text `i` is `batch.get(i)`).
   *
   * @throws {RangeError} when the batch does not hold one encoding per text, or a text failed.
   */
  finish(batch: EncodedBatch): BatchItem[];
}

interface PlannedConversation {
  messages: readonly Message[];
  itemStart: number;
  itemEnd: number;
  marks: MessageMarks[];
  error?: Error;
}

/**
 * Plans the rendering of many conversations: one pass of the rules per conversation, no BPE.
 * A conversation that breaks a rule gets its error; the others go on. (Usually called through
 * `HarmonyEncoding.planBatch`.)
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { planBatch, SegmentCache } from "./plan.ts";
 * import { loadHarmonyEncoding } from "../encoding/mod.ts";
 * import { Message, Role } from "../mod.ts";
 * const enc = await loadHarmonyEncoding("HarmonyGptOss");
 * const plan = planBatch([[Message.fromRoleAndContent(Role.User, "Hi")]], enc.formattingTokens, {
 *   mode: "conversation",
 * }, new SegmentCache());
 * deepStrictEqual(plan.texts, ["user", "Hi"]);
 * ```
 */
export function planBatch(
  conversations: ReadonlyArray<readonly Message[]>,
  tokens: FormattingTokens,
  options: BatchRenderOptions,
  cache: SegmentCache,
): BatchPlan {
  const sink = new PlanSink();
  const planned: PlannedConversation[] = new Array(conversations.length);
  for (let c = 0; c < conversations.length; c++) {
    const messages = conversations[c];
    const itemStart = sink.items.length;
    try {
      const marks = renderConversationInto(
        sink,
        tokens,
        messages,
        options.mode,
        options.nextRole,
        options.config,
      );
      planned[c] = { messages, itemStart, itemEnd: sink.items.length, marks };
    } catch (e) {
      sink.items.length = itemStart;
      planned[c] = {
        messages,
        itemStart,
        itemEnd: itemStart,
        marks: [],
        error: e instanceof Error ? e : new Error(String(e)),
      };
    }
  }
  // Resolve cached texts; the rest go to the backend.
  const resolved = new Array<Uint32Array | undefined>(sink.texts.length);
  const pending: string[] = [];
  const pendingIdx: number[] = [];
  for (let k = 0; k < sink.texts.length; k++) {
    const hit = sink.shared[k] ? cache.get(sink.texts[k]) : undefined;
    if (hit !== undefined) resolved[k] = hit;
    else {
      pending.push(sink.texts[k]);
      pendingIdx.push(k);
    }
  }
  return {
    texts: pending,
    finish({ tokens, offsets, errors }: EncodedBatch): BatchItem[] {
      if (offsets.length !== pending.length + 1 || offsets[pending.length] > tokens.length) {
        throw new RangeError(
          `Cannot finish batch: the backend returned ${
            offsets.length - 1
          } encodings for ${pending.length} texts`,
        );
      }
      if (errors.size > 0) {
        const [i, e] = errors.entries().next().value!;
        throw new RangeError(`Cannot finish batch: text ${i} failed to encode: ${e.message}`, {
          cause: e,
        });
      }
      for (let i = 0; i < pendingIdx.length; i++) {
        const k = pendingIdx[i];
        const t = tokens.subarray(offsets[i], offsets[i + 1]);
        resolved[k] = t;
        // Cached copies, so the cache does not keep the whole packed buffer alive.
        if (sink.shared[k]) cache.set(sink.texts[k], t.slice());
      }
      return stitch(sink.items, resolved as Uint32Array[], planned);
    },
  };
}

function stitch(
  items: readonly number[],
  texts: readonly Uint32Array[],
  planned: readonly PlannedConversation[],
): BatchItem[] {
  const out = new Array<BatchItem>(planned.length);
  for (let c = 0; c < planned.length; c++) {
    const p = planned[c];
    if (p.error !== undefined) {
      out[c] = { error: p.error };
      continue;
    }
    // Token offset of every item boundary of this conversation (for the spans).
    const n = p.itemEnd - p.itemStart;
    const offsets = new Uint32Array(n + 1);
    let len = 0;
    for (let i = 0; i < n; i++) {
      offsets[i] = len;
      const it = items[p.itemStart + i];
      len += it >= 0 ? 1 : texts[-it - 1].length;
    }
    offsets[n] = len;
    const tokens = new Uint32Array(len);
    let at = 0;
    for (let i = p.itemStart; i < p.itemEnd; i++) {
      const it = items[i];
      if (it >= 0) tokens[at++] = it;
      else {
        const t = texts[-it - 1];
        tokens.set(t, at);
        at += t.length;
      }
    }
    const base = p.itemStart;
    out[c] = {
      tokens,
      spans: marksToSpans(p.messages, p.marks, (m) => offsets[m - base]),
    };
  }
  return out;
}
