/**
 * The tokenizer contract shared by the CPU and GPU backends, the renderer and the parser.
 *
 * @module
 */

/** Which special tokens `encode` turns into their ids, and which are an error. */
export interface EncodeOptions {
  /**
   * Special tokens whose literal text in the input becomes the token's id: `"all"` or a set of
   * literals. Default: none (all special-token text is then ordinary text or an error, see
   * `disallowedSpecial`).
   */
  allowedSpecial?: "all" | Iterable<string>;
  /**
   * Special tokens whose literal text in the input is an error (tiktoken semantics): `"all"` (the
   * default: every special token not allowed) or a set of literals. Pass `[]` to encode
   * not-allowed special-token text as ordinary text.
   */
  disallowedSpecial?: "all" | Iterable<string>;
}

/**
 * A byte-pair-encoding tokenizer with special tokens (the o200k_harmony vocabulary).
 * All methods are synchronous; loading is asynchronous (see `loadTokenizer`).
 */
export interface Tokenizer {
  /** The vocabulary's name, e.g. `o200k_harmony`. */
  readonly name: string;
  /** Number of token ids: every id in `[0, vocabSize)` is valid. */
  readonly vocabSize: number;
  /** Special-token literals and their ids. */
  readonly specialTokens: ReadonlyMap<string, number>;
  /**
   * Encodes text; special-token text is ordinary text (reference: `encode_ordinary`). A lone UTF-16
   * surrogate is encoded as U+FFFD, as `TextEncoder` does (the reference takes Rust strings, which
   * cannot hold one).
   */
  encodeOrdinary(text: string): Uint32Array;
  /** Appends the tokens of `text` (special-token text is ordinary text) to `out`; returns the count. */
  encodeOrdinaryInto(text: string, out: TokenSink): number;
  /**
   * Encodes text with tiktoken's special-token semantics.
   *
   * @throws {SyntaxError} when the text holds a disallowed special token (message names the
   * token and its UTF-16 offset).
   */
  encode(text: string, options?: EncodeOptions): Uint32Array;
  /** Decodes tokens to text; invalid UTF-8 becomes U+FFFD. @throws {RangeError} on an unknown id. */
  decode(tokens: ArrayLike<number>): string;
  /** Decodes tokens to their bytes. @throws {RangeError} on an unknown id (naming id and index). */
  decodeBytes(tokens: ArrayLike<number>): Uint8Array;
  /** The bytes of one token. @throws {RangeError} on an unknown id. */
  tokenBytes(id: number): Uint8Array;
  /** Whether `id` is a special token. */
  isSpecial(id: number): boolean;
}

/** Something tokens can be appended to (see `TokenBuffer`). */
export interface TokenSink {
  /** Appends one token. */
  push(token: number): void;
}
