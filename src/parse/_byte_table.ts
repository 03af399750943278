/**
 * The bytes of every token of a tokenizer in two flat typed arrays, built once per tokenizer
 * (cached in a WeakMap), so the parser reads a token's bytes without a call or an allocation.
 * Building takes one `tokenBytes` call per id (about 201k for o200k_harmony) and about 1.5 MB.
 *
 * @module
 */

import type { Tokenizer } from "../tokenizer/types.ts";

/** Token `id` is `bytes[offsets[id], offsets[id + 1])`. */
export interface ByteTable {
  /** All token bytes, concatenated in id order. */
  readonly bytes: Uint8Array;
  /** Start offsets, length `vocabSize + 1`. */
  readonly offsets: Uint32Array;
  /** Per-tokenizer cache of the parser (parsed headers by key); bounded by its user. */
  readonly headers: Map<string, unknown>;
}

const tables = new WeakMap<Tokenizer, ByteTable>();

/** The byte table of `tok`, built on first use. */
export function byteTable(tok: Tokenizer): ByteTable {
  let table = tables.get(tok);
  if (table) return table;
  const n = tok.vocabSize;
  const offsets = new Uint32Array(n + 1);
  let bytes = new Uint8Array(n * 8);
  let at = 0;
  for (let id = 0; id < n; id++) {
    const b = tok.tokenBytes(id);
    if (at + b.length > bytes.length) {
      const next = new Uint8Array(Math.max(bytes.length * 2, at + b.length));
      next.set(bytes.subarray(0, at));
      bytes = next;
    }
    bytes.set(b, at);
    at += b.length;
    offsets[id + 1] = at;
  }
  table = { bytes: bytes.slice(0, at), offsets, headers: new Map() };
  tables.set(tok, table);
  return table;
}
