/**
 * A bounded cache of the encodings of recent pieces (whole tokens as well as pieces that needed
 * merging: CJK runs, rare words, long identifiers). An open-addressing table (linear
 * probing) of up to 65536 slots keyed by a hash of the piece's bytes, at most half full; keys and
 * tokens live in two arenas (up to 1 MiB of bytes, 256 Ki tokens). A new cache starts small (4096
 * slots, 64 KiB of keys, 16 Ki tokens) and doubles a table when it fills, so a fresh tokenizer
 * touches only as much memory as its text needs; when the full-size table is half full or an arena
 * is full the whole cache is cleared, so it never takes more than 4 MiB.
 *
 * Pieces over `SECOND_SIGHT_PIECE` bytes are looked up and stored from their second sighting on:
 * a bit filter (2^18 bits, 32 KiB, emptied with the cache) marks the hashes seen once. In the
 * corpus, 1–9 % of CJK pieces over 16 bytes recur within a file (other scripts 25–59 %, English
 * and code hardly have such pieces), so caching them on first sight mostly costs a probe, a copy
 * and arena space that shorter pieces would have used.
 *
 * @module
 */

import type { TokenSink } from "./types.ts";

const SLOTS = 1 << 16;
const FIRST_SLOTS = 1 << 12;
const KEY_ARENA = 1 << 20;
const TOKEN_ARENA = 1 << 18;
/** Longest piece (bytes) worth caching. */
export const MAX_CACHED_PIECE = 4096;
/**
 * Pieces longer than this (bytes; those the tokenizer backtracks) are cached from their second
 * sighting on (see the module doc and `get`).
 */
export const SECOND_SIGHT_PIECE = 16;
const SEEN_BITS = 18;

/** Bit of the seen-once filter for the piece hash `h`. */
function seenBit(h: number): number {
  return Math.imul(h, 0x9e3779b1) >>> (32 - SEEN_BITS);
}

/**
 * `arena`, or a copy of its first `top` elements in one doubled until it holds `need` (at most
 * `bound`).
 */
function grown<A extends Uint8Array | Uint32Array>(
  arena: A,
  need: number,
  top: number,
  bound: number,
): A {
  if (need <= arena.length) return arena;
  let size = arena.length * 2;
  while (size < need) size *= 2;
  const next = new (arena.constructor as new (n: number) => A)(Math.min(size, bound));
  next.set(arena.subarray(0, top));
  return next;
}

/** See the module doc. */
export class PieceCache {
  /**
   * Slot i (one cache line): `[8i]` hash, `[8i+1]` key length + 1, `[8i+2]` key offset in the key
   * arena, `[8i+3]` token offset in the token arena, `[8i+4]` token count, `[8i+5]` the generation
   * that wrote it: a slot of an older generation is empty, so `clear` is O(1); `[8i+6]`, `[8i+7]`
   * the first two tokens, so a hit of one or two tokens (most pieces) reads no token arena.
   */
  #slots = new Int32Array(FIRST_SLOTS * 8);
  /** `#slots.length - 1`: slot offsets wrap with it. */
  #wrap = FIRST_SLOTS * 8 - 1;
  #keys = new Uint8Array(KEY_ARENA >> 4);
  #tokens = new Uint32Array(TOKEN_ARENA >> 4);
  #keyTop = 0;
  #tokTop = 0;
  #count = 0;
  #gen = 1;
  /** The seen-once filter of pieces over `SECOND_SIGHT_PIECE` bytes (see the module doc). */
  readonly #seen = new Int32Array(1 << (SEEN_BITS - 5));

  /**
   * Appends the cached tokens of `utf8[s, e)` to `out` and returns their count, or returns -1
   * (appending nothing) on a miss, -2 on the first sighting of a piece over `SECOND_SIGHT_PIECE`
   * bytes (a miss that is not worth a `put`; it marks the piece seen). `h` must be
   * `hashBytesInt32(utf8, s, e)` (vocabulary.ts).
   */
  get(utf8: Uint8Array, s: number, e: number, h: number, out: TokenSink): number {
    const len = e - s;
    if (len > SECOND_SIGHT_PIECE) {
      const seen = this.#seen, b = seenBit(h);
      const w = seen[b >>> 5], m = 1 << (b & 31);
      if ((w & m) === 0) {
        seen[b >>> 5] = w | m;
        return -2;
      }
    }
    const keys = this.#keys, slots = this.#slots, gen = this.#gen, wrap = this.#wrap;
    let at = (h << 3) & wrap;
    for (;;) {
      if (slots[at + 5] !== gen) return -1;
      const kl = slots[at + 1];
      if (slots[at] === h && kl === len + 1) {
        const k = slots[at + 2];
        let i = 0;
        while (i < len && keys[k + i] === utf8[s + i]) i++;
        if (i === len) break;
      }
      at = (at + 8) & wrap;
    }
    const n = slots[at + 4];
    out.push(slots[at + 6]);
    if (n === 1) return 1;
    out.push(slots[at + 7]);
    if (n === 2) return 2;
    const tokens = this.#tokens, t = slots[at + 3];
    for (let i = 2; i < n; i++) out.push(tokens[t + i]);
    return n;
  }

  /** Stores the tokens `tokens[0, n)` of the piece `utf8[s, e)` (hash `h`; not yet cached). */
  put(utf8: Uint8Array, s: number, e: number, h: number, tokens: Uint32Array, n: number): void {
    const len = e - s;
    if (len > MAX_CACHED_PIECE) return;
    if (this.#count >= (this.#wrap + 1) >> 4) {
      if (this.#slots.length < SLOTS * 8) this.#growSlots();
      else this.clear();
    }
    if (this.#keyTop + len > this.#keys.length || this.#tokTop + n > this.#tokens.length) {
      if (this.#keyTop + len > KEY_ARENA || this.#tokTop + n > TOKEN_ARENA) this.clear();
      this.#growArenas(this.#keyTop + len, this.#tokTop + n);
    }
    if (len > SECOND_SIGHT_PIECE) {
      const b = seenBit(h);
      this.#seen[b >>> 5] |= 1 << (b & 31);
    }
    const slots = this.#slots, gen = this.#gen, wrap = this.#wrap;
    let at = (h << 3) & wrap;
    while (slots[at + 5] === gen) at = (at + 8) & wrap;
    this.#count++;
    slots[at + 5] = gen;
    slots[at] = h;
    slots[at + 1] = len + 1;
    // Plain copy loops: pieces are short, and `subarray` + `set` would allocate two views each.
    const keys = this.#keys, kt = this.#keyTop;
    slots[at + 2] = kt;
    for (let i = 0; i < len; i++) keys[kt + i] = utf8[s + i];
    this.#keyTop = kt + len;
    const toks = this.#tokens, tt = this.#tokTop;
    slots[at + 3] = tt;
    slots[at + 4] = n;
    slots[at + 6] = tokens[0];
    slots[at + 7] = n > 1 ? tokens[1] : 0;
    for (let i = 0; i < n; i++) toks[tt + i] = tokens[i];
    this.#tokTop = tt + n;
  }

  /** Doubles the slot table, moving the current entries over. */
  #growSlots(): void {
    const old = this.#slots, gen = this.#gen;
    const slots = new Int32Array(old.length * 2), wrap = slots.length - 1;
    for (let from = 0; from < old.length; from += 8) {
      if (old[from + 5] !== gen) continue;
      let at = (old[from] << 3) & wrap;
      while (slots[at + 5] === gen) at = (at + 8) & wrap;
      for (let k = 0; k < 8; k++) slots[at + k] = old[from + k];
    }
    this.#slots = slots;
    this.#wrap = wrap;
  }

  /** Grows the arenas (doubling, up to their bounds) to hold `keys` bytes and `tokens` tokens. */
  #growArenas(keys: number, tokens: number): void {
    this.#keys = grown(this.#keys, keys, this.#keyTop, KEY_ARENA);
    this.#tokens = grown(this.#tokens, tokens, this.#tokTop, TOKEN_ARENA);
  }

  /** Bytes held in typed arrays (288 KiB when new, at most 4 MiB + 32 KiB). */
  get byteLength(): number {
    return this.#slots.byteLength + this.#keys.byteLength + this.#tokens.byteLength +
      this.#seen.byteLength;
  }

  /** Empties the cache. */
  clear(): void {
    if (++this.#gen === 0x7fffffff) {
      this.#slots.fill(0);
      this.#gen = 1;
    }
    this.#count = 0;
    this.#seen.fill(0);
    this.#keyTop = 0;
    this.#tokTop = 0;
  }
}
