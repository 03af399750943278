/**
 * Reference encoders for the tests: js-tiktoken (the reference's ranks and pattern, but JS RegExp
 * semantics and the JS engine's Unicode tables), tiktoken's WASM build (the Rust tiktoken crate:
 * fancy_regex, Rust case folding, Rust Unicode classes) and a naive byte-pair encoder over
 * js-tiktoken's ranks that follows the reference's `byte_pair_merge` literally (O(n²)).
 *
 * @module
 */

import { Tiktoken } from "js-tiktoken/lite";
import { get_encoding } from "tiktoken";
import { harmonySpecialTokens } from "../../src/tokenizer/mod.ts";

const ranks = (await import("js-tiktoken/ranks/o200k_base")).default;

/** js-tiktoken with the o200k_harmony special tokens. */
export const jsTiktoken: Tiktoken = new Tiktoken(
  { ...ranks, special_tokens: {} },
  Object.fromEntries(harmonySpecialTokens()),
);

/** tiktoken (WASM) o200k_base; only `encode_ordinary` is used. Never freed (process lifetime). */
export const wasmTiktoken: ReturnType<typeof get_encoding> = get_encoding("o200k_base");

/** js-tiktoken's encode_ordinary as a Uint32Array. */
export function jsOrdinary(text: string): Uint32Array {
  return Uint32Array.from(jsTiktoken.encode(text, [], []));
}

/** tiktoken (WASM) encode_ordinary. */
export function wasmOrdinary(text: string): Uint32Array {
  return wasmTiktoken.encode_ordinary(text);
}

// deno-lint-ignore no-explicit-any
const rankMap: Map<string, number> = (jsTiktoken as any).rankMap;

/**
 * The reference's merge rule, written plainly: bytes as parts; repeatedly merge the adjacent pair
 * whose concatenation has the lowest rank (leftmost on ties). Returns the parts' ranks.
 */
export function naiveBpe(piece: Uint8Array): number[] {
  const rank = (s: number, e: number) => rankMap.get(Array.from(piece.subarray(s, e)).join(","));
  const bounds: number[] = [];
  for (let i = 0; i <= piece.length; i++) bounds.push(i);
  for (;;) {
    let best = Infinity, at = -1;
    for (let i = 0; i + 2 < bounds.length; i++) {
      const r = rank(bounds[i], bounds[i + 2]);
      if (r !== undefined && r < best) {
        best = r;
        at = i;
      }
    }
    if (at < 0) break;
    bounds.splice(at + 1, 1);
  }
  const out: number[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) out.push(rank(bounds[i], bounds[i + 1])!);
  return out;
}

/** Tokens of text given as its reference pieces (each piece encoded with `naiveBpe`). */
export function fromPieces(pieces: string[]): number[] {
  const te = new TextEncoder();
  return pieces.flatMap((p) => naiveBpe(te.encode(p)));
}
