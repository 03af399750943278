/**
 * The bytes of every token of a tokenizer in two flat typed arrays, built once per tokenizer
 * (cached in a WeakMap), so the parser reads a token's bytes without a call or an allocation.
 * Building takes one `tokenBytes` call per id (about 201k for o200k_harmony) and about 1.5 MB,
 * plus an array of `vocabSize` slots (about 1.6 MB) that caches token texts as they are met.
 *
 * @module
 */

import type { Tokenizer } from "../tokenizer/types.ts";
import { utf8ValidUpTo } from "./_utf8.ts";

/** Token `id` is `bytes[offsets[id], offsets[id + 1])`. */
export interface ByteTable {
  /** All token bytes, concatenated in id order. */
  readonly bytes: Uint8Array;
  /** Start offsets, length `vocabSize + 1`. */
  readonly offsets: Uint32Array;
  /** Per-tokenizer cache of the parser (parsed headers by key); bounded by its user. */
  readonly headers: Map<string, unknown>;
  /**
   * Decoded text by token id, filled on demand by {@link tokenText}: the token's text when its
   * bytes are complete valid UTF-8 on their own, `null` when they are not, `undefined` when not
   * yet looked at. Length `vocabSize`.
   */
  readonly texts: (string | null | undefined)[];
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
  // Filled by push, not `new Array(n)`: engines keep a large preallocated array sparse.
  const texts: (string | null | undefined)[] = [];
  for (let id = 0; id < n; id++) texts.push(undefined);
  table = { bytes: bytes.slice(0, at), offsets, headers: new Map(), texts };
  tables.set(tok, table);
  return table;
}

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * The text of token `id` (`id < vocabSize`) when its bytes are complete valid UTF-8 on their
 * own, else `null`; decoded once per tokenizer and kept in `table.texts`.
 */
export function tokenText(table: ByteTable, id: number): string | null {
  const known = table.texts[id];
  if (known !== undefined) return known;
  const s = table.offsets[id], e = table.offsets[id + 1];
  const text = utf8ValidUpTo(table.bytes, s, e) === e
    ? decoder.decode(table.bytes.subarray(s, e))
    : null;
  table.texts[id] = text;
  return text;
}
