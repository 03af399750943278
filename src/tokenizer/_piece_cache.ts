/**
 * A bounded cache of the encodings of recent pieces (whole tokens as well as pieces that needed
 * merging: CJK runs, rare words, long identifiers). An open-addressing table (linear
 * probing) of 65536 slots keyed by a hash of the piece's bytes, at most half full; keys and tokens
 * live in two arenas (1 MiB of bytes, 256 Ki tokens). When the table is half full or an arena is
 * full the whole cache is cleared, so it never takes more than 4 MiB.
 *
 * @module
 */

import type { TokenSink } from "./types.ts";

const SLOTS = 1 << 16;
const KEY_ARENA = 1 << 20;
const TOKEN_ARENA = 1 << 18;
/** Longest piece (bytes) worth caching. */
export const MAX_CACHED_PIECE = 4096;

/** See the module doc. */
export class PieceCache {
  /**
   * Slot i (one cache line): `[8i]` hash, `[8i+1]` key length + 1, `[8i+2]` key offset in the key
   * arena, `[8i+3]` token offset in the token arena, `[8i+4]` token count, `[8i+5]` the generation
   * that wrote it: a slot of an older generation is empty, so `clear` is O(1); `[8i+6]`, `[8i+7]`
   * the first two tokens, so a hit of one or two tokens (most pieces) reads no token arena.
   */
  readonly #slots = new Int32Array(SLOTS * 8);
  readonly #keys = new Uint8Array(KEY_ARENA);
  readonly #tokens = new Uint32Array(TOKEN_ARENA);
  #keyTop = 0;
  #tokTop = 0;
  #count = 0;
  #gen = 1;

  /**
   * Appends the cached tokens of `utf8[s, e)` to `out` and returns their count, or returns -1
   * (appending nothing) on a miss. `h` must be `hashBytesInt32(utf8, s, e)` (vocabulary.ts).
   */
  get(utf8: Uint8Array, s: number, e: number, h: number, out: TokenSink): number {
    const len = e - s;
    const keys = this.#keys, slots = this.#slots, gen = this.#gen;
    let at = (h & (SLOTS - 1)) << 3;
    for (;;) {
      if (slots[at + 5] !== gen) return -1;
      const kl = slots[at + 1];
      if (slots[at] === h && kl === len + 1) {
        const k = slots[at + 2];
        let i = 0;
        while (i < len && keys[k + i] === utf8[s + i]) i++;
        if (i === len) break;
      }
      at = (at + 8) & (SLOTS * 8 - 1);
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
    if (
      this.#count >= SLOTS / 2 || this.#keyTop + len > KEY_ARENA || this.#tokTop + n > TOKEN_ARENA
    ) this.clear();
    const slots = this.#slots, gen = this.#gen;
    let at = (h & (SLOTS - 1)) << 3;
    while (slots[at + 5] === gen) at = (at + 8) & (SLOTS * 8 - 1);
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

  /** Bytes held in typed arrays (4 MiB). */
  get byteLength(): number {
    return this.#slots.byteLength + this.#keys.byteLength + this.#tokens.byteLength;
  }

  /** Empties the cache. */
  clear(): void {
    if (++this.#gen === 0x7fffffff) {
      this.#slots.fill(0);
      this.#gen = 1;
    }
    this.#count = 0;
    this.#keyTop = 0;
    this.#tokTop = 0;
  }
}
