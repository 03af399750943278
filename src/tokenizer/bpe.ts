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
 *   of `_pair_table.ts`. All three give the same answer.
 *
 * No allocation per merge: scratch typed arrays shared by all calls, grown by doubling.
 *
 * @module
 */

import type { TokenSink } from "./types.ts";
import type { Vocabulary } from "./vocabulary.ts";
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
 * direct-mapped, 2^17 entries of 8 bytes (1 MiB), an entry overwritten on collision; reset when
 * another vocabulary is used. Holds "not a token" results too. Ranks must be below 2^18 (true of
 * o200k_base; larger vocabularies bypass the memo).
 */
const PAIR_BITS = 17;
/**
 * Entry i: `memo[2i]` = `a | (b << 18)` (a and the low 14 bits of b), `memo[2i+1]` =
 * `(b >>> 14) | ((result + 1) << 4)`; an empty entry is all ones (its low word cannot match: that
 * would need a = 2^18 - 1).
 */
const memo = new Int32Array(2 << PAIR_BITS).fill(-1);
let pairVocab: Vocabulary | undefined;
/** Whether the memo is usable for the current vocabulary (all ranks below 2^18). */
let memoOn = true;

/** Slot (even index into `memo`) of the pair (a, b). */
function memoSlot(a: number, b: number): number {
  return ((Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77)) >>> (32 - PAIR_BITS)) << 1;
}

/**
 * Memo misses after which the exact pair table (`_pair_table.ts`; 8 MiB, 200–350 ms to build here)
 * is built and answers the misses instead of hashing bytes. A miss answered by the byte-string
 * lookup costs roughly 100 ns more than one answered by the table, so the build pays for itself
 * after about 2^21 misses: jobs with fewer never build it (measured: building it after 2^16
 * misses made a 2.3 MB first encode slower), very long ones build it once.
 */
const PAIR_TABLE_AFTER_MISSES = 1 << 21;
let pairTable: PairTable | undefined;
let misses = 0;

/** Memo miss: looks the concatenation `utf8[s, e)` up and remembers the result at `at`. */
function memoFill(
  vocab: Vocabulary,
  utf8: Uint8Array,
  s: number,
  e: number,
  a: number,
  b: number,
  at: number,
): number {
  let r: number;
  if (pairTable !== undefined) {
    r = pairTable.get(a, b);
  } else {
    r = vocab.rankOf(utf8, s, e);
    if (++misses >= PAIR_TABLE_AFTER_MISSES && memoOn) pairTable = PairTable.build(vocab);
  }
  memo[at] = a | (b << 18);
  memo[at + 1] = (b >>> 14) | ((r + 1) << 4);
  return r;
}

/**
 * Builds the exact pair table for `vocab` now (it is otherwise built after many memo misses) and
 * returns its size in bytes (0 when the vocabulary is too large for it). Output does not change.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { usePairTable } from "./bpe.ts";
 * import { loadVocabulary } from "./vocabulary.ts";
 * strictEqual(usePairTable(await loadVocabulary()), 8388608);
 * ```
 */
export function usePairTable(vocab: Vocabulary): number {
  useVocabulary(vocab);
  if (memoOn) pairTable ??= PairTable.build(vocab);
  return pairTable?.byteLength ?? 0;
}

/**
 * Bytes held by the exact pair table (0 until it is built).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { pairTableBytes } from "./bpe.ts";
 * strictEqual(pairTableBytes() >= 0, true);
 * ```
 */
export function pairTableBytes(): number {
  return pairTable?.byteLength ?? 0;
}

/** Rank of the merge of parts `[s, m)` (rank a) and `[m, e)` (rank b), or -1. */
function mergedRank(
  vocab: Vocabulary,
  utf8: Uint8Array,
  s: number,
  e: number,
  a: number,
  b: number,
): number {
  if (!memoOn) return vocab.rankOf(utf8, s, e);
  const at = memoSlot(a, b);
  const hi = memo[at + 1];
  if (memo[at] === (a | (b << 18)) && (hi & 15) === b >>> 14) return (hi >> 4) - 1;
  return memoFill(vocab, utf8, s, e, a, b, at);
}

/**
 * Bytes held by the pair memo (1 MiB).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { PAIR_MEMO_BYTES } from "./bpe.ts";
 * strictEqual(PAIR_MEMO_BYTES, 1048576);
 * ```
 */
export const PAIR_MEMO_BYTES: number = memo.byteLength;

/**
 * Rank of every two-byte string (`(first << 8) | second`; NONE when not a token): the first round
 * of pair lookups of every piece, from a dense 256 KiB table instead of the memo.
 */
const bytePairs = new Int32Array(65536);
/** Rank of each single byte (-1 when a byte is not a token), for the current vocabulary. */
const bytes = new Int32Array(256);
const bytePairKey = new Uint8Array(2);

/**
 * Forgets the pair memo (needed only when the ranks of a vocabulary object change).
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { clearPairMemo, pairTableBytes } from "./bpe.ts";
 * clearPairMemo();
 * ok(pairTableBytes() >= 0);
 * ```
 */
export function clearPairMemo(): void {
  memo.fill(-1);
  pairVocab = undefined;
  pairTable = undefined;
  misses = 0;
}

/** Resets the memo and rebuilds the byte-pair table when `vocab` is not the one they hold. */
function useVocabulary(vocab: Vocabulary): void {
  if (vocab === pairVocab) return;
  memo.fill(-1);
  memoOn = vocab.size < PAIR_TABLE_MAX_SIZE; // strict: an empty entry must match no pair
  for (let x = 0; x < 256; x++) {
    bytePairKey[0] = x;
    bytes[x] = vocab.rankOf(bytePairKey, 0, 1);
  }
  pairTable = undefined;
  misses = 0;
  for (let x = 0; x < 256; x++) {
    bytePairKey[0] = x;
    for (let y = 0; y < 256; y++) {
      bytePairKey[1] = y;
      const r = vocab.rankOf(bytePairKey, 0, 2);
      bytePairs[(x << 8) | y] = r < 0 ? NONE : r;
    }
  }
  pairVocab = vocab;
}

let bound = new Int32Array(0); // short: part boundaries; long: next part's start
let partRank = new Int32Array(0);
let pairRank = new Int32Array(0);
let prev = new Int32Array(0);
let heap = new Float64Array(0);

function ensure(n: number): void {
  if (bound.length > n + 1) return;
  let size = Math.max(256, bound.length);
  while (size <= n + 1) size *= 2;
  bound = new Int32Array(size);
  partRank = new Int32Array(size);
  pairRank = new Int32Array(size);
  prev = new Int32Array(size);
}

/**
 * Appends the tiktoken byte-pair encoding of the piece `utf8[start, end)` to `out` and returns the
 * number of tokens appended. Every byte must be a token of `vocab` (true of o200k_base). `out.push`
 * must not call back into this function.
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
  const n = end - start;
  if (n <= 0) return 0;
  const whole = vocab.rankOf(utf8, start, end);
  if (whole >= 0) {
    out.push(whole);
    return 1;
  }
  return n <= HEAP_THRESHOLD
    ? mergeShort(vocab, utf8, start, end, out)
    : mergeLong(vocab, utf8, start, end, out);
}

/**
 * The reference's loop: each merge scans the live pairs for the lowest rank (leftmost on ties)
 * and removes the absorbed part by shifting the arrays, as the reference does. O(n²) for n bytes. Appends the
 * tokens to `out`; returns how many.
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
  const n = end - start;
  ensure(n);
  useVocabulary(vocab);
  // Parts in arrays kept compact (a merge shifts the tail left by one): part i is
  // `utf8[pos[i], pos[i + 1])` with token `rk[i]`, and `pr[i]` is the rank of part i merged with
  // part i + 1. The minimum scan then reads consecutive memory without a chain of dependent loads.
  const pos = bound, pr = pairRank, rk = partRank;
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
    // The memo probe inlined (see `mergedRank`); misses go through `memoFill`.
    if (k + 1 < m) {
      const b = rk[k + 1];
      let r: number;
      if (memoOn) {
        const at = memoSlot(best, b), hi = memo[at + 1];
        r = memo[at] === (best | (b << 18)) && (hi & 15) === b >>> 14
          ? (hi >> 4) - 1
          : memoFill(vocab, utf8, pos[k], pos[k + 2], best, b, at);
      } else r = vocab.rankOf(utf8, pos[k], pos[k + 2]);
      pr[k] = r < 0 ? NONE : r;
    } else {
      pr[k] = NONE;
    }
    if (k > 0) {
      const a = rk[k - 1];
      let r: number;
      if (memoOn) {
        const at = memoSlot(a, best), hi = memo[at + 1];
        r = memo[at] === (a | (best << 18)) && (hi & 15) === best >>> 14
          ? (hi >> 4) - 1
          : memoFill(vocab, utf8, pos[k - 1], pos[k + 1], a, best, at);
      } else r = vocab.rankOf(utf8, pos[k - 1], pos[k + 1]);
      pr[k - 1] = r < 0 ? NONE : r;
    }
  }
  for (let i = 0; i < m; i++) out.push(rk[i]);
  return m;
}

function heapPush(size: number, key: number): number {
  if (size === heap.length) {
    const next = new Float64Array(Math.max(1024, heap.length * 2));
    next.set(heap);
    heap = next;
  }
  const h = heap;
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

/** Moves `heap[i]` down to its place in the heap `heap[0, size)`. */
function siftDown(i: number, size: number): void {
  const h = heap;
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

/** Removes the minimum (h[0]); returns the new size. */
function heapPop(size: number): number {
  const h = heap;
  const last = h[--size];
  let i = 0;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= size) break;
    if (c + 1 < size && h[c + 1] < h[c]) c++;
    if (h[c] >= last) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = last;
  return size;
}

/**
 * Heap version for long pieces (same result as `mergeShort`, O(n log n)). Appends the tokens to
 * `out`; returns how many.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { mergeLong } from "./bpe.ts";
 * import { loadVocabulary } from "./vocabulary.ts";
 * import { TokenBuffer } from "./token_buffer.ts";
 * const utf8 = new Uint8Array(100_000).fill(0x61);
 * strictEqual(mergeLong(await loadVocabulary(), utf8, 0, utf8.length, new TokenBuffer()) > 0, true);
 * ```
 *
 * Details: Parts are identified by their first byte (relative index);
 * `bound[i]` is the start of the next part (n at the end), `prev[i]` the previous part's start,
 * `partRank[i]` the part's token, `pairRank[i]` the rank of the part merged with its successor
 * (NONE if not a token, -1 once the part was absorbed). A heap entry (r, i) is stale unless
 * `pairRank[i] === r`: ranks are unique and a part's extent only grows, so an equal rank means
 * the same pair.
 */
export function mergeLong(
  vocab: Vocabulary,
  utf8: Uint8Array,
  start: number,
  end: number,
  out: TokenSink,
): number {
  const n = end - start;
  ensure(n);
  useVocabulary(vocab);
  const next = bound, pv = prev, pr = pairRank, rk = partRank;
  let size = 0;
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    pv[i] = i - 1;
    rk[i] = bytes[utf8[start + i]];
  }
  if (heap.length < n) heap = new Float64Array(Math.max(1024, 2 * n));
  const h0 = heap;
  for (let i = 0; i < n - 1; i++) {
    const r = bytePairs[(utf8[start + i] << 8) | utf8[start + i + 1]];
    pr[i] = r;
    if (r !== NONE) h0[size++] = r * SHIFT + i;
  }
  pr[n - 1] = NONE;
  // Floyd's bottom-up heap construction: O(n) instead of n pushes.
  for (let j = (size >> 1) - 1; j >= 0; j--) siftDown(j, size);
  while (size > 0) {
    const key = heap[0];
    size = heapPop(size);
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
      const r2 = mergedRank(vocab, utf8, start + i, start + next[k], r, rk[k]);
      pr[i] = r2 < 0 ? NONE : r2;
      if (r2 >= 0) size = heapPush(size, r2 * SHIFT + i);
    } else {
      pr[i] = NONE;
    }
    if (i > 0) {
      const h = pv[i];
      const r3 = mergedRank(vocab, utf8, start + h, start + k, rk[h], r);
      pr[h] = r3 < 0 ? NONE : r3;
      if (r3 >= 0) size = heapPush(size, r3 * SHIFT + h);
    }
  }
  let count = 0;
  for (let i = 0; i < n; i = next[i]) {
    out.push(rk[i]);
    count++;
  }
  return count;
}
