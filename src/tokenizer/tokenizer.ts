/**
 * The CPU o200k_harmony tokenizer: the pre-tokenizer scanner (`pieces.ts`), byte-pair encoding
 * (`bpe.ts`) over the o200k_base ranks (`vocabulary.ts`) and the harmony special tokens
 * (`special_tokens.ts`).
 *
 * Text is converted to UTF-8 with `TextEncoder.encodeInto`, so a lone UTF-16 surrogate encodes as
 * U+FFFD (bytes EF BF BD), exactly as `TextEncoder` does. (The reference takes Rust `&str`, which
 * cannot hold lone surrogates.)
 *
 * @module
 */

import { BacktrackEncoder } from "./_backtrack.ts";
import { BytePairEncoder, HEAP_THRESHOLD } from "./bpe.ts";
import { MAX_CACHED_PIECE, PieceCache } from "./_piece_cache.ts";
import { nextPieceEnd, prepareScanner } from "./pieces.ts";
import { scanSpecialLiterals, specialRule } from "./special_rule.ts";
import { FIRST_SPECIAL_ID, harmonySpecialTokens, VOCAB_SIZE } from "./special_tokens.ts";
import { TokenBuffer } from "./token_buffer.ts";
import type { EncodeOptions, Tokenizer, TokenSink } from "./types.ts";
import { ByteVocabulary, hashBytesInt32 } from "./vocabulary.ts";
import type { Vocabulary } from "./vocabulary.ts";

/**
 * Pieces of up to this many bytes that are not one token are merged by the reference's loop
 * (`BytePairEncoder.mergeShort`, with its pair memo), longer ones by backtracking (`_backtrack.ts`)
 * once the process has merged enough of them to build its tables (`BACKTRACK_AFTER_BYTES`).
 * Measured on the corpus pieces that need merging (CPU time, Deno, median of 9): backtracking
 * takes 1.2–1.6x the time of the loop on 2–16 bytes, and 0.4–0.9x from 17 bytes on (CJK 17–32 B
 * 0.80x, 33–64 B 0.50x, longer 0.61x; other scripts 0.88x, 0.67x, 0.50x).
 */
const SHORT_MERGE = 16;

/**
 * Pieces of `CJK_SHORT_MERGE + 1` to `SHORT_MERGE` bytes that start with a byte from `CJK_LEAD`
 * to 0xEF (the lead bytes of U+3000..U+FFFF: CJK punctuation, kana, ideographs, Hangul, all three
 * bytes long) are backtracked too: their tokens are mostly one or two characters, so the merge
 * loop's many byte-level merges cost more than a few longest-match steps. Measured (interleaved
 * A/B, fresh tokenizer per pass over the corpus CJK text, median of 15–21; 2-core Xeon VM): 0.93–0.95
 * of the time in Bun, 0.93–1.0 in Deno; applied to every script (from 9 bytes), other scripts took
 * 1.05x, so the rule keeps to three-byte characters.
 */
const CJK_SHORT_MERGE = 8;
const CJK_LEAD = 0xe3;

/** A sink that only counts. */
class Counter implements TokenSink {
  n = 0;
  push(_token: number): void {
    this.n++;
  }
}

/**
 * The o200k_harmony tokenizer on the CPU. Not reentrant: one instance's methods must not be called
 * from inside a `TokenSink.push` it is feeding (scratch buffers are shared).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { loadVocabulary } from "./vocabulary.ts";
 * import { HarmonyTokenizer } from "./tokenizer.ts";
 * const tok = new HarmonyTokenizer(await loadVocabulary());
 * deepStrictEqual(tok.encodeOrdinary("hello world"), new Uint32Array([24912, 2375]));
 * ```
 */
export class HarmonyTokenizer implements Tokenizer {
  readonly name = "o200k_harmony";
  readonly vocabSize = VOCAB_SIZE;
  readonly specialTokens: ReadonlyMap<string, number>;
  /** The ordinary tokens (ranks 0..199997). */
  readonly vocabulary: Vocabulary;
  readonly #vocab: ByteVocabulary;
  readonly #specialBytes: Uint8Array;
  readonly #specialOffsets: Uint32Array;
  readonly #encoder = new TextEncoder();
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  #utf8 = new Uint8Array(1024);
  #buffer = new TokenBuffer(1024);
  readonly #counter = new Counter();
  readonly #merged = new TokenBuffer(256);
  readonly #cache = new PieceCache();
  /** Byte-pair merging with this instance's pair memo and scratch (allocated on first merge). */
  readonly #bpe: BytePairEncoder;
  /** Byte-pair encoding by backtracking, for pieces longer than `SHORT_MERGE` bytes. */
  readonly #backtrack: BacktrackEncoder;
  /** Whether `#bpe` answers memo misses from the backtracking split table (see `#merge`). */
  #splitsOn = false;

  /** Wraps a loaded vocabulary (see `loadTokenizer` for the shared instance). */
  constructor(vocabulary: Vocabulary) {
    prepareScanner();
    this.vocabulary = vocabulary;
    this.#vocab = vocabulary instanceof ByteVocabulary
      ? vocabulary
      : new ByteVocabulary(vocabulary.bytes, vocabulary.offsets);
    this.#bpe = new BytePairEncoder(this.#vocab);
    this.#backtrack = new BacktrackEncoder(this.#vocab);
    const specials = harmonySpecialTokens();
    this.specialTokens = new Map(specials);
    const encoded = specials.map(([t]) => this.#encoder.encode(t));
    this.#specialOffsets = new Uint32Array(encoded.length + 1);
    for (let i = 0; i < encoded.length; i++) {
      this.#specialOffsets[i + 1] = this.#specialOffsets[i] + encoded[i].length;
    }
    this.#specialBytes = new Uint8Array(this.#specialOffsets[encoded.length]);
    for (let i = 0; i < encoded.length; i++) {
      this.#specialBytes.set(encoded[i], this.#specialOffsets[i]);
    }
  }

  /** Drops scratch buffers that a very long text grew past 16 MiB (they are not kept). */
  #release(): void {
    if (this.#utf8.length > 1 << 24) this.#utf8 = new Uint8Array(1024);
    if (this.#buffer.data.length > 1 << 22) this.#buffer = new TokenBuffer(1024);
  }

  /** UTF-8 of `text` in the scratch buffer; returns its length. */
  #toUtf8(text: string): number {
    if (this.#utf8.length < text.length * 3) {
      let size = this.#utf8.length * 2;
      while (size < text.length * 3) size *= 2;
      this.#utf8 = new Uint8Array(size);
    }
    return this.#encoder.encodeInto(text, this.#utf8).written;
  }

  /**
   * Encodes `utf8[start, end)` as ordinary text (the pattern sees `end` as the end): per piece, the
   * piece cache, then a whole-token lookup, then byte-pair merging (`bpe.ts` for short pieces,
   * `_backtrack.ts` for longer ones).
   */
  #encodeBytes(utf8: Uint8Array, start: number, end: number, out: TokenSink): number {
    const vocab = this.#vocab, byteRank = vocab.byteRank;
    const cache = this.#cache, merged = this.#merged;
    let p = start, n = 0;
    while (p < end) {
      const e = nextPieceEnd(utf8, p, end);
      if (e - p === 1) {
        out.push(byteRank[utf8[p]]);
        n++;
        p = e;
        continue;
      }
      if (e - p > MAX_CACHED_PIECE) {
        const r = vocab.rankOf(utf8, p, e);
        if (r >= 0) {
          out.push(r);
          n++;
        } else n += this.#merge(utf8, p, e, out);
        p = e;
        continue;
      }
      // Piece cache first (one probe of a small table), then the vocabulary, then merging.
      const h = hashBytesInt32(utf8, p, e);
      let c = cache.get(utf8, p, e, h, out);
      if (c < 0) {
        const store = c === -1; // -2: the first sighting of a long piece, not stored
        const r = vocab.rankOfHashed(utf8, p, e, h);
        const d = merged.data;
        if (r >= 0) {
          d[0] = r;
          c = 1;
        } else {
          merged.clear();
          c = this.#merge(utf8, p, e, merged);
        }
        const m = merged.data;
        if (store) cache.put(utf8, p, e, h, m, c);
        for (let i = 0; i < c; i++) out.push(m[i]);
      }
      n += c;
      p = e;
    }
    return n;
  }

  /**
   * Byte-pair encodes the piece `utf8[s, e)`, which is not one token, into `out` and returns the
   * token count: the one rule for which merge runs (backtracking over `SHORT_MERGE` bytes, or over
   * `CJK_SHORT_MERGE` for three-byte scripts, once its tables are worth building, else the
   * reference's loop up to `HEAP_THRESHOLD`, else the heap).
   * Once the backtracking tables are in use, the loops' memo misses are answered by their split
   * table (`BytePairEncoder.useSplits`).
   */
  #merge(utf8: Uint8Array, s: number, e: number, out: TokenSink): number {
    const len = e - s;
    if (
      (len > SHORT_MERGE || (len > CJK_SHORT_MERGE && utf8[s] >= CJK_LEAD && utf8[s] < 0xf0)) &&
      this.#backtrack.wants(len)
    ) {
      return this.#backtrack.encode(utf8, s, e, out);
    }
    if (!this.#splitsOn) {
      const t = this.#backtrack.tables;
      if (t !== undefined) {
        this.#bpe.useSplits(t);
        this.#splitsOn = true;
      }
    }
    return len <= HEAP_THRESHOLD
      ? this.#bpe.mergeShort(utf8, s, e, out)
      : this.#bpe.mergeLong(utf8, s, e, out);
  }

  /**
   * Bytes this tokenizer holds in typed arrays: the vocabulary and its hash tables, the Unicode
   * class table (shared per process), the piece cache, this instance's pair memo and merge scratch
   * (once it has merged), the pair table and the backtracking tables (once built; shared per vocabulary), scratch buffers.
   *
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { loadTokenizer } from "./mod.ts";
   * strictEqual((await loadTokenizer()).tableBytes > 10_000_000, true);
   * ```
   */
  get tableBytes(): number {
    const v = this.#vocab;
    return v.bytes.byteLength + v.offsets.byteLength + v.slots.byteLength + v.front.byteLength +
      v.filter.byteLength +
      v.byteRank.byteLength + 0x110000 + this.#cache.byteLength + this.#bpe.byteLength +
      this.#bpe.pairTableBytes + this.#backtrack.byteLength + this.#backtrack.tableBytes +
      this.#utf8.byteLength + this.#buffer.data.byteLength + this.#merged.data.byteLength +
      this.#specialBytes.byteLength + this.#specialOffsets.byteLength;
  }

  /**
   * Empties the cache of recent pieces (bounded: 32768 pieces of up to 4096 bytes, 4 MiB).
   *
   * @example
   * ```ts
   * import { loadTokenizer } from "./mod.ts";
   * import { strictEqual } from "node:assert/strict";
   * const tok = await loadTokenizer();
   * tok.clearCache();
   * strictEqual(tok.decode(tok.encodeOrdinary("hi")), "hi");
   * ```
   */
  clearCache(): void {
    this.#cache.clear();
  }

  /**
   * Encodes text; special-token text is ordinary text (reference: `encode_ordinary`).
   *
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { loadTokenizer } from "./mod.ts";
   * deepStrictEqual((await loadTokenizer()).encodeOrdinary("<|end|>"), new Uint32Array([27, 91, 419, 91, 29]));
   * ```
   */
  encodeOrdinary(text: string): Uint32Array {
    const buf = this.#buffer;
    buf.clear();
    const n = this.#toUtf8(text);
    this.#encodeBytes(this.#utf8, 0, n, buf);
    const tokens = buf.toArray();
    this.#release();
    return tokens;
  }

  /**
   * Appends the tokens of `text` (special-token text is ordinary text) to `out`; returns the count.
   *
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { loadTokenizer, TokenBuffer } from "./mod.ts";
   * const out = new TokenBuffer();
   * strictEqual((await loadTokenizer()).encodeOrdinaryInto("hello world", out), 2);
   * ```
   */
  encodeOrdinaryInto(text: string, out: TokenSink): number {
    const n = this.#toUtf8(text);
    const count = this.#encodeBytes(this.#utf8, 0, n, out);
    this.#release();
    return count;
  }

  /**
   * Number of tokens `encodeOrdinary(text)` gives, without storing them.
   *
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { loadTokenizer } from "./mod.ts";
   * strictEqual((await loadTokenizer()).countTokens("hello world"), 2);
   * ```
   */
  countTokens(text: string): number {
    const c = this.#counter;
    c.n = 0;
    const n = this.#toUtf8(text);
    this.#encodeBytes(this.#utf8, 0, n, c);
    this.#release();
    return c.n;
  }

  /**
   * Encodes text with tiktoken's special-token semantics: literals of allowed special tokens become
   * their ids (the text between them is encoded separately, as the reference's `encode` does); a
   * disallowed literal is an error; other literals are ordinary text.
   *
   * @throws {SyntaxError} when the text holds a disallowed special token (names it and its UTF-16
   * offset).
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { loadTokenizer } from "./mod.ts";
   * const tok = await loadTokenizer();
   * deepStrictEqual(tok.encode("<|start|>user<|message|>hi", { allowedSpecial: "all" }), new Uint32Array([200006, 1428, 200008, 3686]));
   * ```
   */
  encode(text: string, options?: EncodeOptions): Uint32Array {
    const buf = this.#buffer;
    buf.clear();
    this.encodeInto(text, buf, options);
    const tokens = buf.toArray();
    this.#release();
    return tokens;
  }

  /**
   * `encode` into a sink; returns the number of tokens appended.
   *
   * @throws {SyntaxError} as `encode` does (nothing is appended then).
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { loadTokenizer, TokenBuffer } from "./mod.ts";
   * const out = new TokenBuffer();
   * strictEqual((await loadTokenizer()).encodeInto("<|end|>", out, { allowedSpecial: ["<|end|>"] }), 1);
   * ```
   */
  encodeInto(text: string, out: TokenSink, options?: EncodeOptions): number {
    const specials = this.specialTokens;
    // Special-token literals in order, by tiktoken's rule (special_rule.ts).
    const found: number[] = [];
    const error = scanSpecialLiterals(text, specials, specialRule(options), found);
    if (error) throw error;
    if (found.length === 0) return this.encodeOrdinaryInto(text, out);
    let n = 0, at = 0;
    for (let k = 0; k < found.length; k += 2) {
      // Overlapping literals cannot occur: a literal ends at the first `|>` after its `<|`.
      if (found[k] < at) continue;
      if (found[k] > at) n += this.encodeOrdinaryInto(text.slice(at, found[k]), out);
      out.push(specials.get(text.slice(found[k], found[k + 1]))!);
      n++;
      at = found[k + 1];
    }
    if (at < text.length) n += this.encodeOrdinaryInto(text.slice(at), out);
    return n;
  }

  /** Checks an id; returns it. */
  #check(id: number, index: number): number {
    if (!(Number.isInteger(id) && id >= 0 && id < VOCAB_SIZE)) {
      throw new RangeError(
        `Cannot decode tokens: id ${id} at index ${index} is outside 0..${VOCAB_SIZE - 1}`,
      );
    }
    return id;
  }

  /**
   * Decodes tokens to their bytes.
   *
   * @throws {RangeError} on an id outside `0..201088` (names the id and its index).
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { loadTokenizer } from "./mod.ts";
   * deepStrictEqual((await loadTokenizer()).decodeBytes([3686]), new Uint8Array([104, 105]));
   * ```
   */
  decodeBytes(tokens: ArrayLike<number>): Uint8Array {
    const { bytes, offsets } = this.vocabulary;
    const sb = this.#specialBytes, so = this.#specialOffsets;
    let total = 0;
    for (let i = 0; i < tokens.length; i++) {
      const id = this.#check(tokens[i], i);
      total += id < FIRST_SPECIAL_ID
        ? offsets[id + 1] - offsets[id]
        : so[id - FIRST_SPECIAL_ID + 1] - so[id - FIRST_SPECIAL_ID];
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < tokens.length; i++) {
      const id = tokens[i];
      if (id < FIRST_SPECIAL_ID) {
        for (let k = offsets[id], e = offsets[id + 1]; k < e; k++) out[at++] = bytes[k];
      } else {
        const s = id - FIRST_SPECIAL_ID;
        for (let k = so[s], e = so[s + 1]; k < e; k++) out[at++] = sb[k];
      }
    }
    return out;
  }

  /**
   * Decodes tokens to text; bytes that are not valid UTF-8 become U+FFFD (like Rust's
   * `String::from_utf8_lossy`). A leading byte-order mark is kept.
   *
   * @throws {RangeError} on an id outside `0..201088` (names the id and its index).
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { loadTokenizer } from "./mod.ts";
   * strictEqual((await loadTokenizer()).decode([24912, 2375]), "hello world");
   * ```
   */
  decode(tokens: ArrayLike<number>): string {
    return this.#decoder.decode(this.decodeBytes(tokens));
  }

  /**
   * The bytes of one token (a copy).
   *
   * @throws {RangeError} on an id outside `0..201088`.
   * @example
   * ```ts
   * import { loadTokenizer } from "./mod.ts";
   * import { deepStrictEqual } from "node:assert/strict";
   * deepStrictEqual((await loadTokenizer()).tokenBytes(200006), new TextEncoder().encode("<|start|>"));
   * ```
   */
  tokenBytes(id: number): Uint8Array {
    return this.decodeBytes([this.#check(id, 0)]);
  }

  /**
   * Whether `id` is a special token (199998..201088).
   *
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { loadTokenizer } from "./mod.ts";
   * strictEqual((await loadTokenizer()).isSpecial(200006), true);
   * ```
   */
  isSpecial(id: number): boolean {
    return Number.isInteger(id) && id >= FIRST_SPECIAL_ID && id < VOCAB_SIZE;
  }
}
