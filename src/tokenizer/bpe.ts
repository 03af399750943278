/**
 * Byte-pair encoding of one pre-tokenized piece, exactly as tiktoken does it (reference:
 * `src/tiktoken.rs`, `byte_pair_merge`): start from single bytes and repeatedly merge the adjacent
 * pair whose merged bytes have the lowest rank, the leftmost pair on ties, until no adjacent pair
 * is a token.
 *
 * - A piece that is itself a token is one lookup (most pieces of English text and code).
 * - Short pieces: a scan for the minimum over compact typed arrays per merge (O(n²) for n ≤ 64
 *   bytes, which is faster than a heap at that size).
 * - Long pieces: a doubly linked list over byte positions plus a binary min-heap keyed by
 *   (rank, position) with lazy deletion: O(n log n). Popping the smallest (rank, position) among
 *   the live pairs is the same choice as the reference's scan, so the results are identical.
 * - The rank of two adjacent parts merged: a direct-mapped memo keyed by the two ranks; on a miss,
 *   the vocabulary's byte-string lookup, or (after many misses, built once) the exact pair table
 *   of `_pair_table.ts`, or, once the owner hands it over (`useSplits`), the backtracking split
 *   table (`BacktrackTables.mergedRank`: a bit filter, then a probe; no bytes hashed). All give the
 *   same merges (the split table answers -1 for a pair that merging never joins).
 *
 * State: a `BytePairEncoder` owns its memo and scratch arrays (a tokenizer instance owns one),
 * allocated on its first merge and grown by doubling: no allocation per merge, nothing at import.
 * Tables derived from a vocabulary alone (single-byte and two-byte ranks, the exact pair table) are
 * built on first use and shared by every encoder of that vocabulary.
 *
 * @module
 */

import type { TokenSink } from "./types.ts";
import type { Vocabulary } from "./vocabulary.ts";
import { pairMemoGet, pairMemoResized, pairMemoSet, pairMemoSlot } from "./_pair_memo.ts";
import { PAIR_TABLE_MAX_SIZE, PairTable } from "./_pair_table.ts";

/**
 * Pieces longer than this (bytes) use the heap.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { HEAP_THRESHOLD } from "./bpe.ts";
 * strictEqual(HEAP_THRESHOLD, 64);
 * ```
 */
export const HEAP_THRESHOLD = 64;

const NONE = 0x7fffffff;
/** 2^32: heap keys are rank * 2^32 + position, exact in a float64. */
const SHIFT = 4294967296;
/** 2^-32: `key * UNSHIFT` is exact (a power of two), so `(key * UNSHIFT) | 0` is the rank. */
const UNSHIFT = 1 / SHIFT;

/**
 * Memo of pair merges, keyed by the two parts' ranks (integer keys instead of hashing bytes):
 * direct-mapped, up to 2^17 entries of 8 bytes (1 MiB), in the layout of `_pair_memo.ts`, the
 * value being the merged rank plus one (0: not a token). Ranks must be below 2^18 (true of
 * o200k_base; larger vocabularies bypass the memo).
 *
 * Its size follows what a miss costs (`#grow`): it starts at 2^MEMO_FIRST_BITS entries (32 KiB)
 * and doubles (moving its entries) each time it has missed twice its entry count since it last
 * changed; up to 2^PAIR_BITS entries while misses hash bytes, up to 2^SPLIT_MEMO_BITS (128 KiB)
 * once the split table answers them (`useSplits`: a bit filter and one probe, cheaper than a
 * larger memo's own cache misses). Measured on the corpus text (fresh encoder per pass, CPU time,
 * median of 15; 2-core Xeon VM): with the split table, the fixed 1 MiB memo took 1.03–1.12x the
 * time of a 32–128 KiB one; without it, a fixed 32–128 KiB memo took 1.36–1.45x the time of the
 * 1 MiB one on CJK (its misses then hash bytes).
 */
const PAIR_BITS = 17;
const MEMO_FIRST_BITS = 12;
const SPLIT_MEMO_BITS = 14;

/**
 * Bytes of the pair memo a `BytePairEncoder` allocates on its first merge (32 KiB; it grows to at
 * most 1 MiB, see `PAIR_BITS`).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { PAIR_MEMO_BYTES } from "./bpe.ts";
 * strictEqual(PAIR_MEMO_BYTES, 32768);
 * ```
 */
export const PAIR_MEMO_BYTES: number = 8 << MEMO_FIRST_BITS;

/**
 * Memo misses after which the exact pair table (`_pair_table.ts`; 8 MiB, 200–350 ms to build here)
 * is built and answers the misses instead of hashing bytes. A miss answered by the byte-string
 * lookup costs roughly 100 ns more than one answered by the table, so the build pays for itself
 * after about 2^21 misses: jobs with fewer never build it (measured: building it after 2^16
 * misses made a 2.3 MB first encode slower), very long ones build it once.
 */
const PAIR_TABLE_AFTER_MISSES = 1 << 21;

/**
 * Tables derived from a vocabulary alone, built on first use and shared by all its encoders:
 * the rank of each single byte and of every two-byte string (`(first << 8) | second`; NONE when
 * not a token: the first round of pair lookups of every piece, 256 KiB), and the exact pair table
 * once some encoder has had enough memo misses.
 */
interface VocabTables {
  readonly bytes: Int32Array;
  readonly bytePairs: Int32Array;
  /** Whether the memo and pair table can hold this vocabulary's ranks (all below 2^18). */
  readonly memoOn: boolean;
  pairTable: PairTable | undefined;
}

let tablesByVocab: WeakMap<Vocabulary, VocabTables> | undefined;

function tablesOf(vocab: Vocabulary): VocabTables {
  tablesByVocab ??= new WeakMap();
  let t = tablesByVocab.get(vocab);
  if (t !== undefined) return t;
  const key = new Uint8Array(2);
  const bytes = new Int32Array(256);
  for (let x = 0; x < 256; x++) {
    key[0] = x;
    bytes[x] = vocab.rankOf(key, 0, 1);
  }
  const bytePairs = new Int32Array(65536);
  for (let x = 0; x < 256; x++) {
    key[0] = x;
    for (let y = 0; y < 256; y++) {
      key[1] = y;
      const r = vocab.rankOf(key, 0, 2);
      bytePairs[(x << 8) | y] = r < 0 ? NONE : r;
    }
  }
  // strict: an empty memo entry must match no pair
  t = { bytes, bytePairs, memoOn: vocab.size < PAIR_TABLE_MAX_SIZE, pairTable: undefined };
  tablesByVocab.set(vocab, t);
  return t;
}

/**
 * Byte-pair encoding of pieces over one vocabulary, with its own pair memo and scratch arrays
 * (allocated on the first merge: a 32 KiB memo that grows with its misses up to 1 MiB, see
 * `PAIR_BITS`, plus scratch sized to the longest piece seen). Not reentrant: `out.push` must not
 * call back into the same encoder.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 * import { BytePairEncoder } from "./bpe.ts";
 * import { loadVocabulary } from "./vocabulary.ts";
 * import { TokenBuffer } from "./token_buffer.ts";
 * const bpe = new BytePairEncoder(await loadVocabulary());
 * const utf8 = new TextEncoder().encode(" tokenization");
 * const out = new TokenBuffer();
 * strictEqual(bpe.encodePiece(utf8, 0, utf8.length, out), 2);
 * deepStrictEqual(out.toArray(), new Uint32Array([6602, 2860]));
 * ```
 */
export class BytePairEncoder {
  /** The vocabulary whose ranks this encoder merges by. */
  readonly vocab: Vocabulary;
  #tables: VocabTables | undefined;
  #memo: Int32Array = new Int32Array(0);
  /** `32 - log2(entries of #memo)`: `pairMemoSlot`'s shift. */
  #shift = 32 - MEMO_FIRST_BITS;
  /** Memo misses left before `#grow` runs. */
  #untilGrow = 2 << MEMO_FIRST_BITS;
  #misses = 0;
  #bound = new Int32Array(0); // short: part boundaries; long: next part's start
  #partRank = new Int32Array(0);
  #pairRank = new Int32Array(0);
  #prev = new Int32Array(0);
  #heap = new Float64Array(0);
  #splits: { mergedRank(a: number, b: number): number } | undefined;

  /** An encoder over `vocab`; allocates nothing until its first merge. */
  constructor(vocab: Vocabulary) {
    this.vocab = vocab;
  }

  /** The shared tables and this encoder's memo, made ready on first use. */
  #ready(): VocabTables {
    const t = this.#tables ??= tablesOf(this.vocab);
    if (this.#memo.length === 0 && t.memoOn) {
      this.#memo = new Int32Array(2 << (32 - this.#shift));
    }
    return t;
  }

  /**
   * After a memo's worth of misses (twice its entry count): doubles the memo unless it
   * is at its bound, 2^SPLIT_MEMO_BITS entries once misses are answered by the split table, else
   * 2^PAIR_BITS (see `PAIR_BITS`).
   */
  #grow(): void {
    const bits = 32 - this.#shift;
    if (bits < (this.#splits !== undefined ? SPLIT_MEMO_BITS : PAIR_BITS)) this.#resize(bits + 1);
    this.#untilGrow = 2 << (32 - this.#shift);
  }

  /** Moves the memo's entries into a new one of 2^bits entries. */
  #resize(bits: number): void {
    this.#memo = pairMemoResized(this.#memo, bits);
    this.#shift = 32 - bits;
  }

  #ensure(n: number): void {
    if (this.#bound.length > n + 1) return;
    let size = Math.max(256, this.#bound.length);
    while (size <= n + 1) size *= 2;
    this.#bound = new Int32Array(size);
    this.#partRank = new Int32Array(size);
    this.#pairRank = new Int32Array(size);
    this.#prev = new Int32Array(size);
  }

  /** Memo miss: looks the concatenation `utf8[s, e)` up and remembers the result at `at`. */
  #memoFill(utf8: Uint8Array, s: number, e: number, a: number, b: number, at: number): number {
    const t = this.#tables!;
    let r: number;
    if (this.#splits !== undefined) {
      r = this.#splits.mergedRank(a, b);
    } else if (t.pairTable !== undefined) {
      r = t.pairTable.get(a, b);
    } else {
      r = this.vocab.rankOf(utf8, s, e);
      if (++this.#misses >= PAIR_TABLE_AFTER_MISSES) t.pairTable = PairTable.build(this.vocab);
    }
    pairMemoSet(this.#memo, at, a, b, r + 1);
    if (--this.#untilGrow === 0) this.#grow();
    return r;
  }

  /** Rank of the merge of parts `[s, m)` (rank a) and `[m, e)` (rank b), or -1. */
  #mergedRank(utf8: Uint8Array, s: number, e: number, a: number, b: number): number {
    if (!this.#tables!.memoOn) return this.vocab.rankOf(utf8, s, e);
    const at = pairMemoSlot(a, b, this.#shift);
    const v = pairMemoGet(this.#memo, at, a, b);
    return v >= 0 ? v - 1 : this.#memoFill(utf8, s, e, a, b, at);
  }

  /**
   * Builds the exact pair table of this encoder's vocabulary now (it is otherwise built after many
   * memo misses; shared by all encoders of the vocabulary) and returns its size in bytes (0 when
   * the vocabulary is too large for it). Output does not change.
   */
  usePairTable(): number {
    const t = this.#ready();
    if (t.memoOn) t.pairTable ??= PairTable.build(this.vocab);
    return t.pairTable?.byteLength ?? 0;
  }

  /**
   * Answers this encoder's memo misses from `splits` from now on instead of hashing bytes:
   * `mergedRank(a, b)` must be the token that merging makes of adjacent parts a and b, or -1 when
   * merging never joins them (`BacktrackTables.mergedRank` of a vocabulary in
   * `VERIFIED_VOCABULARIES`). Output does not change. A memo larger than such misses are worth
   * shrinks to 2^SPLIT_MEMO_BITS entries.
   */
  useSplits(splits: { mergedRank(a: number, b: number): number }): void {
    this.#splits = splits;
    if (32 - this.#shift > SPLIT_MEMO_BITS) {
      if (this.#memo.length > 0) this.#resize(SPLIT_MEMO_BITS);
      else this.#shift = 32 - SPLIT_MEMO_BITS;
    }
  }

  /** Bytes held by the vocabulary's exact pair table (0 until it is built). */
  get pairTableBytes(): number {
    return this.#tables?.pairTable?.byteLength ?? 0;
  }

  /** Bytes this encoder holds in typed arrays (memo and scratch; 0 before the first merge). */
  get byteLength(): number {
    return this.#memo.byteLength + 4 * this.#bound.byteLength + this.#heap.byteLength;
  }

  /** Forgets the pair memo (and the miss count that decides when the pair table is built). */
  clearMemo(): void {
    if (this.#memo.length > 0) this.#memo.fill(0);
    this.#misses = 0;
  }

  /**
   * Appends the tiktoken byte-pair encoding of the piece `utf8[start, end)` to `out` and returns
   * the number of tokens appended. Every byte must be a token of the vocabulary (true of
   * o200k_base).
   */
  encodePiece(utf8: Uint8Array, start: number, end: number, out: TokenSink): number {
    const n = end - start;
    if (n <= 0) return 0;
    const whole = this.vocab.rankOf(utf8, start, end);
    if (whole >= 0) {
      out.push(whole);
      return 1;
    }
    return n <= HEAP_THRESHOLD
      ? this.mergeShort(utf8, start, end, out)
      : this.mergeLong(utf8, start, end, out);
  }

  /**
   * The reference's loop: each merge scans the live pairs for the lowest rank (leftmost on ties)
   * and removes the absorbed part by shifting the arrays, as the reference does. O(n²) for n
   * bytes. Appends the tokens to `out`; returns how many.
   */
  mergeShort(utf8: Uint8Array, start: number, end: number, out: TokenSink): number {
    const n = end - start;
    this.#ensure(n);
    const { bytes, bytePairs } = this.#ready();
    // Parts in arrays kept compact (a merge shifts the tail left by one): part i is
    // `utf8[pos[i], pos[i + 1])` with token `rk[i]`, and `pr[i]` is the rank of part i merged with
    // part i + 1. The minimum scan then reads consecutive memory without a chain of dependent loads.
    const pos = this.#bound, pr = this.#pairRank, rk = this.#partRank;
    for (let i = 0; i < n; i++) {
      pos[i] = start + i;
      rk[i] = bytes[utf8[start + i]];
    }
    pos[n] = end;
    for (let i = 0; i < n - 1; i++) pr[i] = bytePairs[(utf8[start + i] << 8) | utf8[start + i + 1]];
    pr[n - 1] = NONE;
    let m = n;
    while (m > 1) {
      // Lowest rank, leftmost on ties (pr[m - 1] is always NONE).
      let best = pr[0], k = 0;
      for (let i = 1; i < m - 1; i++) {
        const r = pr[i];
        if (r < best) {
          best = r;
          k = i;
        }
      }
      if (best === NONE) break;
      // Part k absorbs part k + 1.
      rk[k] = best;
      m--;
      for (let i = k + 1; i < m; i++) {
        rk[i] = rk[i + 1];
        pr[i] = pr[i + 1];
        pos[i] = pos[i + 1];
      }
      pos[m] = end;
      if (k + 1 < m) {
        const r = this.#mergedRank(utf8, pos[k], pos[k + 2], best, rk[k + 1]);
        pr[k] = r < 0 ? NONE : r;
      } else {
        pr[k] = NONE;
      }
      if (k > 0) {
        const r = this.#mergedRank(utf8, pos[k - 1], pos[k + 1], rk[k - 1], best);
        pr[k - 1] = r < 0 ? NONE : r;
      }
    }
    for (let i = 0; i < m; i++) out.push(rk[i]);
    return m;
  }

  #heapPush(size: number, key: number): number {
    if (size === this.#heap.length) {
      const next = new Float64Array(Math.max(1024, this.#heap.length * 2));
      next.set(this.#heap);
      this.#heap = next;
    }
    const h = this.#heap;
    let i = size;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent] <= key) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = key;
    return size + 1;
  }

  /**
   * Heap version for long pieces (same result as `mergeShort`, O(n log n)). Appends the tokens to
   * `out`; returns how many.
   *
   * Details: Parts are identified by their first byte (relative index);
   * `bound[i]` is the start of the next part (n at the end), `prev[i]` the previous part's start,
   * `partRank[i]` the part's token, `pairRank[i]` the rank of the part merged with its successor
   * (NONE if not a token, -1 once the part was absorbed). A heap entry (r, i) is stale unless
   * `pairRank[i] === r`: ranks are unique and a part's extent only grows, so an equal rank means
   * the same pair.
   */
  mergeLong(utf8: Uint8Array, start: number, end: number, out: TokenSink): number {
    const n = end - start;
    this.#ensure(n);
    const { bytes, bytePairs } = this.#ready();
    const next = this.#bound, pv = this.#prev, pr = this.#pairRank, rk = this.#partRank;
    let size = 0;
    for (let i = 0; i < n; i++) {
      next[i] = i + 1;
      pv[i] = i - 1;
      rk[i] = bytes[utf8[start + i]];
    }
    if (this.#heap.length < n) this.#heap = new Float64Array(Math.max(1024, 2 * n));
    const h0 = this.#heap;
    for (let i = 0; i < n - 1; i++) {
      const r = bytePairs[(utf8[start + i] << 8) | utf8[start + i + 1]];
      pr[i] = r;
      if (r !== NONE) h0[size++] = r * SHIFT + i;
    }
    pr[n - 1] = NONE;
    // Floyd's bottom-up heap construction: O(n) instead of n pushes.
    for (let j = (size >> 1) - 1; j >= 0; j--) siftDown(h0, j, size);
    while (size > 0) {
      const heap = this.#heap;
      const key = heap[0];
      size = heapPop(heap, size);
      const r = (key * UNSHIFT) | 0;
      const i = key - r * SHIFT;
      if (pr[i] !== r) continue;
      const j = next[i];
      const k = next[j];
      // Merge parts i and j into [i, k).
      rk[i] = r;
      pr[j] = -1;
      next[i] = k;
      if (k < n) {
        pv[k] = i;
        const r2 = this.#mergedRank(utf8, start + i, start + next[k], r, rk[k]);
        pr[i] = r2 < 0 ? NONE : r2;
        if (r2 >= 0) size = this.#heapPush(size, r2 * SHIFT + i);
      } else {
        pr[i] = NONE;
      }
      if (i > 0) {
        const h = pv[i];
        const r3 = this.#mergedRank(utf8, start + h, start + k, rk[h], r);
        pr[h] = r3 < 0 ? NONE : r3;
        if (r3 >= 0) size = this.#heapPush(size, r3 * SHIFT + h);
      }
    }
    let count = 0;
    for (let i = 0; i < n; i = next[i]) {
      out.push(rk[i]);
      count++;
    }
    return count;
  }
}

/** Moves `h[i]` down to its place in the heap `h[0, size)`. */
function siftDown(h: Float64Array, i: number, size: number): void {
  const key = h[i];
  for (;;) {
    let c = 2 * i + 1;
    if (c >= size) break;
    if (c + 1 < size && h[c + 1] < h[c]) c++;
    if (h[c] >= key) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = key;
}

/** Removes the minimum (h[0]) of the heap `h[0, size)`; returns the new size. */
function heapPop(h: Float64Array, size: number): number {
  h[0] = h[--size];
  if (size > 1) siftDown(h, 0, size);
  return size;
}

let defaultEncoders: WeakMap<Vocabulary, BytePairEncoder> | undefined;

/** The encoder the free functions below use for `vocab` (one per vocabulary, made on first use). */
function encoderOf(vocab: Vocabulary): BytePairEncoder {
  defaultEncoders ??= new WeakMap();
  let e = defaultEncoders.get(vocab);
  if (e === undefined) defaultEncoders.set(vocab, e = new BytePairEncoder(vocab));
  return e;
}

/**
 * Appends the tiktoken byte-pair encoding of the piece `utf8[start, end)` to `out` and returns the
 * number of tokens appended, with an encoder shared per vocabulary (made on first use; use a
 * `BytePairEncoder` of your own to keep the state elsewhere). Every byte must be a token of
 * `vocab` (true of o200k_base). `out.push` must not call back into this function.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { encodePiece } from "./bpe.ts";
 * import { loadVocabulary } from "./vocabulary.ts";
 * import { TokenBuffer } from "./token_buffer.ts";
 * const vocab = await loadVocabulary();
 * const utf8 = new TextEncoder().encode(" tokenization");
 * const out = new TokenBuffer();
 * encodePiece(vocab, utf8, 0, utf8.length, out);
 * deepStrictEqual(out.toArray(), new Uint32Array([6602, 2860]));
 * ```
 */
export function encodePiece(
  vocab: Vocabulary,
  utf8: Uint8Array,
  start: number,
  end: number,
  out: TokenSink,
): number {
  return encoderOf(vocab).encodePiece(utf8, start, end, out);
}

/**
 * `BytePairEncoder.mergeShort` with the shared encoder of `vocab` (see `encodePiece`).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { mergeShort } from "./bpe.ts";
 * import { loadVocabulary } from "./vocabulary.ts";
 * import { TokenBuffer } from "./token_buffer.ts";
 * const utf8 = new TextEncoder().encode(" tokenization");
 * strictEqual(mergeShort(await loadVocabulary(), utf8, 0, utf8.length, new TokenBuffer()), 2);
 * ```
 */
export function mergeShort(
  vocab: Vocabulary,
  utf8: Uint8Array,
  start: number,
  end: number,
  out: TokenSink,
): number {
  return encoderOf(vocab).mergeShort(utf8, start, end, out);
}

/**
 * `BytePairEncoder.mergeLong` with the shared encoder of `vocab` (see `encodePiece`).
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { mergeLong } from "./bpe.ts";
 * import { loadVocabulary } from "./vocabulary.ts";
 * import { TokenBuffer } from "./token_buffer.ts";
 * const utf8 = new Uint8Array(100_000).fill(0x61);
 * ok(mergeLong(await loadVocabulary(), utf8, 0, utf8.length, new TokenBuffer()) > 0);
 * ```
 */
export function mergeLong(
  vocab: Vocabulary,
  utf8: Uint8Array,
  start: number,
  end: number,
  out: TokenSink,
): number {
  return encoderOf(vocab).mergeLong(utf8, start, end, out);
}
