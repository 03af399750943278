/**
 * The exact pair table of a byte-pair vocabulary: `(left rank, right rank) → rank of the
 * concatenation`, for every way of splitting every token's bytes into two tokens (446 189 pairs for
 * o200k_base). Byte-pair merging only ever joins two parts that are tokens, so "rank of the bytes
 * of part a followed by part b" is exactly `get(a, b)`: an integer hash probe instead of hashing and
 * comparing bytes (the same argument as src/gpu/tables.ts, which builds the GPU's copy).
 *
 * Open addressing with linear probing, capacity a power of two at least twice the pair count;
 * 8 bytes a slot (8 MiB for o200k_base). Ranks must be below 2^18.
 *
 * @module
 */

import type { Vocabulary } from "./vocabulary.ts";

/** Largest vocabulary the packed slots can hold (ranks below 2^18). */
export const PAIR_TABLE_MAX_SIZE = 1 << 18;

/** Slot index (not yet masked) of the pair (a, b). */
function pairSlot(a: number, b: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 16);
}

/** See the module doc. */
export class PairTable {
  /**
   * Slot i: `slots[2i]` = `a | (b << 18)` (a and the low 14 bits of b), `slots[2i+1]` =
   * `(b >>> 14) | ((merged + 1) << 4)`, 0 for an empty slot.
   */
  readonly slots: Int32Array;
  /** Number of slots minus one. */
  readonly mask: number;
  #pairs: number;

  private constructor(slots: Int32Array, pairs: number) {
    this.slots = slots;
    this.mask = (slots.length >> 1) - 1;
    this.#pairs = pairs;
  }

  /** Number of pairs held. */
  get pairs(): number {
    return this.#pairs;
  }

  /**
   * An empty table with room for `pairs` pairs (capacity a power of two at least twice that), to
   * fill with {@link PairTable.add}.
   */
  static withCapacity(pairs: number): PairTable {
    let cap = 1024;
    while (cap < pairs * 2) cap *= 2;
    return new PairTable(new Int32Array(2 * cap), 0);
  }

  /**
   * Adds the pair (a, b) with merged rank t; the pair must not be in the table yet and the table
   * must have room (see {@link PairTable.withCapacity}).
   */
  add(a: number, b: number, t: number): void {
    const slots = this.slots, mask = this.mask;
    let at = pairSlot(a, b) & mask;
    while (slots[2 * at + 1] !== 0) at = (at + 1) & mask;
    slots[2 * at] = a | (b << 18);
    slots[2 * at + 1] = (b >>> 14) | ((t + 1) << 4);
    this.#pairs++;
  }

  /**
   * Builds the table of `vocab` (8 MiB for o200k_base; 200–350 ms on a shared 2-core machine).
   *
   * @throws {RangeError} when the vocabulary has 2^18 or more tokens.
   */
  static build(vocab: Vocabulary): PairTable {
    const { size, bytes, offsets } = vocab;
    if (size > PAIR_TABLE_MAX_SIZE) {
      throw new RangeError(
        `Cannot build pair table: ${size} tokens is more than ${PAIR_TABLE_MAX_SIZE}`,
      );
    }
    // Pass 1: the splits, kept as (a, b, merged) triples.
    let found = new Int32Array(3 * 1 << 19);
    let n = 0;
    for (let t = 0; t < size; t++) {
      const s = offsets[t], e = offsets[t + 1];
      for (let k = s + 1; k < e; k++) {
        const a = vocab.rankOf(bytes, s, k);
        if (a < 0) continue;
        const b = vocab.rankOf(bytes, k, e);
        if (b < 0) continue;
        if (3 * n + 3 > found.length) {
          const grown = new Int32Array(found.length * 2);
          grown.set(found);
          found = grown;
        }
        found[3 * n] = a;
        found[3 * n + 1] = b;
        found[3 * n + 2] = t;
        n++;
      }
    }
    // Pass 2: the hash table. A pair (a, b) names one byte string, so it occurs once.
    const table = PairTable.withCapacity(n);
    for (let i = 0; i < n; i++) table.add(found[3 * i], found[3 * i + 1], found[3 * i + 2]);
    return table;
  }

  /** Rank of the concatenation of tokens `a` and `b`, or -1 when it is not a token. */
  get(a: number, b: number): number {
    const slots = this.slots, mask = this.mask;
    const lo = a | (b << 18), bh = b >>> 14;
    let at = pairSlot(a, b) & mask;
    for (;;) {
      const hi = slots[2 * at + 1];
      if (hi === 0) return -1;
      if (slots[2 * at] === lo && (hi & 15) === bh) return (hi >>> 4) - 1;
      at = (at + 1) & mask;
    }
  }

  /** Bytes held (8 MiB for o200k_base). */
  get byteLength(): number {
    return this.slots.byteLength;
  }
}
