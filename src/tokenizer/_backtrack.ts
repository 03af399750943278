/**
 * Linear-time byte-pair encoding by backtracking (the algorithm of github/rust-gems' `bpe` crate,
 * written anew here): walk the piece left to right taking the longest token that starts at the
 * current position; accept it when the position after it is still reachable and BPE would keep the
 * boundary between it and the previous token (`isValidPair`); otherwise try the next shorter prefix
 * token, and when none is left, pop the previous token and mark this position unreachable. The walk
 * first follows the prefix filter as far as it goes, keeping each length's hash, then looks the
 * lengths up from the longest down and stops at the first token (one full lookup at a position,
 * not one for every token prefix). `isValidPair` goes through a per-encoder direct-mapped memo of
 * 2^14 pairs (128 KiB; about half the checks of a cold CJK pass hit it). For a
 * vocabulary in which every token encodes to itself the result is the byte-pair encoding
 * (tiktoken's `byte_pair_merge`): checked token for token against `BytePairEncoder` in
 * test/tokenizer/backtrack_test.ts (corpus of every kind, random bytes and Unicode, long pieces).
 *
 * Tables (built once per vocabulary on first use: 130–150 ms in Bun on a quiet 2-core EPYC, 8.5 MiB
 * for o200k_base; see `BacktrackTables.build`):
 * - `prefixBits`: a one-hash bit filter of the FNV-1a hashes of every prefix of every token (2^24
 *   bits, 2 MiB): the longest-match walk stops at the first length that is no token's prefix
 *   (false positives only make a walk one step longer; there are no false negatives).
 * - `nextPrefix[t]`: the longest token that is a proper prefix of token t (-1 for one byte).
 * - `split[2t], split[2t + 1]`: the two tokens BPE merges into t (t, t for an unsplittable token),
 *   found in rank order as the first prefix/rest pair that is itself a valid pair.
 * - `pairs`: those splits as a pair table `(left, right) → t` (`_pair_table.ts`); with `pairBits`
 *   it also answers the merge loop's memo misses once the tables exist (`mergedRank`).
 *
 * @module
 */

import { pairMemoGet, pairMemoSet, pairMemoSlot } from "./_pair_memo.ts";
import { PairTable } from "./_pair_table.ts";
import type { TokenSink } from "./types.ts";
import type { ByteVocabulary } from "./vocabulary.ts";

const FNV_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const PREFIX_BITS = 24;
const PAIR_BITS = 21;

/** Bit of the pair filter for the pair (a, b). */
function pairBit(a: number, b: number): number {
  const h = Math.imul(a ^ Math.imul(b, 0x85ebca77), 0x9e3779b1);
  return (h ^ (h >>> 15)) >>> (32 - PAIR_BITS);
}

/** Bit of the prefix filter for the prefix hash `h` (a mix, so it is independent of the Bloom). */
function prefixBit(h: number): number {
  return Math.imul(h ^ (h >>> 13), 0x9e3779b1) >>> (32 - PREFIX_BITS);
}

/**
 * The per-vocabulary tables of the backtracking encoder (see the module doc).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { backtrackTables } from "./_backtrack.ts";
 * import { loadVocabulary, type ByteVocabulary } from "./vocabulary.ts";
 * const v = await loadVocabulary() as ByteVocabulary;
 * const t = backtrackTables(v);
 * const ab = new TextEncoder().encode(" tokens");
 * strictEqual(t.nextPrefix[v.rankOf(ab, 0, 7)], v.rankOf(ab, 0, 6)); // " token"
 * ```
 */
export class BacktrackTables {
  /** Bit filter of token-prefix hashes (2^24 bits). */
  readonly prefixBits: Int32Array;
  /** Longest proper prefix token of each token, or -1. */
  readonly nextPrefix: Int32Array;
  /** The split of each token: `[2t]` left, `[2t + 1]` right (both t when unsplittable). */
  readonly split: Int32Array;
  /** The splits as a pair table. */
  readonly pairs: PairTable;
  /**
   * A one-hash bit filter of the pairs (2^21 bits, 256 KiB, about 9 % false positives): most pairs
   * `isValidPair` asks about are not splits and are answered without probing the 4 MiB table.
   */
  readonly pairBits: Int32Array;

  private constructor(
    prefixBits: Int32Array,
    nextPrefix: Int32Array,
    split: Int32Array,
    pairs: PairTable,
    pairBits: Int32Array,
  ) {
    this.prefixBits = prefixBits;
    this.nextPrefix = nextPrefix;
    this.split = split;
    this.pairs = pairs;
    this.pairBits = pairBits;
  }

  /**
   * Builds the tables of `vocab` from its tokens (ranks must be below 2^18, as the pair table
   * needs): 105–150 ms for o200k_base in Bun, 140–240 ms in Deno (2-core EPYC, load 0.7–2.7).
   */
  static build(vocab: ByteVocabulary): BacktrackTables {
    const { size, bytes, offsets, byteRank } = vocab;
    const nextPrefix = new Int32Array(size);
    // The longest proper prefix of each token that is a token.
    for (let t = 0; t < size; t++) {
      const s = offsets[t], e = offsets[t + 1];
      let h = FNV_BASIS, best = -1;
      for (let i = s; i + 1 < e; i++) {
        h = Math.imul(h ^ bytes[i], FNV_PRIME);
        const r = i === s ? byteRank[bytes[s]] : vocab.rankOfHashed(bytes, s, i + 1, h | 0);
        if (r >= 0) best = r;
      }
      nextPrefix[t] = best;
    }
    // The split of each token, in rank order (a split's parts have lower ranks).
    const split = new Int32Array(2 * size);
    const pairs = PairTable.withCapacity(size);
    const pairBits = new Int32Array(1 << (PAIR_BITS - 5));
    for (let t = 0; t < size; t++) {
      const s = offsets[t], e = offsets[t + 1];
      let a = nextPrefix[t], b = -1;
      while (a >= 0) {
        b = vocab.rankOf(bytes, s + offsets[a + 1] - offsets[a], e);
        if (b >= 0 && a < t && b < t && isValidPair(pairs, pairBits, split, a, b)) break;
        a = nextPrefix[a];
      }
      if (a >= 0) addSplit(pairs, pairBits, split, t, a, b);
      else split[2 * t] = split[2 * t + 1] = t;
    }
    return new BacktrackTables(prefixFilter(vocab), nextPrefix, split, pairs, pairBits);
  }

  /**
   * The token whose split is (a, b), or -1: for a vocabulary in `VERIFIED_VOCABULARIES`, the token
   * byte-pair merging makes of adjacent parts a and b, or -1 when it never joins them. Why: the
   * merges inside the bytes of a token t that merging forms are those of merging t alone (merges
   * across its edges never happen, or t would not form), whose last joins the two parts t's bytes
   * merge to without t, which is its split; so a pair (a, b) whose bytes are t but which is not t's
   * split is never the lowest pair, and answering -1 for it changes no choice. For the merge loop's
   * memo misses (`BytePairEncoder.useSplits`): a bit filter, then one probe, no bytes hashed.
   *
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { backtrackTables } from "./_backtrack.ts";
   * import { loadVocabulary, type ByteVocabulary } from "./vocabulary.ts";
   * const v = await loadVocabulary() as ByteVocabulary;
   * const t = backtrackTables(v);
   * const tok = v.rankOf(new TextEncoder().encode(" tokens"), 0, 7);
   * strictEqual(t.mergedRank(t.split[2 * tok], t.split[2 * tok + 1]), tok);
   * ```
   */
  mergedRank(a: number, b: number): number {
    return splitOf(this.pairs, this.pairBits, a, b);
  }

  /** Bytes held in typed arrays. */
  get byteLength(): number {
    return this.prefixBits.byteLength + this.nextPrefix.byteLength + this.split.byteLength +
      this.pairs.byteLength + this.pairBits.byteLength;
  }
}

/** Records the split of token t into a and b. */
function addSplit(
  pairs: PairTable,
  bits: Int32Array,
  split: Int32Array,
  t: number,
  a: number,
  b: number,
): void {
  split[2 * t] = a;
  split[2 * t + 1] = b;
  pairs.add(a, b, t);
  const x = pairBit(a, b);
  bits[x >>> 5] |= 1 << (x & 31);
}

/** The prefix filter of `vocab`: the hash of every prefix of every token (see the module doc). */
function prefixFilter(vocab: ByteVocabulary): Int32Array {
  const { size, bytes, offsets } = vocab;
  const bits = new Int32Array(1 << (PREFIX_BITS - 5));
  for (let t = 0; t < size; t++) {
    let h = FNV_BASIS;
    for (let i = offsets[t], e = offsets[t + 1]; i < e; i++) {
      h = Math.imul(h ^ bytes[i], FNV_PRIME);
      const b = prefixBit(h);
      bits[b >>> 5] |= 1 << (b & 31);
    }
  }
  return bits;
}

/** The token whose split is (a, b), or -1: the pair filter `bits`, then one probe of `pairs`. */
function splitOf(pairs: PairTable, bits: Int32Array, a: number, b: number): number {
  const x = pairBit(a, b);
  return (bits[x >>> 5] & (1 << (x & 31))) === 0 ? -1 : pairs.get(a, b);
}

/**
 * Whether BPE keeps the boundary between adjacent tokens `a` and `b` (no merge across it would
 * win): undoes the merges of a and b from the boundary outwards, the later (higher rank) first,
 * and fails when some pair across the boundary merges into a token of lower rank than the limit.
 */
function isValidPair(
  pairs: PairTable,
  bits: Int32Array,
  split: Int32Array,
  a: number,
  b: number,
): boolean {
  let limit = 0x7fffffff;
  for (;;) {
    const c = splitOf(pairs, bits, a, b);
    if (c >= 0 && c < limit) return false;
    if (a > b) {
      limit = a;
      a = split[2 * a + 1];
      if (a === limit) {
        limit = b + 1;
        b = split[2 * b];
        if (b + 1 === limit) return true;
      }
    } else {
      limit = b + 1;
      b = split[2 * b];
      if (b + 1 === limit) {
        limit = a;
        a = split[2 * a + 1];
        if (a === limit) return true;
      }
    }
  }
}

const VALID_BITS = 14;

/**
 * `isValidPair` through `memo`, a memo of 2^VALID_BITS pairs in the layout of `_pair_memo.ts`
 * (value 1: valid, 0: not). Ranks must be below 2^18 - 1.
 */
function validPairMemo(
  memo: Int32Array,
  pairs: PairTable,
  bits: Int32Array,
  split: Int32Array,
  a: number,
  b: number,
): boolean {
  const at = pairMemoSlot(a, b, 32 - VALID_BITS), known = pairMemoGet(memo, at, a, b);
  if (known >= 0) return known === 1;
  const v = isValidPair(pairs, bits, split, a, b);
  pairMemoSet(memo, at, a, b, v ? 1 : 0);
  return v;
}

let tablesByVocab: WeakMap<ByteVocabulary, BacktrackTables> | undefined;

/**
 * Bytes of pieces that a process encodes another way (`BacktrackEncoder.wants`) before it builds
 * a vocabulary's backtracking tables. Building them takes 105–280 ms and backtracking saves
 * 10–40 ns a byte on the corpus pieces over 16 bytes that need merging (CJK 12 ns/B on 17–32-byte
 * pieces, 41 ns/B on 33–64, 26 ns/B longer), so the build pays for itself only after about 10 MB of
 * such pieces; building it after 8 MiB merged the old way (the rent-or-buy point: what waiting
 * has cost by then is about what the build costs) keeps any job within twice the better of the two
 * choices made in hindsight. At 1 MiB, one cold pass over the 7.5 MB corpus text in a fresh process
 * paid the build inside the pass and ran at 15–20 MB/s instead of 17–29.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { BACKTRACK_AFTER_BYTES } from "./_backtrack.ts";
 * strictEqual(BACKTRACK_AFTER_BYTES, 8 << 20);
 * ```
 */
export const BACKTRACK_AFTER_BYTES: number = 8 << 20;

let loopBytes: WeakMap<ByteVocabulary, number> | undefined;

/**
 * Fingerprints (`vocabularyFingerprint`) of the vocabularies in which every token is known to
 * encode to itself by backtracking, the condition under which backtracking equals byte-pair
 * merging: o200k_base (test/tokenizer/backtrack_test.ts checks all 199998 tokens). Other
 * vocabularies keep the merge loop (`BacktrackEncoder.wants` says no).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { VERIFIED_VOCABULARIES, vocabularyFingerprint } from "./_backtrack.ts";
 * import { loadVocabulary, type ByteVocabulary } from "./vocabulary.ts";
 * const v = await loadVocabulary() as ByteVocabulary;
 * strictEqual(VERIFIED_VOCABULARIES.includes(vocabularyFingerprint(v)), true);
 * ```
 */
export const VERIFIED_VOCABULARIES: readonly number[] = [2297568859];

/**
 * A fingerprint of a vocabulary's tokens: FNV-1a over all token bytes, then over every token's
 * length, as an unsigned 32-bit number.
 *
 * @example
 * ```ts
 * import { notStrictEqual } from "node:assert/strict";
 * import { vocabularyFingerprint } from "./_backtrack.ts";
 * import { ByteVocabulary } from "./vocabulary.ts";
 * const v = (o: number[]) => new ByteVocabulary(new Uint8Array([97, 98]), new Uint32Array(o));
 * notStrictEqual(vocabularyFingerprint(v([0, 1, 2])), vocabularyFingerprint(v([0, 2, 2])));
 * ```
 */
export function vocabularyFingerprint(vocab: ByteVocabulary): number {
  const { size, bytes, offsets } = vocab;
  let h = FNV_BASIS;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
  for (let t = 0; t < size; t++) h = Math.imul(h ^ (offsets[t + 1] - offsets[t]), FNV_PRIME);
  return h >>> 0;
}

let verifiedByVocab: WeakMap<ByteVocabulary, boolean> | undefined;

/** Whether `vocab` is one of `VERIFIED_VOCABULARIES` (its fingerprint taken once: 2–7 ms). */
function isVerified(vocab: ByteVocabulary): boolean {
  verifiedByVocab ??= new WeakMap();
  let v = verifiedByVocab.get(vocab);
  if (v === undefined) {
    verifiedByVocab.set(vocab, v = VERIFIED_VOCABULARIES.includes(vocabularyFingerprint(vocab)));
  }
  return v;
}

/**
 * The backtracking tables of `vocab`, built on first use and shared by every encoder of it.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { backtrackTables } from "./_backtrack.ts";
 * import { loadVocabulary, type ByteVocabulary } from "./vocabulary.ts";
 * const v = await loadVocabulary() as ByteVocabulary;
 * strictEqual(backtrackTables(v), backtrackTables(v));
 * ```
 */
export function backtrackTables(vocab: ByteVocabulary): BacktrackTables {
  tablesByVocab ??= new WeakMap();
  let t = tablesByVocab.get(vocab);
  if (t === undefined) tablesByVocab.set(vocab, t = BacktrackTables.build(vocab));
  return t;
}

/**
 * Byte-pair encoding by backtracking over one vocabulary, with its own scratch (grown to the
 * longest piece seen). Not reentrant.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 * import { BacktrackEncoder } from "./_backtrack.ts";
 * import { loadVocabulary, type ByteVocabulary } from "./vocabulary.ts";
 * import { TokenBuffer } from "./token_buffer.ts";
 * const enc = new BacktrackEncoder(await loadVocabulary() as ByteVocabulary);
 * const utf8 = new TextEncoder().encode(" tokenization");
 * const out = new TokenBuffer();
 * strictEqual(enc.encode(utf8, 0, utf8.length, out), 2);
 * deepStrictEqual(out.toArray(), new Uint32Array([6602, 2860]));
 * ```
 */
export class BacktrackEncoder {
  readonly vocab: ByteVocabulary;
  #tables: BacktrackTables | undefined;
  /** Whether the vocabulary is one of `VERIFIED_VOCABULARIES` (known after the first `wants`). */
  #verified: boolean | undefined;
  #stack = new Int32Array(0);
  #reach = new Uint8Array(0);
  #valid = new Int32Array(0);
  #hashes: Int32Array;

  /** An encoder over `vocab`; tables are fetched (or built) on the first piece. */
  constructor(vocab: ByteVocabulary) {
    this.vocab = vocab;
    this.#hashes = new Int32Array(vocab.maxTokenLength + 1);
  }

  /** Bytes of this encoder's scratch and pair-validity memo. */
  get byteLength(): number {
    return this.#stack.byteLength + this.#reach.byteLength + this.#valid.byteLength +
      this.#hashes.byteLength;
  }

  /**
   * Whether to encode a piece of `n` bytes by backtracking: never for a vocabulary outside
   * `VERIFIED_VOCABULARIES`; else yes once the vocabulary's tables exist, or once this process
   * has encoded `BACKTRACK_AFTER_BYTES` bytes of pieces otherwise (each no counts its piece; the
   * caller then merges it another way).
   */
  wants(n: number): boolean {
    if (this.#tables !== undefined) return true;
    this.#verified ??= isVerified(this.vocab);
    if (!this.#verified) return false;
    const built = tablesByVocab?.get(this.vocab);
    if (built !== undefined) {
      this.#tables = built;
      return true;
    }
    loopBytes ??= new WeakMap();
    const total = (loopBytes.get(this.vocab) ?? 0) + n;
    loopBytes.set(this.vocab, total);
    return total > BACKTRACK_AFTER_BYTES;
  }

  /**
   * The vocabulary's backtracking tables once this encoder has used them (once `wants` said yes,
   * so the vocabulary is verified, or `encode` ran), else undefined.
   */
  get tables(): BacktrackTables | undefined {
    return this.#tables;
  }

  /** Bytes of the vocabulary's backtracking tables once this encoder has used them (else 0). */
  get tableBytes(): number {
    return this.#tables?.byteLength ?? 0;
  }

  /**
   * The longest token starting at `utf8[p]` and ending at most at `end` (one byte at least: every
   * byte is a token).
   */
  #longest(utf8: Uint8Array, p: number, end: number, bits: Int32Array): number {
    const vocab = this.vocab, filter = vocab.filter, hs = this.#hashes;
    const stop = Math.min(end, p + vocab.maxTokenLength);
    let h = Math.imul(FNV_BASIS ^ utf8[p], FNV_PRIME);
    let i = p + 1;
    for (; i < stop; i++) {
      h = Math.imul(h ^ utf8[i], FNV_PRIME);
      const b = prefixBit(h);
      if ((bits[b >>> 5] & (1 << (b & 31))) === 0) break;
      hs[i - p] = h;
    }
    for (let j = i - 1; j > p; j--) {
      const hj = hs[j - p];
      if ((filter[(hj >>> 16) & 0xffff] & (1 << (hj & 31))) === 0) continue;
      const r = vocab.rankOfHashed(utf8, p, j + 1, hj);
      if (r >= 0) return r;
    }
    return vocab.byteRank[utf8[p]];
  }

  /**
   * Appends the byte-pair encoding of `utf8[start, end)` to `out`; returns the number of tokens.
   * Equal to byte-pair merging when every token of the vocabulary encodes to itself (see
   * `VERIFIED_VOCABULARIES`).
   */
  encode(utf8: Uint8Array, start: number, end: number, out: TokenSink): number {
    const n = end - start;
    if (n <= 0) return 0;
    const t = this.#tables ??= backtrackTables(this.vocab);
    if (this.#reach.length < n + 1) {
      let size = Math.max(256, this.#reach.length);
      while (size < n + 1) size *= 2;
      this.#reach = new Uint8Array(size);
      this.#stack = new Int32Array(size);
    }
    const reach = this.#reach, stack = this.#stack, bits = t.prefixBits;
    const { nextPrefix, split, pairs, pairBits } = t;
    const offsets = this.vocab.offsets;
    if (this.#valid.length === 0) this.#valid = new Int32Array(2 << VALID_BITS);
    const valid = this.#valid;
    reach.fill(1, 0, n + 1);
    let count = 0, pos = start;
    let next = this.#longest(utf8, start, end, bits);
    while (next >= 0) {
      let token = next;
      const last = count > 0 ? stack[count - 1] : -1;
      for (;;) {
        const stop = pos + offsets[token + 1] - offsets[token];
        if (
          reach[stop - start] !== 0 &&
          (last < 0 || validPairMemo(valid, pairs, pairBits, split, last, token))
        ) {
          stack[count++] = token;
          pos = stop;
          next = stop < end ? this.#longest(utf8, stop, end, bits) : -1;
          break;
        }
        const shorter = nextPrefix[token];
        if (shorter >= 0) {
          token = shorter;
          continue;
        }
        reach[pos - start] = 0;
        count--;
        pos -= offsets[last + 1] - offsets[last];
        next = last;
        break;
      }
    }
    for (let i = 0; i < count; i++) out.push(stack[i]);
    return count;
  }
}
