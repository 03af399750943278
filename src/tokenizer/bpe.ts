/**
 * Byte-pair encoding of one pre-tokenized piece, exactly as tiktoken does it (reference:
 * `src/tiktoken.rs`, `byte_pair_merge`): start from single bytes and repeatedly merge the adjacent
 * pair whose merged bytes have the lowest rank, the leftmost pair on ties, until no adjacent pair
 * is a token.
 *
 * - A piece that is itself a token is one lookup (most pieces of English text and code).
 * - Short pieces: a scan for the minimum over a typed array per merge (O(n²) for n ≤ 64 bytes,
 *   which is faster than a heap at that size).
 * - Long pieces: a doubly linked list over byte positions plus a binary min-heap keyed by
 *   (rank, position) with lazy deletion: O(n log n). Popping the smallest (rank, position) among
 *   the live pairs is the same choice as the reference's scan, so the results are identical.
 *
 * No allocation per merge: scratch typed arrays shared by all calls, grown by doubling.
 *
 * @module
 */

import type { TokenSink } from "./types.ts";
import type { Vocabulary } from "./vocabulary.ts";

/**
 * Pieces longer than this (bytes) use the heap.
 *
 * @example
 * ```ts
 * import { HEAP_THRESHOLD } from "./bpe.ts";
 * HEAP_THRESHOLD; // 64
 * ```
 */
export const HEAP_THRESHOLD = 64;

const NONE = 0x7fffffff;
/** 2^32: heap keys are rank * 2^32 + position, exact in a float64. */
const SHIFT = 4294967296;

/**
 * Memo of pair merges, keyed by the two parts' ranks (integer keys instead of hashing bytes):
 * direct-mapped, 2^17 entries of 16 bytes (2 MB; one cache line per lookup), an entry overwritten
 * on collision; reset when another vocabulary is used. Holds -1 results too.
 */
const PAIR_BITS = 17;
/** Entry i: `memo[4i]` left rank (-1 = empty), `memo[4i+1]` right rank, `memo[4i+2]` result. */
const memo = new Int32Array(4 << PAIR_BITS).fill(-1);
let pairVocab: Vocabulary | undefined;

/** Rank of the merge of parts `[s, m)` (rank a) and `[m, e)` (rank b), or -1. */
function mergedRank(
  vocab: Vocabulary,
  utf8: Uint8Array,
  s: number,
  e: number,
  a: number,
  b: number,
): number {
  const at = ((Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77)) >>> (32 - PAIR_BITS)) << 2;
  if (memo[at] === a && memo[at + 1] === b) return memo[at + 2];
  const r = vocab.rankOf(utf8, s, e);
  memo[at] = a;
  memo[at + 1] = b;
  memo[at + 2] = r;
  return r;
}

/**
 * Bytes held by the pair memo (2 MiB).
 *
 * @example
 * ```ts
 * import { PAIR_MEMO_BYTES } from "./bpe.ts";
 * PAIR_MEMO_BYTES; // 2097152
 * ```
 */
export const PAIR_MEMO_BYTES: number = memo.byteLength;

/**
 * Rank of every two-byte string (`(first << 8) | second`; NONE when not a token): the first round
 * of pair lookups of every piece, from a dense 256 KiB table instead of the memo.
 */
const bytePairs = new Int32Array(65536);
const bytePairKey = new Uint8Array(2);

/**
 * Forgets the pair memo (needed only when the ranks of a vocabulary object change).
 *
 * @example
 * ```ts
 * import { clearPairMemo } from "./bpe.ts";
 * clearPairMemo();
 * ```
 */
export function clearPairMemo(): void {
  memo.fill(-1);
  pairVocab = undefined;
}

/** Resets the memo and rebuilds the byte-pair table when `vocab` is not the one they hold. */
function useVocabulary(vocab: Vocabulary): void {
  if (vocab === pairVocab) return;
  memo.fill(-1);
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
 * import { encodePiece } from "./bpe.ts";
 * import { loadVocabulary } from "./vocabulary.ts";
 * import { TokenBuffer } from "./token_buffer.ts";
 * const vocab = await loadVocabulary();
 * const utf8 = new TextEncoder().encode(" tokenization");
 * const out = new TokenBuffer();
 * encodePiece(vocab, utf8, 0, utf8.length, out);
 * out.toArray(); // Uint32Array [ 6602, 2860 ]
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
 * The reference's loop: each merge scans the live pairs for the lowest rank (leftmost on ties);
 * `pairRank[i]` is the rank of part i merged with its successor. O(n²) for n bytes. Appends the
 * tokens to `out`; returns how many.
 *
 * @example
 * ```ts
 * import { mergeShort } from "./bpe.ts";
 * import { loadVocabulary } from "./vocabulary.ts";
 * import { TokenBuffer } from "./token_buffer.ts";
 * const utf8 = new TextEncoder().encode(" tokenization");
 * mergeShort(await loadVocabulary(), utf8, 0, utf8.length, new TokenBuffer()); // 2
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
  // Parts are a linked list over byte positions (relative): `next[i]` is the start of the part
  // after part i (n at the end); a merge unlinks one part (no shifting).
  const next = bound, pr = pairRank, rk = partRank;
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    rk[i] = vocab.rankOf(utf8, start + i, start + i + 1);
  }
  for (let i = 0; i < n - 1; i++) pr[i] = bytePairs[(utf8[start + i] << 8) | utf8[start + i + 1]];
  pr[n - 1] = NONE;
  let m = n;
  while (m > 1) {
    let best = NONE, k = -1, before = -1;
    for (let i = 0, p = -1; i < n; p = i, i = next[i]) {
      if (pr[i] < best) {
        best = pr[i];
        k = i;
        before = p;
      }
    }
    if (k < 0) break;
    // Merge part k with its successor j into [k, after).
    const after = next[next[k]];
    rk[k] = best;
    next[k] = after;
    m--;
    if (after < n) {
      const r = mergedRank(vocab, utf8, start + k, start + next[after], best, rk[after]);
      pr[k] = r < 0 ? NONE : r;
    } else {
      pr[k] = NONE;
    }
    if (before >= 0) {
      const r = mergedRank(vocab, utf8, start + before, start + after, rk[before], best);
      pr[before] = r < 0 ? NONE : r;
    }
  }
  for (let i = 0; i < n; i = next[i]) out.push(rk[i]);
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
 * import { mergeLong } from "./bpe.ts";
 * import { loadVocabulary } from "./vocabulary.ts";
 * import { TokenBuffer } from "./token_buffer.ts";
 * const utf8 = new Uint8Array(100_000).fill(0x61);
 * mergeLong(await loadVocabulary(), utf8, 0, utf8.length, new TokenBuffer()) > 0; // true
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
    rk[i] = vocab.rankOf(utf8, start + i, start + i + 1);
  }
  for (let i = 0; i < n - 1; i++) {
    const r = bytePairs[(utf8[start + i] << 8) | utf8[start + i + 1]];
    pr[i] = r;
    if (r !== NONE) size = heapPush(size, r * SHIFT + i);
  }
  pr[n - 1] = NONE;
  while (size > 0) {
    const key = heap[0];
    size = heapPop(size);
    const r = Math.floor(key / SHIFT);
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
