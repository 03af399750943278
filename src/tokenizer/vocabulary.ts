/**
 * The ordinary (byte-pair) tokens of o200k_base, the vocabulary under o200k_harmony (reference:
 * `src/tiktoken_ext/public_encodings.rs`), held in typed arrays: all token bytes concatenated in
 * rank order plus an open-addressing hash table from byte strings to ranks.
 *
 * The ranks come from the `js-tiktoken` package (`js-tiktoken/ranks/o200k_base`, lines
 * `"<prefix> <offset> <base64 token> <base64 token> ..."`); nothing is downloaded.
 *
 * @module
 */

/** The ordinary tokens of a byte-pair vocabulary (ranks `0..size-1`). */
export interface Vocabulary {
  /** Number of ordinary tokens (199998 for o200k_base): ranks are `0..size-1`. */
  readonly size: number;
  /** All ordinary token bytes concatenated in rank order. */
  readonly bytes: Uint8Array;
  /** Token `r` is `bytes[offsets[r], offsets[r + 1])`; length `size + 1`. */
  readonly offsets: Uint32Array;
  /** The rank of the token `utf8[start, end)`, or -1 when those bytes are not a token. */
  rankOf(utf8: Uint8Array, start: number, end: number): number;
}

/**
 * The immutable tables of a {@link ByteVocabulary} (see its fields), as
 * {@link ByteVocabulary.tables} hands them to other threads.
 */
export interface VocabularyTables {
  /** All token bytes in rank order. */
  readonly bytes: Uint8Array;
  /** Token offsets into `bytes` (length size + 1). */
  readonly offsets: Uint32Array;
  /** The open-addressing table (4 entries per slot). */
  readonly slots: Int32Array;
  /** The Bloom filter of token hashes. */
  readonly filter: Int32Array;
  /** Rank of each single byte. */
  readonly byteRank: Int32Array;
  /** Length of the longest token. */
  readonly maxTokenLength: number;
}

/** FNV-1a offset basis and prime (32-bit). */
const FNV_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * Hash of `b[start, end)` (FNV-1a, 32 bits, unsigned). The GPU tables use it too.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { hashBytes } from "./vocabulary.ts";
 * strictEqual(hashBytes(new Uint8Array([104, 105]), 0, 2) === hashBytes(new Uint8Array([0, 104, 105]), 1, 3), true);
 * ```
 */
export function hashBytes(b: Uint8Array, start: number, end: number): number {
  return hashBytesInt32(b, start, end) >>> 0;
}

/**
 * `hashBytes` as a signed int32 (same bits), the form the CPU tables store and compare.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { hashBytes, hashBytesInt32 } from "./vocabulary.ts";
 * const b = new TextEncoder().encode("hello");
 * strictEqual((hashBytesInt32(b, 0, 5) >>> 0) === hashBytes(b, 0, 5), true);
 * ```
 */
export function hashBytesInt32(b: Uint8Array, start: number, end: number): number {
  let h = FNV_BASIS;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i], FNV_PRIME);
  return h | 0;
}

/**
 * A vocabulary in typed arrays with an open-addressing (linear probing) table of capacity a power
 * of two at most 40% full. A lookup hashes the bytes once, then compares the stored 32-bit hash,
 * the length and the bytes of the candidates; no strings are built.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { ByteVocabulary } from "./vocabulary.ts";
 * const v = new ByteVocabulary(new Uint8Array([97, 98, 97, 98]), new Uint32Array([0, 1, 2, 4]));
 * strictEqual(v.rankOf(new Uint8Array([97, 98]), 0, 2), 2);
 * ```
 */
export class ByteVocabulary implements Vocabulary {
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly offsets: Uint32Array;
  /**
   * Slot i is `slots[4i]` = the token's full 32-bit hash (rejects most mismatches without reading
   * bytes), `slots[4i + 1]` = its rank plus one (0 = empty slot), `slots[4i + 2]` = its offset in
   * `bytes`, `slots[4i + 3]` = its length: a probe and a hit's check touch one cache line of the
   * table and one of `bytes`.
   */
  readonly slots: Int32Array;
  /** Capacity minus one. */
  readonly mask: number;
  /**
   * A small direct-mapped copy of recently found slots (4096 entries, 64 KiB, same layout as
   * `slots`), checked first: frequent tokens are then found without touching the large table.
   */
  readonly front: Int32Array = new Int32Array(4 * 4096);
  /**
   * A one-hash Bloom filter of the tokens: bit `h & 31` of word `(h >>> 16) & 0xffff` is set for
   * every token's hash h (2^21 bits, 256 KiB, small enough to stay in cache). Most strings that are
   * not tokens (concatenations that byte-pair merging tries, pieces that need merging) are then
   * rejected without touching the large table; about 9% pass falsely and are looked up as before.
   */
  readonly filter: Int32Array;
  /** Rank of each single byte (every byte is a token in o200k_base; -1 otherwise). */
  readonly byteRank: Int32Array;
  /** Length in bytes of the longest token. */
  readonly maxTokenLength: number;

  /**
   * Builds the table over tokens given as concatenated bytes plus offsets (rank order), or takes
   * `built`, the tables of a vocabulary built before (see {@link ByteVocabulary.tables}; in
   * another thread, over shared memory). `front`, a mutable cache, is always this instance's own.
   */
  constructor(bytes: Uint8Array, offsets: Uint32Array, built?: VocabularyTables) {
    const size = offsets.length - 1;
    this.size = size;
    this.bytes = bytes;
    this.offsets = offsets;
    if (built) {
      this.slots = built.slots;
      this.mask = built.slots.length / 4 - 1;
      this.filter = built.filter;
      this.byteRank = built.byteRank;
      this.maxTokenLength = built.maxTokenLength;
      return;
    }
    this.filter = new Int32Array(1 << 16);
    let cap = 1024;
    while (cap < size * 2.5) cap *= 2;
    this.mask = cap - 1;
    const slots = this.slots = new Int32Array(4 * cap);
    this.byteRank = new Int32Array(256).fill(-1);
    let maxLen = 0;
    for (let r = 0; r < size; r++) {
      const s = offsets[r], e = offsets[r + 1];
      if (e - s > maxLen) maxLen = e - s;
      if (e - s === 1) this.byteRank[bytes[s]] = r;
      const h = hashBytesInt32(bytes, s, e);
      this.filter[(h >>> 16) & 0xffff] |= 1 << (h & 31);
      let slot = h & this.mask;
      while (slots[4 * slot + 1] !== 0) slot = (slot + 1) & this.mask;
      slots[4 * slot] = h;
      slots[4 * slot + 1] = r + 1;
      slots[4 * slot + 2] = s;
      slots[4 * slot + 3] = e - s;
    }
    this.maxTokenLength = maxLen;
  }

  /**
   * The vocabulary's immutable tables copied into `SharedArrayBuffer`s (about 11 MiB for
   * o200k_base): structured-cloneable without a copy, so worker threads build their
   * vocabulary with {@link useVocabularyTables} instead of parsing the ranks again, and all
   * threads read one copy (half the cache footprint of two).
   *
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { ByteVocabulary } from "./vocabulary.ts";
   * const v = new ByteVocabulary(new Uint8Array([97, 98, 97, 98]), new Uint32Array([0, 1, 2, 4]));
   * const t = v.tables();
   * strictEqual(t.bytes.buffer instanceof SharedArrayBuffer, true);
   * strictEqual(new ByteVocabulary(t.bytes, t.offsets, t).rankOf(new Uint8Array([97, 98]), 0, 2), 2);
   * ```
   */
  tables(): VocabularyTables {
    const shared = <T extends Uint8Array | Uint32Array | Int32Array>(
      a: T,
      make: (b: SharedArrayBuffer) => T,
    ): T => {
      if (a.buffer instanceof SharedArrayBuffer) return a;
      const out = make(new SharedArrayBuffer(a.byteLength));
      out.set(a as never);
      return out;
    };
    return {
      bytes: shared(this.bytes, (b) => new Uint8Array(b)),
      offsets: shared(this.offsets, (b) => new Uint32Array(b)),
      slots: shared(this.slots, (b) => new Int32Array(b)),
      filter: shared(this.filter, (b) => new Int32Array(b)),
      byteRank: shared(this.byteRank, (b) => new Int32Array(b)),
      maxTokenLength: this.maxTokenLength,
    };
  }

  /** The rank of `utf8[start, end)`, or -1. Cost: one hash pass plus the matching compare. */
  rankOf(utf8: Uint8Array, start: number, end: number): number {
    const len = end - start;
    if (len === 1) return this.byteRank[utf8[start]];
    if (len > this.maxTokenLength || len <= 0) return -1;
    return this.rankOfHashed(utf8, start, end, hashBytesInt32(utf8, start, end));
  }

  /**
   * Empties the small cache of recently found tokens (`front`), as a fresh process has it;
   * lookups give the same ranks either way. For cold-text measurements.
   *
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { ByteVocabulary } from "./vocabulary.ts";
   * const v = new ByteVocabulary(new Uint8Array([97, 98, 97, 98]), new Uint32Array([0, 1, 2, 4]));
   * strictEqual(v.rankOf(new Uint8Array([97, 98]), 0, 2), 2);
   * v.clearFront();
   * strictEqual(v.front.every((x) => x === 0), true);
   * strictEqual(v.rankOf(new Uint8Array([97, 98]), 0, 2), 2);
   * ```
   */
  clearFront(): void {
    this.front.fill(0);
  }

  /**
   * `rankOf` with the hash already computed (`h = hashBytesInt32(utf8, start, end)`), for callers that
   * need the hash for something else too. `end - start` must be at least 2.
   */
  rankOfHashed(utf8: Uint8Array, start: number, end: number, h: number): number {
    const len = end - start;
    if (len > this.maxTokenLength) return -1;
    if ((this.filter[(h >>> 16) & 0xffff] & (1 << (h & 31))) === 0) return -1;
    const bytes = this.bytes, front = this.front;
    const f = ((h ^ (h >>> 15)) & 4095) << 2;
    if (front[f] === h && front[f + 3] === len && front[f + 1] !== 0) {
      const s = front[f + 2];
      let i = 0;
      while (i < len && bytes[s + i] === utf8[start + i]) i++;
      if (i === len) return front[f + 1] - 1;
    }
    const mask = this.mask, slots = this.slots;
    let at = (h & mask) << 2;
    const wrap = slots.length - 1;
    for (;;) {
      const r1 = slots[at + 1];
      if (r1 === 0) return -1;
      if (slots[at] === h && slots[at + 3] === len) {
        const s = slots[at + 2];
        let i = 0;
        while (i < len && bytes[s + i] === utf8[start + i]) i++;
        if (i === len) {
          front[f] = h;
          front[f + 1] = r1;
          front[f + 2] = s;
          front[f + 3] = len;
          return r1 - 1;
        }
      }
      at = (at + 4) & wrap;
    }
  }
}

let b64: Int8Array | undefined;

/** Base64 alphabet value of each ASCII code (-1 = not base64), built on first use. */
function base64Values(): Int8Array {
  if (b64) return b64;
  const t = new Int8Array(128).fill(-1);
  const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < 64; i++) t[a.charCodeAt(i)] = i;
  return b64 = t;
}

/**
 * Parses tiktoken's compressed rank format (js-tiktoken `bpe_ranks`: lines of
 * `"<prefix> <offset> <b64> <b64> ..."`, token i of a line having rank offset + i) into a
 * vocabulary. Ranks must be contiguous from 0.
 *
 * @throws {SyntaxError} on malformed data (bad base64, a missing or duplicated rank).
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseCompressedRanks } from "./vocabulary.ts";
 * const v = parseCompressedRanks("! 0 YQ== Yg== YWI=");
 * strictEqual(v.rankOf(new TextEncoder().encode("ab"), 0, 2), 2);
 * ```
 */
export function parseCompressedRanks(data: string): ByteVocabulary {
  return parseContiguousRanks(data) ?? parseRanksInAnyOrder(data);
}

/**
 * The fields of the ranks line that starts at `pos` (`NAME OFFSET TOKEN…`): where the line ends,
 * where its offset field starts and ends (`offEnd` -1 when the line has no space: no fields) and
 * the offset as a number (NaN when it is not one). One home for the line rule of both parsers.
 */
function rankLine(
  data: string,
  pos: number,
): { lineEnd: number; offStart: number; offEnd: number; offset: number } {
  let lineEnd = data.indexOf("\n", pos);
  if (lineEnd < 0) lineEnd = data.length;
  const sp1 = data.indexOf(" ", pos);
  if (sp1 < 0 || sp1 >= lineEnd) return { lineEnd, offStart: -1, offEnd: -1, offset: NaN };
  const sp2 = data.indexOf(" ", sp1 + 1);
  const offEnd = sp2 >= 0 && sp2 < lineEnd ? sp2 : lineEnd;
  return { lineEnd, offStart: sp1 + 1, offEnd, offset: Number(data.slice(sp1 + 1, offEnd)) };
}

/**
 * The common case of `parseCompressedRanks` in one pass: lines in rank order (js-tiktoken's
 * o200k_base is one line of 199998 tokens), each token decoded straight into place, no arrays of
 * positions (o200k_base: 20–35 ms instead of 80–110 ms). Returns `undefined` on anything else
 * (ranks out of order, a character that is not base64, `=` inside a token), for the general parser
 * to read or to report.
 */
function parseContiguousRanks(data: string): ByteVocabulary | undefined {
  const n = data.length, B64 = base64Values();
  const bytes = new Uint8Array((n * 3 + 3) >> 2);
  let offsets = new Uint32Array(1024);
  let count = 0, out = 0, pos = 0;
  while (pos < n) {
    const { lineEnd, offEnd, offset } = rankLine(data, pos);
    if (offEnd >= 0) {
      if (offset !== count) return undefined;
      let c = offEnd + 1;
      while (c < lineEnd) {
        if (data.charCodeAt(c) === 32) {
          c++;
          continue;
        }
        if (count + 2 > offsets.length) {
          const grown = new Uint32Array(offsets.length * 4);
          grown.set(offsets);
          offsets = grown;
        }
        offsets[count++] = out;
        let acc = 0, bits = 0, pad = false;
        for (; c < lineEnd; c++) {
          const code = data.charCodeAt(c);
          if (code === 32) break;
          if (code === 61) {
            pad = true;
            continue;
          }
          const v = code < 128 && !pad ? B64[code] : -1;
          if (v < 0) return undefined;
          acc = ((acc << 6) | v) & 0xffffff;
          bits += 6;
          if (bits >= 8) {
            bits -= 8;
            bytes[out++] = (acc >> bits) & 0xff;
          }
        }
      }
    }
    pos = lineEnd + 1;
  }
  offsets[count] = out;
  return new ByteVocabulary(bytes.slice(0, out), offsets.slice(0, count + 1));
}

/** `parseCompressedRanks` for lines in any order (see there). */
function parseRanksInAnyOrder(data: string): ByteVocabulary {
  // Pass 1: token boundaries in the string and their ranks.
  const tokStart: number[] = [], tokEnd: number[] = [], tokRank: number[] = [];
  let pos = 0;
  const n = data.length;
  while (pos < n) {
    const { lineEnd, offStart, offEnd, offset } = rankLine(data, pos);
    if (offEnd >= 0) {
      if (!Number.isInteger(offset) || offset < 0) {
        throw new SyntaxError(`Cannot parse ranks: bad offset at character ${offStart}`);
      }
      let at = offEnd + 1, k = 0;
      while (at < lineEnd) {
        let e = data.indexOf(" ", at);
        if (e < 0 || e > lineEnd) e = lineEnd;
        if (e > at) {
          tokStart.push(at);
          tokEnd.push(e);
          tokRank.push(offset + k++);
        }
        at = e + 1;
      }
    }
    pos = lineEnd + 1;
  }
  const size = tokRank.length;
  // Pass 2: decoded lengths → offsets by rank.
  const lenByRank = new Int32Array(size).fill(-1);
  for (let i = 0; i < size; i++) {
    const r = tokRank[i];
    if (r >= size || lenByRank[r] !== -1) {
      throw new SyntaxError(`Cannot parse ranks: rank ${r} is duplicated or out of 0..${size - 1}`);
    }
    let e = tokEnd[i];
    const len = e - tokStart[i];
    let pad = 0;
    while (pad < 2 && e > tokStart[i] && data.charCodeAt(e - 1) === 61) {
      e--;
      pad++;
    }
    lenByRank[r] = ((len * 3) >> 2) - pad;
  }
  const offsets = new Uint32Array(size + 1);
  for (let r = 0; r < size; r++) offsets[r + 1] = offsets[r] + lenByRank[r];
  const bytes = new Uint8Array(offsets[size]);
  const B64 = base64Values();
  // Pass 3: decode base64 straight into place.
  for (let i = 0; i < size; i++) {
    let out = offsets[tokRank[i]];
    const stop = offsets[tokRank[i] + 1];
    let acc = 0, bits = 0;
    for (let c = tokStart[i]; c < tokEnd[i] && out < stop; c++) {
      const code = data.charCodeAt(c);
      if (code === 61) break;
      const v = code < 128 ? B64[code] : -1;
      if (v < 0) throw new SyntaxError(`Cannot parse ranks: bad base64 at character ${c}`);
      acc = (acc << 6) | v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        bytes[out++] = (acc >> bits) & 0xff;
      }
    }
  }
  return new ByteVocabulary(bytes, offsets);
}

let cached: Promise<Vocabulary> | undefined;

/**
 * Loads the o200k_base ordinary tokens (199998 ranks) once and returns them; later calls share the
 * same instance. Reads the ranks shipped in the `js-tiktoken` package (no network).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { loadVocabulary } from "./vocabulary.ts";
 * const v = await loadVocabulary();
 * strictEqual(v.rankOf(new TextEncoder().encode("hello"), 0, 5), 24912);
 * ```
 */
export function loadVocabulary(): Promise<Vocabulary> {
  return cached ??= (async () => {
    const mod = await import("js-tiktoken/ranks/o200k_base");
    const data = (mod.default as { bpe_ranks: string }).bpe_ranks;
    return parseCompressedRanks(data);
  })();
}

/**
 * Makes {@link loadVocabulary} (and so `loadTokenizer`) of this thread return the vocabulary of
 * `tables` (from {@link ByteVocabulary.tables} in another thread) instead of parsing the ranks.
 * Call it before the first load.
 *
 * @throws {RangeError} when this thread already loaded a vocabulary.
 * @example
 * ```ts ignore
 * import { useVocabularyTables } from "./vocabulary.ts";
 * useVocabularyTables(workerData.vocabulary); // in a worker, before loadTokenizer()
 * ```
 */
export function useVocabularyTables(tables: VocabularyTables): void {
  if (cached) throw new RangeError("Cannot use shared vocabulary tables: a vocabulary is loaded");
  cached = Promise.resolve(new ByteVocabulary(tables.bytes, tables.offsets, tables));
}

/**
 * This thread's vocabulary ({@link loadVocabulary}) as shared tables for worker threads
 * ({@link ByteVocabulary.tables}); cached, so every pool of the process sends the same memory.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { loadVocabularyTables } from "./vocabulary.ts";
 * const t = await loadVocabularyTables();
 * strictEqual(t.offsets.length, 199999);
 * ```
 */
export function loadVocabularyTables(): Promise<VocabularyTables> {
  return sharedTables ??= loadVocabulary().then((v) =>
    (v instanceof ByteVocabulary ? v : new ByteVocabulary(v.bytes, v.offsets)).tables()
  );
}

let sharedTables: Promise<VocabularyTables> | undefined;

/**
 * The tables to hand to worker threads, or `undefined` where each worker should load its own:
 * shared tables pay in Bun (render-dataset `--workers 2`, 16.7k corpus conversations: 3.4 → 2.9–3.3 s
 * wall, 324–348 → 287–295 MB peak RSS) but not in Deno, where the same run went 3.5–3.7 → 4.3–4.4 s
 * and 408–413 → 578–584 MB (measured side by side on the 2-core CI machine kind, load < 2).
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { vocabularyTablesForWorkers } from "./vocabulary.ts";
 * const t = await vocabularyTablesForWorkers();
 * ok(t === undefined || t.offsets.length === 199999);
 * ```
 */
export function vocabularyTablesForWorkers(): Promise<VocabularyTables | undefined> {
  return "Deno" in globalThis ? Promise.resolve(undefined) : loadVocabularyTables();
}
