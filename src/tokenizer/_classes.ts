/**
 * Code-point classes of the o200k pre-tokenizer pattern, as bit flags, and the lookup table built
 * from the generated Unicode 16.0 runs (src/generated/unicode_tables.ts).
 *
 * @module
 */

import { CLASS_RUNS } from "../generated/unicode_tables.ts";

/**
 * Class bits: UPPER = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], LOWER = [\p{Ll}\p{Lm}\p{Lo}\p{M}],
 * LETTER = \p{L}, NUMBER = \p{N}, SPACE = \s (White_Space), CRLF = `\r` or `\n`.
 */
export const CLASS_BITS = {
  UPPER: 1,
  LOWER: 2,
  LETTER: 4,
  NUMBER: 8,
  SPACE: 16,
  /** `\r` or `\n` (not a Unicode class; set by `classTable`). */
  CRLF: 32,
} as const;

let table: Uint8Array | undefined;

/** The class bits of every code point 0..0x10FFFF (1.1 MB, built once on first use). */
export function classTable(): Uint8Array {
  if (table) return table;
  const t = new Uint8Array(0x110000);
  let at = 0;
  for (let i = 0; i < CLASS_RUNS.length; i += 2) {
    const len = CLASS_RUNS[i], bits = CLASS_RUNS[i + 1];
    if (bits !== 0) t.fill(bits, at, at + len);
    at += len;
  }
  t[0x0a] |= CLASS_BITS.CRLF;
  t[0x0d] |= CLASS_BITS.CRLF;
  return table = t;
}
