/**
 * Lookup tables the kernels read, built once per vocabulary on the CPU and uploaded once per
 * device: the whole-token hash table, token bytes and offsets, byte ranks and the pair table of
 * the ordinary vocabulary, and the special-token literal table.
 *
 * ## Why the pair table is exact
 * tiktoken (reference `src/tiktoken.rs`, `byte_pair_merge`) merges the adjacent parts whose
 * concatenated bytes have the lowest rank. Every part is always a token (it starts as one byte,
 * and a merge only happens when the concatenation is a token), so "rank of the concatenation of
 * parts a and b" equals `pairs[(rank a, rank b)]` for a table holding, for every token t, every
 * split of t's bytes into two tokens (l, r) → t. This table holds all such splits (446,189 for
 * o200k_base), not only the one merge that created each token, so pair-table merging is the
 * reference's rule exactly and needs no fallback for vocabularies whose 256 single bytes are all
 * tokens; when some byte is not a token, {@link VocabTables.complete} is false and the engine
 * encodes on the CPU. (A table with only each token's creating merge would differ whenever a token
 * is also the concatenation of another token pair.)
 *
 * @module
 */

import { classTable } from "../tokenizer/_classes.ts";
import { hashBytes, type Vocabulary } from "../tokenizer/vocabulary.ts";

/** Marks an absent entry. */
export const NONE = 0xffffffff;

/** The vocabulary tables in one `u32` array, with the word offset of each section. */
export interface VocabTables {
  /** All sections, in one array (uploaded as one storage buffer). */
  words: Uint32Array;
  /** Number of ordinary tokens. */
  size: number;
  /** Whole-token hash table: `(hash, rank + 1)` pairs, `ttMask + 1` slots. */
  ttBase: number;
  /** Slots minus one (a power of two minus one). */
  ttMask: number;
  /** Token byte offsets (`size + 1` words). */
  offBase: number;
  /** Token bytes, 4 per word, little-endian. */
  bytesBase: number;
  /** Rank of each single byte (256 words, {@link NONE} when a byte is not a token). */
  brBase: number;
  /** Pair table: `(l | r << 18, r >> 14 | (merged + 1) << 4)` pairs, `ptMask + 1` slots. */
  ptBase: number;
  /** Slots minus one. */
  ptMask: number;
  /** Number of pairs in the pair table. */
  pairs: number;
  /** Whether every byte is a token and ranks fit 18 bits (else GPU encoding is not used). */
  complete: boolean;
}

/** The uniform fields of `shaders/_vocab_lookup.wgsl`. */
export type VocabLookupField =
  | "tt_mask"
  | "tt_base"
  | "off_base"
  | "bytes_base"
  | "br_base"
  | "pt_base"
  | "pt_mask";

/**
 * The uniform fields through which `shaders/_vocab_lookup.wgsl` (included by the encode and
 * long-piece kernels) finds the sections of {@link VocabTables}: one home for them on the host too.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { vocabLookupParams } from "./tables.ts";
 * const p = vocabLookupParams({ ttMask: 7, ttBase: 0, offBase: 16, bytesBase: 20, brBase: 24, ptBase: 280, ptMask: 3 });
 * strictEqual(p.tt_mask, 7);
 * strictEqual(p.pt_base, 280);
 * ```
 */
export function vocabLookupParams(
  t: Pick<
    VocabTables,
    "ttMask" | "ttBase" | "offBase" | "bytesBase" | "brBase" | "ptBase" | "ptMask"
  >,
): Record<VocabLookupField, number> {
  return {
    tt_mask: t.ttMask,
    tt_base: t.ttBase,
    off_base: t.offBase,
    bytes_base: t.bytesBase,
    br_base: t.brBase,
    pt_base: t.ptBase,
    pt_mask: t.ptMask,
  };
}

/** The pair hash shared with `encode_pieces.wgsl`. *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { pairHash } from "./tables.ts";
 * strictEqual(pairHash(24912, 2375) === pairHash(24912, 2375), true);
 * ```
 */
export function pairHash(l: number, r: number): number {
  let h = Math.imul(l, 0x9e3779b1) ^ Math.imul((r + 0x7f4a7c15) >>> 0, 0x85ebca77);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

function capacityFor(n: number): number {
  let cap = 1024;
  while (cap < n * 2) cap *= 2;
  return cap;
}

const cache = new WeakMap<Vocabulary, VocabTables>();

/**
 * Builds (once per vocabulary; cached) the tables of the ordinary tokens. About 200 ms and
 * 15 MB for o200k_base.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { buildVocabTables } from "./tables.ts";
 * import { loadVocabulary } from "../tokenizer/vocabulary.ts";
 * const t = buildVocabTables(await loadVocabulary());
 * strictEqual(t.complete, true);
 * ```
 */
export function buildVocabTables(vocab: Vocabulary): VocabTables {
  const hit = cache.get(vocab);
  if (hit) return hit;
  const { size, bytes, offsets } = vocab;
  // Every split of every token into two tokens.
  const pl: number[] = [], pr: number[] = [], pm: number[] = [];
  const byteRank = new Uint32Array(256).fill(NONE);
  for (let t = 0; t < size; t++) {
    const s = offsets[t], e = offsets[t + 1];
    if (e - s === 1) byteRank[bytes[s]] = t;
    for (let m = s + 1; m < e; m++) {
      const l = vocab.rankOf(bytes, s, m);
      if (l < 0) continue;
      const r = vocab.rankOf(bytes, m, e);
      if (r < 0) continue;
      pl.push(l), pr.push(r), pm.push(t);
    }
  }
  const ttCap = capacityFor(size), ptCap = capacityFor(pl.length);
  const byteWords = Math.ceil(bytes.length / 4);
  const ttBase = 0;
  const offBase = ttBase + 2 * ttCap;
  const bytesBase = offBase + size + 1;
  const brBase = bytesBase + byteWords;
  const ptBase = brBase + 256;
  const words = new Uint32Array(ptBase + 2 * ptCap);
  const ttMask = ttCap - 1, ptMask = ptCap - 1;
  for (let t = 0; t < size; t++) {
    const h = hashBytes(bytes, offsets[t], offsets[t + 1]);
    let slot = h & ttMask;
    while (words[ttBase + 2 * slot + 1] !== 0) slot = (slot + 1) & ttMask;
    words[ttBase + 2 * slot] = h;
    words[ttBase + 2 * slot + 1] = t + 1;
  }
  words.set(offsets, offBase);
  new Uint8Array(words.buffer, bytesBase * 4, bytes.length).set(bytes);
  words.set(byteRank, brBase);
  for (let i = 0; i < pl.length; i++) {
    const l = pl[i], r = pr[i];
    let slot = pairHash(l, r) & ptMask;
    while (words[ptBase + 2 * slot + 1] !== 0) slot = (slot + 1) & ptMask;
    words[ptBase + 2 * slot] = (l | (r << 18)) >>> 0;
    words[ptBase + 2 * slot + 1] = ((r >>> 14) | ((pm[i] + 1) << 4)) >>> 0;
  }
  let complete = size < 1 << 18;
  for (let b = 0; b < 256; b++) if (byteRank[b] === NONE) complete = false;
  const tables: VocabTables = {
    words,
    size,
    ttBase,
    ttMask,
    offBase,
    bytesBase,
    brBase,
    ptBase,
    ptMask,
    pairs: pl.length,
    complete,
  };
  cache.set(vocab, tables);
  return tables;
}

/** The special-token literal tables in one `u32` array. */
export interface SpecialTables {
  /** All sections (uploaded as one storage buffer). */
  words: Uint32Array;
  /** Hash table of `(hash, index + 1)` at word 0; slots minus one. */
  stMask: number;
  /** Literal byte offsets (`count + 1` words). */
  offBase: number;
  /** Literal bytes, 4 per word. */
  bytesBase: number;
  /** Id of special index 0; special index k is id `firstId + k`. */
  firstId: number;
  /** Number of special ids (`firstId .. firstId + count - 1`, every one with a literal). */
  count: number;
  /** Longest literal in bytes. */
  maxLength: number;
  /** Literal of each index. */
  literals: string[];
  /** Literal bytes of each index. */
  literalBytes: Uint8Array[];
  /**
   * Whether every literal is `<|…|>` with no `<|` or `|>` inside, so a literal starting at a
   * position can only end at the first `|>` after it and two literals never overlap (what
   * `find_special.wgsl` relies on).
   */
  delimited: boolean;
}

/**
 * Builds the special-token tables from `[literal, id]` pairs with contiguous ids.
 *
 * @throws {RangeError} when the ids are not contiguous.
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { buildSpecialTables } from "./tables.ts";
 * import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
 * strictEqual(buildSpecialTables(harmonySpecialTokens()).count, 1091);
 * ```
 */
export function buildSpecialTables(
  specials: ReadonlyArray<readonly [string, number]>,
): SpecialTables {
  const sorted = [...specials].sort((a, b) => a[1] - b[1]);
  const firstId = sorted.length ? sorted[0][1] : 0;
  const te = new TextEncoder();
  const literalBytes: Uint8Array[] = [];
  const literals: string[] = [];
  let delimited = true, total = 0, maxLength = 0;
  for (let k = 0; k < sorted.length; k++) {
    const [lit, id] = sorted[k];
    if (id !== firstId + k) {
      throw new RangeError(`Cannot build special-token tables: id ${id} is not contiguous`);
    }
    const b = te.encode(lit);
    literalBytes.push(b);
    literals.push(lit);
    total += b.length;
    maxLength = Math.max(maxLength, b.length);
    const inner = lit.slice(2, -2);
    if (
      !lit.startsWith("<|") || !lit.endsWith("|>") || lit.length < 4 ||
      inner.includes("<|") || inner.includes("|>") || inner.endsWith("|") || inner.startsWith("|>")
    ) {
      delimited = false;
    }
  }
  const cap = capacityFor(sorted.length);
  const offBase = 2 * cap;
  const bytesBase = offBase + sorted.length + 1;
  const words = new Uint32Array(bytesBase + Math.ceil(total / 4) + 1);
  const byteView = new Uint8Array(words.buffer, bytesBase * 4);
  let at = 0;
  for (let k = 0; k < literalBytes.length; k++) {
    words[offBase + k] = at;
    byteView.set(literalBytes[k], at);
    const h = hashBytes(literalBytes[k], 0, literalBytes[k].length);
    let slot = h & (cap - 1);
    while (words[2 * slot + 1] !== 0) slot = (slot + 1) & (cap - 1);
    words[2 * slot] = h;
    words[2 * slot + 1] = k + 1;
    at += literalBytes[k].length;
  }
  words[offBase + literalBytes.length] = at;
  return {
    words,
    stMask: cap - 1,
    offBase,
    bytesBase,
    firstId,
    count: sorted.length,
    maxLength,
    literals,
    literalBytes,
    delimited,
  };
}

/**
 * The pre-tokenizer's Unicode class table (`classTable` of src/tokenizer/_classes.ts: one byte
 * of `CLASS_BITS` per code point, 1.1 MB) as a two-level table for the GPU: `words[cp >> 8]` is
 * the index of the 256-code-point block holding `cp`, and the class byte is byte `cp & 255` of
 * that block, the blocks stored from word {@link ClassTables.blocksBase} on, 4 bytes a word,
 * little-endian. Identical blocks are stored once (140 distinct blocks for Unicode 16: about
 * 53 KB in all).
 */
export interface ClassTables {
  /** Block index of each 256-code-point block (0x1100 words), then the distinct blocks. */
  words: Uint32Array;
  /** Word offset of the distinct blocks (64 words each). */
  blocksBase: number;
  /** Number of distinct blocks. */
  blocks: number;
}

let classTables: ClassTables | undefined;

/**
 * Builds (once per process; cached) the two-level class table from the scanner's own table, so
 * the GPU sees exactly the classes the CPU pre-tokenizer sees.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { buildClassTables } from "./tables.ts";
 * import { classTable } from "../tokenizer/_classes.ts";
 * const t = buildClassTables(), cp = 0x0301;
 * const word = t.words[t.blocksBase + t.words[cp >> 8] * 64 + ((cp & 255) >> 2)];
 * strictEqual((word >>> ((cp & 3) * 8)) & 0xff, classTable()[cp]);
 * ```
 */
export function buildClassTables(): ClassTables {
  if (classTables) return classTables;
  const table = classTable();
  const nBlocks = table.length >> 8;
  const index = new Map<string, number>();
  const order: number[] = [];
  const of = new Uint32Array(nBlocks);
  for (let b = 0; b < nBlocks; b++) {
    const key = table.subarray(b << 8, (b + 1) << 8).join(",");
    let k = index.get(key);
    if (k === undefined) {
      k = order.length;
      index.set(key, k);
      order.push(b);
    }
    of[b] = k;
  }
  const blocksBase = nBlocks;
  const words = new Uint32Array(blocksBase + 64 * order.length);
  words.set(of);
  const bytes = new Uint8Array(words.buffer, blocksBase * 4);
  for (let k = 0; k < order.length; k++) {
    bytes.set(table.subarray(order[k] << 8, (order[k] + 1) << 8), k << 8);
  }
  return classTables = { words, blocksBase, blocks: order.length };
}
