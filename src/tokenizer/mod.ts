/**
 * The o200k_harmony tokenizer: exact (token for token the reference `openai/harmony`), on the CPU.
 *
 * @module
 */

import { HarmonyTokenizer } from "./tokenizer.ts";
import { loadVocabulary } from "./vocabulary.ts";

export type { EncodeOptions, Tokenizer, TokenSink } from "./types.ts";
export { TokenBuffer } from "./token_buffer.ts";
export {
  FIRST_SPECIAL_ID,
  harmonySpecialTokens,
  SpecialToken,
  VOCAB_SIZE,
} from "./special_tokens.ts";
export { HarmonyTokenizer } from "./tokenizer.ts";
export { loadVocabulary } from "./vocabulary.ts";
export type { Vocabulary } from "./vocabulary.ts";
export { splitPieces } from "./pieces.ts";
export { encodePiece } from "./bpe.ts";

let cached: Promise<HarmonyTokenizer> | undefined;

/**
 * Loads the o200k_harmony tokenizer once (lazily) and returns it; later calls return the same
 * instance. Loading parses the o200k_base ranks shipped in the `js-tiktoken` package (no network)
 * and builds the lookup tables.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { loadTokenizer } from "./mod.ts";
 * const tok = await loadTokenizer();
 * strictEqual(tok.decode(tok.encodeOrdinary("hello world")), "hello world");
 * ```
 */
export function loadTokenizer(): Promise<HarmonyTokenizer> {
  return cached ??= loadVocabulary().then((v) => new HarmonyTokenizer(v));
}
