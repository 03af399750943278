/**
 * UTF-8 validation with Rust's `Utf8Error` semantics (`valid_up_to` and `error_len`), which the
 * reference parser's streaming decoder is built on (`core::str::from_utf8`).
 *
 * @module
 */

/**
 * Checks the UTF-8 sequence starting at `b[i]` (with `i < end`).
 *
 * Returns its length (1–4) when it is a complete valid sequence; `0` when it is a valid prefix
 * cut short by `end` (Rust: `error_len() == None`); `-n` when it is invalid, `n` being Rust's
 * `error_len()` (the length of the maximal invalid subpart, 1–3).
 */
export function utf8Sequence(b: Uint8Array, i: number, end: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  if (c < 0xc2 || c > 0xf4) return -1;
  if (c < 0xe0) {
    if (i + 1 >= end) return 0;
    return (b[i + 1] & 0xc0) === 0x80 ? 2 : -1;
  }
  if (i + 1 >= end) return 0;
  const c1 = b[i + 1];
  if (c < 0xf0) {
    if (c1 < (c === 0xe0 ? 0xa0 : 0x80) || c1 > (c === 0xed ? 0x9f : 0xbf)) return -1;
    if (i + 2 >= end) return 0;
    return (b[i + 2] & 0xc0) === 0x80 ? 3 : -2;
  }
  if (c1 < (c === 0xf0 ? 0x90 : 0x80) || c1 > (c === 0xf4 ? 0x8f : 0xbf)) return -1;
  if (i + 2 >= end) return 0;
  if ((b[i + 2] & 0xc0) !== 0x80) return -2;
  if (i + 3 >= end) return 0;
  return (b[i + 3] & 0xc0) === 0x80 ? 4 : -3;
}

/**
 * Index of the first byte in `[i, end)` that does not start a complete valid UTF-8 sequence
 * (Rust's `valid_up_to`, offset by `i`), or `end` when all of it is valid. O(end - i).
 */
export function utf8ValidUpTo(b: Uint8Array, i: number, end: number): number {
  while (i < end) {
    if (b[i] < 0x80) {
      i++;
      continue;
    }
    const n = utf8Sequence(b, i, end);
    if (n <= 0) return i;
    i += n;
  }
  return i;
}
