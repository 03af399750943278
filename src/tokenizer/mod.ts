/**
 * The o200k_harmony tokenizer.
 *
 * @module
 */

import type { Tokenizer } from "./types.ts";
import { loadInterimTokenizer } from "./_interim_tiktoken.ts";

export type { EncodeOptions, Tokenizer, TokenSink } from "./types.ts";
export { TokenBuffer } from "./token_buffer.ts";
export {
  FIRST_SPECIAL_ID,
  harmonySpecialTokens,
  SpecialToken,
  VOCAB_SIZE,
} from "./special_tokens.ts";

let cached: Promise<Tokenizer> | undefined;

/**
 * Loads the o200k_harmony tokenizer once (lazily) and returns it; later calls return the same
 * instance. Loading parses the o200k_base ranks shipped in the `js-tiktoken` package (no network).
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "./mod.ts";
 * const tok = await loadTokenizer();
 * tok.decode(tok.encodeOrdinary("hello world")); // "hello world"
 * ```
 */
export function loadTokenizer(): Promise<Tokenizer> {
  return cached ??= loadInterimTokenizer();
}
