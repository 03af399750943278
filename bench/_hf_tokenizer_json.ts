/**
 * An o200k_base `tokenizer.json` for Hugging Face `tokenizers`, made from our vocabulary, so that
 * bench/encode.bench.ts can run HF's Rust tokenizer (N-API) as a peer. Private to `bench/`.
 *
 * The conversion is the one `transformers` uses for tiktoken vocabularies: byte-level BPE (GPT-2's
 * byte-to-character alphabet), the token ranks as ids, and as merges every split of every token
 * into two tokens of lower rank, ordered by the merged token's rank, then by the ranks of its
 * parts; `ignore_merges` so that a piece that is a token is that token (tiktoken's whole-piece
 * rule); the o200k split pattern (the reference's, as written in src/tokenizer/pieces.ts) as an
 * isolated `Split` before `ByteLevel` without its own regex. The bench checks its token counts
 * against ours on every text (the whole shared corpus text gave identical ids in a trial).
 *
 * @module
 */

import type { ByteVocabulary } from "../src/tokenizer/vocabulary.ts";

/** The o200k pre-tokenization pattern in the reference's syntax (Oniguruma accepts it). */
const O200K_PATTERN = [
  String
    .raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
  String
    .raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
  String.raw`\p{N}{1,3}`,
  String.raw` ?[^\s\p{L}\p{N}]+[\r\n/]*`,
  String.raw`\s*[\r\n]+`,
  String.raw`\s+(?!\S)`,
  String.raw`\s+`,
].join("|");

/** GPT-2's byte-level alphabet: printable bytes stand for themselves, the others for U+0100 + k. */
function byteAlphabet(): string[] {
  const out = new Array<string>(256);
  let k = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    out[b] = String.fromCharCode(printable ? b : 0x100 + k++);
  }
  return out;
}

/**
 * The `tokenizer.json` text of `vocab` for Hugging Face `tokenizers` (see the module doc).
 *
 * @example
 * ```ts ignore
 * import { hfTokenizerJson } from "./_hf_tokenizer_json.ts";
 * import { loadVocabulary, type ByteVocabulary } from "../src/tokenizer/vocabulary.ts";
 * const json = hfTokenizerJson(await loadVocabulary() as ByteVocabulary); // ≈ 10 MB, 0.4 s
 * ```
 */
export function hfTokenizerJson(vocab: ByteVocabulary): string {
  const alphabet = byteAlphabet();
  const { bytes, offsets, size } = vocab;
  const names = new Array<string>(size);
  const ids: Record<string, number> = Object.create(null);
  for (let r = 0; r < size; r++) {
    let s = "";
    for (let i = offsets[r]; i < offsets[r + 1]; i++) s += alphabet[bytes[i]];
    names[r] = s;
    ids[s] = r;
  }
  const merges: Array<[number, number, number]> = [];
  for (let r = 0; r < size; r++) {
    const s = offsets[r], e = offsets[r + 1];
    for (let m = s + 1; m < e; m++) {
      const a = vocab.rankOf(bytes, s, m), b = vocab.rankOf(bytes, m, e);
      if (a >= 0 && b >= 0 && a < r && b < r) merges.push([r, a, b]);
    }
  }
  merges.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
  return JSON.stringify({
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: O200K_PATTERN }, behavior: "Isolated", invert: false },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: true,
      vocab: ids,
      merges: merges.map(([, a, b]) => [names[a], names[b]]),
    },
  });
}
