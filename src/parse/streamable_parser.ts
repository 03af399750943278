/**
 * The incremental harmony parser (reference: `src/encoding.rs`, `StreamableParser`): feed it
 * completion tokens one at a time and read the messages parsed so far and the partial state of the
 * current one.
 *
 * Exactness: the observable state after every token (role, channel, recipient, content type,
 * content, last content delta, state, messages) is the reference's, including its handling of
 * UTF-8 split across tokens and of invalid bytes — at most one invalid sequence becomes U+FFFD per
 * token, bytes after it wait for the next token, and an unknown token id freezes the content until
 * the message ends, where it becomes one U+FFFD placed before the bytes still pending.
 *
 * Cost: O(1) amortized per token plus O(bytes): content bytes are appended to a buffer owned by
 * the parser and validated incrementally; text is decoded once per message (and on demand by
 * `currentContent` / `lastContentDelta`), never re-tokenized as the reference does. The delta of
 * a token whose bytes are valid UTF-8 on their own, arriving with no bytes pending (the common
 * case), is that token's text, decoded once per tokenizer and cached by id; other deltas (split
 * characters, invalid bytes) are decoded from the byte buffer when read.
 *
 * @module
 */

import type { Role } from "../chat/role.ts";
import type { Message } from "../chat/message.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import { TokenBuffer } from "../tokenizer/token_buffer.ts";
import { HarmonyParseError } from "./errors.ts";
import {
  leftoversError,
  messageFromHeader,
  type ParsedHeader,
  parseHeaderText,
} from "./_header.ts";
import { utf8Sequence } from "./_utf8.ts";
import { type ByteTable, byteTable, tokenText } from "./_byte_table.ts";

/** What the parser needs of an encoding: its tokenizer (a `HarmonyEncoding` fits). */
export interface ParserEncoding {
  /** The o200k_harmony tokenizer. */
  readonly tokenizer: Tokenizer;
}

/** Parser options. */
export interface ParseOptions {
  /**
   * Strict mode (default `true`, as the reference). Non-strict mode recovers from a stop token
   * (`<|end|>`, `<|call|>`, `<|return|>`) inside a header: the first message's header text
   * becomes its content (after role and channel), other cut headers are dropped.
   */
  strict?: boolean;
}

/** The parser's state, with the reference's names. */
export const StreamState = {
  /** Waiting for `<|start|>`. */
  ExpectStart: "ExpectStart",
  /** Reading a header, up to `<|message|>`. */
  Header: "Header",
  /** Reading content, up to a stop token. */
  Content: "Content",
} as const;

/** `"ExpectStart" | "Header" | "Content"`. */
export type StreamState = typeof StreamState[keyof typeof StreamState];

const EXPECT_START = 0;
const HEADER = 1;
const CONTENT = 2;
const STATE_NAMES: readonly StreamState[] = ["ExpectStart", "Header", "Content"];
const REPLACEMENT = "\uFFFD";
// Stateless (never called with `stream: true`), so shared by every parser.
const LOSSY = new TextDecoder("utf-8", { ignoreBOM: true });
const FATAL = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });

// Parsed headers by (given role, header token ids), shared by the parsers of one tokenizer (real
// completions repeat a handful of headers). Bounded: cleared when full. Entries are never mutated.
const MAX_CACHED_HEADER = 24;
const HEADER_CACHE_SIZE = 512;

function specialId(tok: Tokenizer, literal: string): number {
  const id = tok.specialTokens.get(literal);
  if (id === undefined) {
    throw new TypeError(`Cannot create parser: the tokenizer has no ${literal} token`);
  }
  return id;
}

/**
 * Parses harmony completion tokens incrementally.
 *
 * Constructed with a role, the parser starts inside the header of a message by that role (the
 * tokens of a completion that follows `<|start|>assistant`); with `null` it expects `<|start|>`
 * first.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { StreamableParser } from "./streamable_parser.ts";
 * const tokenizer = await loadTokenizer();
 * const parser = new StreamableParser({ tokenizer }, "assistant");
 * const ids = tokenizer.encode("<|channel|>final<|message|>Hi!<|return|>", { allowedSpecial: "all" });
 * for (const id of ids) {
 *   parser.process(id);
 *   if (parser.lastContentDelta !== undefined) console.log(parser.lastContentDelta);
 * }
 * strictEqual(parser.messages[0].channel, "final");
 * ```
 */
export class StreamableParser {
  readonly #table: ByteTable;
  readonly #tb: Uint8Array; // all token bytes (see _byte_table.ts)
  readonly #to: Uint32Array; // token id -> offset in #tb
  readonly #texts: (string | null | undefined)[]; // token id -> its text, if self-contained
  readonly #headerCache: Map<string, ParsedHeader>;
  readonly #strict: boolean;
  readonly #vocabSize: number;
  readonly #start: number;
  readonly #message: number;
  readonly #stopEnd: number;
  readonly #stopReturn: number;
  readonly #stopCall: number;
  readonly #messages: Message[] = [];
  #tokens: Uint32Array | undefined = new Uint32Array(256); // [0, #count) given to process
  #count = 0;
  #state = EXPECT_START;
  #nextRole: Role | undefined;
  readonly #header = new TokenBuffer(64);
  #parsed: ParsedHeader | undefined;
  // Content bytes of the current message: [0, #p) is emitted (the reference's content tokens),
  // [#p, #len) is pending (the reference's undecoded bytes).
  #bytes = new Uint8Array(1024);
  #len = 0;
  #p = 0;
  #stuck = false; // an unknown token id arrived (the reference's undecoded tokens are non-empty)
  #deltaStart = -1; // last content delta is [#deltaStart, #deltaEnd) of #bytes, or none
  #deltaEnd = 0;
  #deltaText: string | undefined; // the delta's text once known (set with #deltaStart)
  #cache = ""; // decoded [0, #cacheEnd)
  #cacheEnd = 0;

  /**
   * Creates a parser.
   *
   * @param encoding anything with the o200k_harmony `tokenizer` (e.g. a `HarmonyEncoding`).
   * @param role the role of the message the tokens start inside, or `null` when they start with
   * `<|start|>`.
   * @param options `{ strict = true }`.
   * @throws {TypeError} when the tokenizer lacks a harmony special token.
   */
  constructor(encoding: ParserEncoding, role: Role | null | undefined, options: ParseOptions = {}) {
    const tok = encoding.tokenizer;
    const table = byteTable(tok);
    this.#table = table;
    this.#tb = table.bytes;
    this.#to = table.offsets;
    this.#texts = table.texts;
    this.#headerCache = table.headers as Map<string, ParsedHeader>;
    this.#strict = options.strict ?? true;
    this.#vocabSize = tok.vocabSize;
    this.#start = specialId(tok, "<|start|>");
    this.#message = specialId(tok, "<|message|>");
    this.#stopEnd = specialId(tok, "<|end|>");
    this.#stopReturn = specialId(tok, "<|return|>");
    this.#stopCall = specialId(tok, "<|call|>");
    if (role !== null && role !== undefined) {
      this.#state = HEADER;
      this.#nextRole = role;
    }
  }

  /**
   * Consumes one token.
   *
   * @throws {HarmonyParseError} on a token the format does not allow here (the token is still
   * recorded in `tokens`, and the state is the reference's after the same error).
   * @throws {RangeError} when `token` is not an integer in `[0, 2^32)` (not recorded).
   */
  process(token: number): this {
    if ((token >>> 0) !== token) {
      throw new RangeError(
        `Cannot parse token: ${
          String(token).slice(0, 32)
        } at index ${this.#count} is not a token id`,
      );
    }
    const index = this.#count++;
    const tokens = this.#tokens;
    if (tokens !== undefined) {
      if (index < tokens.length) tokens[index] = token;
      else this.#record(token, index);
    }
    this.#step(token, index);
    return this;
  }

  #record(token: number, index: number): void {
    const next = new Uint32Array(this.#tokens!.length * 2);
    next.set(this.#tokens!);
    next[index] = token;
    this.#tokens = next;
  }

  /**
   * Signals the end of the stream: finishes a message whose content was being read.
   *
   * @throws {HarmonyParseError} `eos-in-header` when the stream ends inside a header.
   */
  processEos(): this {
    if (this.#state === CONTENT) this.#finishMessage();
    else if (this.#state === HEADER) {
      throw new HarmonyParseError(
        "eos-in-header",
        this.#count,
        `Cannot parse completion: unexpected end of stream at token ${this.#count} while waiting for message header to complete`,
      );
    }
    return this;
  }

  /**
   * Parses a whole token array without recording it in `tokens` (what
   * `parseMessagesFromCompletionTokens` uses).
   *
   * @internal
   */
  _processAll(tokens: ArrayLike<number>): this {
    this.#tokens = undefined;
    const n = tokens.length;
    for (let i = 0; i < n; i++) {
      const t = tokens[i];
      if ((t >>> 0) !== t) {
        throw new RangeError(
          `Cannot parse token: ${String(t).slice(0, 32)} at index ${i} is not a token id`,
        );
      }
      this.#step(t, this.#count++);
    }
    return this;
  }

  #step(token: number, index: number): void {
    const state = this.#state;
    if (state === CONTENT) {
      if (token === this.#stopEnd || token === this.#stopCall || token === this.#stopReturn) {
        this.#finishMessage();
      } else this.#content(token);
    } else if (state === HEADER) {
      if (token === this.#message) this.#endHeader(index);
      else if (
        !this.#strict &&
        (token === this.#stopEnd || token === this.#stopCall || token === this.#stopReturn)
      ) this.#recoverHeader(index);
      else this.#header.push(token);
    } else if (token === this.#start) {
      this.#header.clear();
      this.#state = HEADER;
    } else {
      throw new HarmonyParseError(
        "unexpected-token",
        index,
        `Cannot parse completion: unexpected token ${token} at index ${index} while expecting start token ${this.#start}`,
      );
    }
  }

  #content(token: number): void {
    if (this.#stuck) {
      this.#deltaStart = -1;
      return;
    }
    if (token >= this.#vocabSize) {
      // The reference cannot decode it and keeps every later token undecoded.
      this.#stuck = true;
      this.#deltaStart = -1;
      return;
    }
    const tb = this.#tb;
    const s = this.#to[token];
    const n = this.#to[token + 1] - s;
    let len = this.#len;
    let b = this.#bytes;
    if (len + n > b.length) b = this.#grow(len + n);
    for (let i = 0; i < n; i++) b[len + i] = tb[s + i];
    const p = this.#p;
    if (p === len) {
      // Nothing pending: a token whose bytes are valid UTF-8 on their own is emitted whole, and
      // its text (decoded once per tokenizer) is the delta.
      let text = this.#texts[token];
      if (text === undefined) text = tokenText(this.#table, token);
      if (text !== null) {
        this.#deltaStart = p;
        this.#deltaEnd = this.#p = this.#len = len + n;
        this.#deltaText = text;
        return;
      }
    }
    this.#deltaText = undefined;
    len += n;
    this.#len = len;
    // Rust's String::from_utf8 on the pending bytes: emit the valid prefix, then at most one
    // invalid sequence as U+FFFD; an incomplete sequence at the end waits.
    let i = p;
    let r = 1;
    while (i < len) {
      if (b[i] < 0x80) {
        i++;
        continue;
      }
      r = utf8Sequence(b, i, len);
      if (r <= 0) break;
      i += r;
    }
    if (i === len) {
      this.#deltaStart = p;
      this.#deltaEnd = this.#p = len;
    } else if (r === 0) {
      if (i > p) {
        this.#deltaStart = p;
        this.#deltaEnd = this.#p = i;
      } else this.#deltaStart = -1;
    } else {
      this.#deltaStart = p;
      this.#deltaEnd = this.#p = i - r;
    }
  }

  #grow(need: number): Uint8Array<ArrayBuffer> {
    let size = this.#bytes.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#bytes.subarray(0, this.#len));
    return this.#bytes = next;
  }

  #finishMessage(): void {
    const b = this.#bytes;
    const text = this.#stuck
      ? LOSSY.decode(b.subarray(0, this.#p)) + REPLACEMENT +
        LOSSY.decode(b.subarray(this.#p, this.#len))
      : LOSSY.decode(b.subarray(0, this.#len));
    this.#messages.push(messageFromHeader(this.#parsed!, text));
    this.#state = EXPECT_START;
    this.#resetContent();
  }

  #resetContent(): void {
    this.#len = this.#p = 0;
    this.#stuck = false;
    this.#deltaStart = -1;
    this.#deltaText = undefined;
    this.#cache = "";
    this.#cacheEnd = 0;
  }

  /** Decodes the header tokens; the reference's `decode_utf8` (unknown id or bad UTF-8 fail). */
  #headerText(index: number, context: string): string {
    const h = this.#header;
    const ids = h.data;
    const n = h.length;
    let size = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      if (id >= this.#vocabSize) {
        throw new HarmonyParseError(
          "undecodable-header",
          index,
          `Cannot parse message header at token ${index}: ${context}: invalid token ${id}`,
        );
      }
      size += this.#to[id + 1] - this.#to[id];
    }
    const buf = new Uint8Array(size);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const s = this.#to[ids[i]], e = this.#to[ids[i] + 1];
      buf.set(this.#tb.subarray(s, e), at);
      at += e - s;
    }
    try {
      return FATAL.decode(buf);
    } catch (cause) {
      throw new HarmonyParseError(
        "undecodable-header",
        index,
        `Cannot parse message header at token ${index}: ${context}: invalid UTF-8`,
        { cause },
      );
    }
  }

  #endHeader(index: number): void {
    // As the reference: the state is ExpectStart while the header is parsed, so it stays so
    // when the header is rejected (and the role given to the constructor is kept).
    this.#state = EXPECT_START;
    const hb = this.#header;
    let key: string | undefined;
    let h: ParsedHeader | undefined;
    if (hb.length <= MAX_CACHED_HEADER) {
      key = this.#nextRole ?? "";
      for (let i = 0; i < hb.length; i++) key += "," + hb.data[i];
      h = this.#headerCache.get(key);
    }
    if (h === undefined) {
      const text = this.#headerText(index, "could not decode header");
      h = parseHeaderText(text, this.#nextRole, true, index);
      if (key !== undefined) {
        if (this.#headerCache.size >= HEADER_CACHE_SIZE) this.#headerCache.clear();
        this.#headerCache.set(key, h);
      }
    }
    if (h.remaining !== undefined) throw leftoversError(h.remaining, index);
    this.#nextRole = undefined;
    this.#parsed = h;
    this.#resetContent();
    this.#state = CONTENT;
  }

  #recoverHeader(index: number): void {
    const role = this.#nextRole;
    if (role !== undefined && this.#header.length > 0) {
      const text = this.#headerText(index, "could not decode header");
      const h = parseHeaderText(text, role, false, index);
      this.#messages.push(messageFromHeader(h, h.remaining ?? ""));
    }
    this.#state = EXPECT_START;
    this.#nextRole = undefined;
  }

  /** The state: `"ExpectStart"`, `"Header"` or `"Content"`. */
  get state(): StreamState {
    return STATE_NAMES[this.#state];
  }

  /** The role of the current message: its header's once parsed, else the role given, if any. */
  get currentRole(): Role | undefined {
    return this.#state === CONTENT ? this.#parsed!.role : this.#nextRole;
  }

  /** The current message's channel (known once its header is parsed). */
  get currentChannel(): string | undefined {
    return this.#state === CONTENT ? this.#parsed!.channel : undefined;
  }

  /** The current message's recipient (known once its header is parsed). */
  get currentRecipient(): string | undefined {
    return this.#state === CONTENT ? this.#parsed!.recipient : undefined;
  }

  /** The current message's content type (known once its header is parsed). */
  get currentContentType(): string | undefined {
    return this.#state === CONTENT ? this.#parsed!.contentType : undefined;
  }

  /** The current message's content so far (`""` outside content). Amortized O(new bytes). */
  get currentContent(): string {
    if (this.#state !== CONTENT) return "";
    if (this.#cacheEnd < this.#p) {
      if (this.#cacheEnd === this.#deltaStart && this.#deltaText !== undefined) {
        // Read after every token: the new text is the delta's, already decoded.
        this.#cache += this.#deltaText;
        this.#cacheEnd = this.#p;
        return this.#cache;
      }
      this.#cache += LOSSY.decode(this.#bytes.subarray(this.#cacheEnd, this.#p));
      this.#cacheEnd = this.#p;
    }
    return this.#cache;
  }

  /** The text the last token added to the content, or undefined when it added none. */
  get lastContentDelta(): string | undefined {
    if (this.#deltaStart < 0) return undefined;
    return this.#deltaText ??= LOSSY.decode(
      this.#bytes.subarray(this.#deltaStart, this.#deltaEnd),
    );
  }

  /** The messages parsed so far (the parser's own array: do not modify). */
  get messages(): readonly Message[] {
    return this.#messages;
  }

  /** Every token given to `process` so far (a copy). */
  get tokens(): Uint32Array {
    return this.#tokens ? this.#tokens.slice(0, this.#count) : new Uint32Array(0);
  }
}
