/**
 * The o200k pre-tokenizer: splits UTF-8 text into the pieces that byte-pair encoding then works on
 * one at a time. A hand-written scanner over UTF-8 bytes that gives exactly the matches of the
 * reference pattern (`src/tiktoken_ext/public_encodings.rs`, evaluated by fancy_regex: leftmost-first
 * alternation with backtracking):
 *
 * ```text
 * 1  [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
 * 2 |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
 * 3 |\p{N}{1,3}
 * 4 | ?[^\s\p{L}\p{N}]+[\r\n/]*
 * 5 |\s*[\r\n]+
 * 6 |\s+(?!\S)
 * 7 |\s+
 * ```
 *
 * Classes are those of Unicode 16.0 (the reference's regex crate), from our own generated tables,
 * not the JS engine's. `(?i)` folds like Rust's regex: `'ſ` (U+017F) counts as `'s`.
 * Every code point is looked at a bounded number of times: linear time.
 *
 * @module
 */

import { CLASS_BITS, classTable } from "./_classes.ts";
import type { TokenBuffer } from "./token_buffer.ts";

const UPPER = CLASS_BITS.UPPER;
const LOWER = CLASS_BITS.LOWER;
const LETTER = CLASS_BITS.LETTER;
const NUMBER = CLASS_BITS.NUMBER;
const SPACE = CLASS_BITS.SPACE;
const CRLF = CLASS_BITS.CRLF;
const UL = UPPER | LOWER;

let T: Uint8Array = new Uint8Array(0);

/** Makes sure the class table is built (1.1 MB, once per process). */
function table(): Uint8Array {
  if (T.length === 0) T = classTable();
  return T;
}

/** Class bits of the code point whose UTF-8 encoding starts at `b[i]` (valid UTF-8 assumed). */
function cls(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return T[c];
  if (c < 0xe0) return T[((c & 0x1f) << 6) | (b[i + 1] & 0x3f)];
  if (c < 0xf0) return T[((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f)];
  return T[
    ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f)
  ] | 0;
}

/** Byte length of the UTF-8 sequence led by byte `c`. */
function width(c: number): number {
  return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/**
 * End of an optional contraction `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `i` (Rust's simple case folding:
 * ASCII case plus U+017F LATIN SMALL LETTER LONG S for `s`), or `i` when there is none.
 */
function contraction(b: Uint8Array, i: number, end: number): number {
  if (i + 1 >= end || b[i] !== 0x27) return i;
  const c = b[i + 1] | 0x20;
  if (c === 0x73 || c === 0x74 || c === 0x6d || c === 0x64) return i + 2; // s t m d
  if (i + 2 >= end) return i;
  const d = b[i + 2];
  if (c === 0x72 || c === 0x76) return (d | 0x20) === 0x65 ? i + 3 : i; // re ve
  if (c === 0x6c) return (d | 0x20) === 0x6c ? i + 3 : i; // ll
  if (b[i + 1] === 0xc5 && d === 0xbf) return i + 3; // 'ſ
  return i;
}

/**
 * Alternative 1 without its prefix, from `q`: `[UPPER]*[LOWER]+contraction?`. Greedy `[UPPER]*`
 * backs off to the last LOWER code point inside its run when the code point after the run is not
 * LOWER. Returns the end, or -1 when it does not match.
 */
function alt1(b: Uint8Array, q: number, end: number): number {
  let i = q, lastLower = -1, c = 0;
  while (i < end) {
    c = cls(b, i);
    if ((c & UPPER) === 0) break;
    i += width(b[i]);
    if (c & LOWER) lastLower = i;
  }
  if (i < end && (c & LOWER) !== 0) {
    i += width(b[i]);
    while (i < end && (cls(b, i) & LOWER) !== 0) i += width(b[i]);
    return contraction(b, i, end);
  }
  return lastLower < 0 ? -1 : contraction(b, lastLower, end);
}

/** Alternative 2 without its prefix, from `q`: `[UPPER]+[LOWER]*contraction?`, or -1. */
function alt2(b: Uint8Array, q: number, end: number): number {
  if (q >= end || (cls(b, q) & UPPER) === 0) return -1;
  let i = q + width(b[q]);
  while (i < end && (cls(b, i) & UPPER) !== 0) i += width(b[i]);
  while (i < end && (cls(b, i) & LOWER) !== 0) i += width(b[i]);
  return contraction(b, i, end);
}

/**
 * `pieceEnd` for the common ASCII shapes (most pieces of English prose and code): a word with its
 * optional one-character prefix and contraction, 1–3 digits, or a punctuation run with its
 * optional leading space, or a run of ASCII whitespace (`asciiSpaceEnd`). Gives the same end as the
 * general path below, or -1 (not handled: a byte of 0x80 or more where the pattern's answer would
 * depend on a non-ASCII code point's class); the caller then runs the general path from `p`. For ASCII
 * letters UPPER and LOWER are disjoint (A–Z, a–z), so alternative 1's `[UPPER]*` never backs off
 * and, when no lowercase follows the capitals, alternative 2 matches the same capitals.
 */
function asciiPieceEnd(b: Uint8Array, p: number, end: number): number {
  const x = b[p], k0 = T[x];
  let i: number;
  if ((k0 & LETTER) !== 0) i = p;
  else if (
    (k0 & (NUMBER | CRLF)) === 0 && p + 1 < end && b[p + 1] < 0x80 && (T[b[p + 1]] & LETTER) !== 0
  ) {
    i = p + 1; // the prefix
  } else if ((k0 & NUMBER) !== 0) {
    // 3: \p{N}{1,3}
    i = p + 1;
    for (let k = 0; k < 2 && i < end; k++) {
      const y = b[i];
      if (y >= 0x80) return -1;
      if ((T[y] & NUMBER) === 0) break;
      i++;
    }
    return i;
  } else {
    // 4: ` ?[^\s\p{L}\p{N}]+[\r\n/]*` (alternatives 1 and 2 cannot match: no letter follows)
    if (p + 1 < end && b[p + 1] >= 0x80) return -1;
    let s = p;
    if (x === 0x20) {
      s = p + 1;
      // A space before a space, a digit or the end: alternatives 1–4 cannot match.
      if (s >= end || (T[b[s]] & (SPACE | LETTER | NUMBER)) !== 0) return asciiSpaceEnd(b, p, end);
    } else if ((k0 & SPACE) !== 0) return asciiSpaceEnd(b, p, end);
    i = s + 1;
    while (i < end) {
      const y = b[i];
      if (y >= 0x80) return -1;
      if ((T[y] & (SPACE | LETTER | NUMBER)) !== 0) break;
      i++;
    }
    while (i < end) {
      const y = b[i];
      if (y !== 0x0d && y !== 0x0a && y !== 0x2f) break;
      i++;
    }
    return i;
  }
  // 1 or 2 over ASCII letters from i: capitals, then lowercase letters, then a contraction.
  while (i < end) {
    const y = b[i];
    if (y < 0x41 || y > 0x5a) break;
    i++;
  }
  if (i < end) {
    let y = b[i];
    if (y >= 0x80) return -1;
    if (y >= 0x61 && y <= 0x7a) {
      i++;
      while (i < end) {
        y = b[i];
        if (y < 0x61 || y > 0x7a) break;
        i++;
      }
      if (i < end && y >= 0x80) return -1;
    }
  }
  return contraction(b, i, end);
}

/**
 * Alternatives 5–7 (whitespace runs, as the end of `pieceEnd` takes them) over ASCII whitespace
 * from `p`, or -1 when the run stops at a byte of 0x80 or more (a non-ASCII code point may be
 * whitespace too; the caller then runs the general path from `p`).
 */
function asciiSpaceEnd(b: Uint8Array, p: number, end: number): number {
  let i = p, lastNewline = -1;
  while (i < end) {
    const x = b[i];
    if (x >= 0x80) return -1;
    if ((T[x] & SPACE) === 0) break;
    i++;
    if (x === 0x0d || x === 0x0a) lastNewline = i;
  }
  if (lastNewline >= 0) return lastNewline; // 5
  if (i >= end) return i; // 6: the run reaches the end of the text
  return i - 1 > p ? i - 1 : i; // 6: all but the last space (it joins the next piece), else 7
}

/**
 * The end of the piece that starts at byte `p` of `b` (`p < end`; `end` is the end of the text the
 * pattern sees, e.g. the next allowed special token). `b` must hold valid UTF-8.
 */
function pieceEnd(b: Uint8Array, p: number, end: number): number {
  if (b[p] < 0x80) {
    const r = asciiPieceEnd(b, p, end);
    if (r >= 0) return r;
  }
  const c0 = cls(b, p);
  const q = p + width(b[p]);
  // Alternatives 1 and 2, each with its optional prefix tried first.
  const prefix = (c0 & (LETTER | NUMBER | CRLF)) === 0 && q < end;
  if (prefix || (c0 & UL) !== 0) {
    let r: number;
    if (prefix && (r = alt1(b, q, end)) >= 0) return r;
    if ((c0 & UL) !== 0 && (r = alt1(b, p, end)) >= 0) return r;
    if (prefix && (r = alt2(b, q, end)) >= 0) return r;
    if ((c0 & UPPER) !== 0) return alt2(b, p, end);
  }
  // 3: \p{N}{1,3}
  if (c0 & NUMBER) {
    let i = q;
    if (i < end && (cls(b, i) & NUMBER) !== 0) {
      i += width(b[i]);
      if (i < end && (cls(b, i) & NUMBER) !== 0) i += width(b[i]);
    }
    return i;
  }
  // 4: ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
  const s = b[p] === 0x20 ? q : p;
  if (s < end && (cls(b, s) & (SPACE | LETTER | NUMBER)) === 0) {
    let i = s + width(b[s]);
    while (i < end && (cls(b, i) & (SPACE | LETTER | NUMBER)) === 0) i += width(b[i]);
    while (i < end) {
      const x = b[i];
      if (x !== 0x0d && x !== 0x0a && x !== 0x2f) break;
      i++;
    }
    return i;
  }
  // 5–7: whitespace runs. c0 is \s here.
  let i = p, lastNewline = -1, lastStart = p;
  while (i < end && (cls(b, i) & SPACE) !== 0) {
    lastStart = i;
    const x = b[i];
    i += width(x);
    if (x === 0x0d || x === 0x0a) lastNewline = i;
  }
  if (lastNewline >= 0) return lastNewline; // 5: up to the last \r or \n of the run
  if (i >= end) return i; // 6: the run reaches the end of the text
  if (lastStart > p) return lastStart; // 6: all but the last space (it joins the next piece)
  return i > p ? i : q; // 7
}

/**
 * Appends to `ends` the exclusive end byte offsets of the o200k pre-tokenization pieces of
 * `utf8[start, end)` (which must be valid UTF-8; the pattern sees `end` as the end of the text)
 * and returns how many it appended. Linear time.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 * import { splitPieces } from "./pieces.ts";
 * import { TokenBuffer } from "./token_buffer.ts";
 * const utf8 = new TextEncoder().encode("Hello world!!\n");
 * const ends = new TokenBuffer();
 * strictEqual(splitPieces(utf8, 0, utf8.length, ends), 3); // "Hello", " world", "!!\n"
 * deepStrictEqual(ends.toArray(), new Uint32Array([5, 11, 14]));
 * ```
 */
export function splitPieces(
  utf8: Uint8Array,
  start: number,
  end: number,
  ends: TokenBuffer,
): number {
  table();
  let p = start, n = 0;
  while (p < end) {
    let e = pieceEnd(utf8, p, end);
    if (e > end) e = end;
    ends.push(e);
    n++;
    p = e;
  }
  return n;
}

/**
 * The end of the piece starting at byte `p` of `utf8` (`p < end`), clamped to `end`. The class
 * table must be ready (`prepareScanner`). For callers that walk pieces without storing them.
 *
 * @example
 * ```ts
 * import { nextPieceEnd, prepareScanner } from "./pieces.ts";
 * prepareScanner();
 * const utf8 = new TextEncoder().encode("I'm here");
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(nextPieceEnd(utf8, 0, utf8.length), 3); // "I'm"
 * ```
 */
export function nextPieceEnd(utf8: Uint8Array, p: number, end: number): number {
  const e = pieceEnd(utf8, p, end);
  return e > end ? end : e;
}

/**
 * Builds the scanner's Unicode class table (once; about 1.1 MB) so `nextPieceEnd` can be used.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { nextPieceEnd, prepareScanner } from "./pieces.ts";
 * prepareScanner();
 * strictEqual(nextPieceEnd(new TextEncoder().encode(" a b"), 0, 4), 2);
 * ```
 */
export function prepareScanner(): void {
  table();
}
