/**
 * The special tokens of the o200k_harmony vocabulary (reference:
 * `src/tiktoken_ext/public_encodings.rs`): nine named tokens and `<|reserved_N|>` for every other
 * id from 199998 to 201088 inclusive (the reference's range is `200014..=201088`).
 *
 * @module
 */

/** Ids of the named harmony special tokens. */
export const SpecialToken = {
  StartOfText: 199998,
  EndOfText: 199999,
  Return: 200002,
  Constrain: 200003,
  Channel: 200005,
  Start: 200006,
  End: 200007,
  Message: 200008,
  Call: 200012,
} as const;

/** First special-token id; ids below are ordinary (o200k_base) tokens. */
export const FIRST_SPECIAL_ID = 199998;
/** One past the last id of the vocabulary: ids 0..201088 are valid (201089 ids). */
export const VOCAB_SIZE = 201089;

const NAMED: ReadonlyArray<readonly [string, number]> = [
  ["<|startoftext|>", SpecialToken.StartOfText],
  ["<|endoftext|>", SpecialToken.EndOfText],
  ["<|return|>", SpecialToken.Return],
  ["<|constrain|>", SpecialToken.Constrain],
  ["<|channel|>", SpecialToken.Channel],
  ["<|start|>", SpecialToken.Start],
  ["<|end|>", SpecialToken.End],
  ["<|message|>", SpecialToken.Message],
  ["<|call|>", SpecialToken.Call],
];

/**
 * All special tokens of o200k_harmony as `[literal, id]` pairs in id order: the named ones and
 * `<|reserved_N|>` (N = id) for the rest of 199998..201088.
 */
export function harmonySpecialTokens(): Array<[string, number]> {
  const byId = new Map<number, string>(NAMED.map(([t, id]) => [id, t]));
  const out: Array<[string, number]> = [];
  for (let id = FIRST_SPECIAL_ID; id < VOCAB_SIZE; id++) {
    out.push([byId.get(id) ?? `<|reserved_${id}|>`, id]);
  }
  return out;
}
