/**
 * INTERIM tokenizer: js-tiktoken with the o200k_harmony special tokens, so the renderer and parser
 * can be built while the fast tokenizer (src/tokenizer/bpe.ts etc.) is written. To be replaced.
 *
 * @module
 */

import { Tiktoken } from "js-tiktoken/lite";
import type { EncodeOptions, Tokenizer, TokenSink } from "./types.ts";
import { FIRST_SPECIAL_ID, harmonySpecialTokens, VOCAB_SIZE } from "./special_tokens.ts";

export async function loadInterimTokenizer(): Promise<Tokenizer> {
  const ranks = (await import("js-tiktoken/ranks/o200k_base")).default;
  const specials = harmonySpecialTokens();
  const specialMap = new Map<string, number>(specials);
  const extra: Record<string, number> = Object.fromEntries(specials);
  const tk = new Tiktoken({ ...ranks, special_tokens: {} }, extra);
  const byId = new Map<number, Uint8Array>();
  const te = new TextEncoder();
  for (const [t, id] of specials) byId.set(id, te.encode(t));
  const td = new TextDecoder();

  const tokenBytes = (id: number, index = 0): Uint8Array => {
    if (!Number.isInteger(id) || id < 0 || id >= VOCAB_SIZE) {
      throw new RangeError(
        `Cannot decode token: id ${id} at index ${index} is outside 0..${VOCAB_SIZE - 1}`,
      );
    }
    if (id >= FIRST_SPECIAL_ID) return byId.get(id)!;
    // deno-lint-ignore no-explicit-any
    return (tk as any).textMap.get(id) as Uint8Array;
  };
  const decodeBytes = (tokens: ArrayLike<number>): Uint8Array => {
    const parts: Uint8Array[] = [];
    let n = 0;
    for (let i = 0; i < tokens.length; i++) {
      const b = tokenBytes(tokens[i], i);
      parts.push(b);
      n += b.length;
    }
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  const tokenizer: Tokenizer = {
    name: "o200k_harmony",
    vocabSize: VOCAB_SIZE,
    specialTokens: specialMap,
    encodeOrdinary: (text) => Uint32Array.from(tk.encode(text, [], [])),
    encodeOrdinaryInto(text: string, out: TokenSink) {
      const t = tk.encode(text, [], []);
      for (const x of t) out.push(x);
      return t.length;
    },
    encode(text: string, options?: EncodeOptions) {
      const allowed = options?.allowedSpecial === "all"
        ? "all"
        : [...(options?.allowedSpecial ?? [])];
      const dis = options?.disallowedSpecial === undefined || options.disallowedSpecial === "all"
        ? "all"
        : [...options.disallowedSpecial];
      return Uint32Array.from(tk.encode(text, allowed, dis));
    },
    decode: (tokens) => td.decode(decodeBytes(tokens)),
    decodeBytes,
    tokenBytes: (id) => tokenBytes(id),
    isSpecial: (id) => id >= FIRST_SPECIAL_ID && id < VOCAB_SIZE,
  };
  return tokenizer;
}
