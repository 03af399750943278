/**
 * Direct-mapped memos keyed by a pair of token ranks (a, b), both below 2^18 - 1: the one entry
 * layout shared by the merge loop's memo of merged ranks (`bpe.ts`) and the backtracking encoder's
 * memo of pair validity (`_backtrack.ts`). A memo of 2^k entries is an `Int32Array(2 << k)`; entry
 * i is `memo[2i]` = `(a + 1) | (b << 18)` (a plus one, so no stored entry is zero, and the low 14
 * bits of b) and `memo[2i + 1]` = `(b >>> 14) | (value << 4)`, with values in 0..2^27 - 1. An
 * all-zero entry matches no pair, so a new memo needs no fill. Collisions overwrite.
 *
 * @module
 */

/**
 * Slot (even index) of the pair (a, b) in a memo of 2^(32 - shift) entries.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { pairMemoSlot } from "./_pair_memo.ts";
 * const at = pairMemoSlot(3, 4, 32 - 12);
 * strictEqual(at % 2 === 0 && at < 2 << 12, true);
 * ```
 */
export function pairMemoSlot(a: number, b: number, shift: number): number {
  return ((Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77)) >>> shift) << 1;
}

/**
 * The value stored for (a, b) at slot `at`, or -1 when the slot holds no entry for that pair.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { pairMemoGet, pairMemoSet, pairMemoSlot } from "./_pair_memo.ts";
 * const memo = new Int32Array(2 << 12), at = pairMemoSlot(3, 200_000, 20);
 * strictEqual(pairMemoGet(memo, at, 3, 200_000), -1);
 * pairMemoSet(memo, at, 3, 200_000, 7);
 * strictEqual(pairMemoGet(memo, at, 3, 200_000), 7);
 * ```
 */
export function pairMemoGet(memo: Int32Array, at: number, a: number, b: number): number {
  const hi = memo[at + 1];
  return memo[at] === ((a + 1) | (b << 18)) && (hi & 15) === b >>> 14 ? hi >> 4 : -1;
}

/** Stores `value` (0..2^27 - 1) for (a, b) at slot `at` (see {@link pairMemoGet}). */
export function pairMemoSet(
  memo: Int32Array,
  at: number,
  a: number,
  b: number,
  value: number,
): void {
  memo[at] = (a + 1) | (b << 18);
  memo[at + 1] = (b >>> 14) | (value << 4);
}

/**
 * A memo of 2^bits entries holding the entries of `memo` (where two land in one slot, the later
 * one in `memo` stays).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { pairMemoGet, pairMemoResized, pairMemoSet, pairMemoSlot } from "./_pair_memo.ts";
 * const small = new Int32Array(2 << 4);
 * pairMemoSet(small, pairMemoSlot(5, 6, 28), 5, 6, 9);
 * const big = pairMemoResized(small, 10);
 * strictEqual(pairMemoGet(big, pairMemoSlot(5, 6, 22), 5, 6), 9);
 * ```
 */
export function pairMemoResized(memo: Int32Array, bits: number): Int32Array {
  const out = new Int32Array(2 << bits), shift = 32 - bits;
  for (let i = 0; i < memo.length; i += 2) {
    const lo = memo[i];
    if (lo === 0) continue;
    const at = pairMemoSlot((lo & 0x3ffff) - 1, (lo >>> 18) | ((memo[i + 1] & 15) << 14), shift);
    out[at] = lo;
    out[at + 1] = memo[i + 1];
  }
  return out;
}
