/**
 * The top-level members of a JSON object text, as spans of the text, so a record's other fields
 * can be copied to the output byte for byte (big integers, key order, escapes and number spelling
 * kept) without re-serializing them.
 *
 * @module
 */

/** One top-level member of an object text: its decoded key and the span `"key": value`. */
export interface MemberSpan {
  /** The decoded key. */
  key: string;
  /** Index of the key's opening quote. */
  start: number;
  /** Index one past the value's last character. */
  end: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Index one past the closing quote of the string opening at `i`. */
function skipString(text: string, i: number): number {
  let j = i + 1;
  while (true) {
    const q = text.indexOf('"', j);
    if (q < 0) return text.length;
    // Count the backslashes before the quote: an odd count escapes it.
    let k = q - 1;
    while (k >= j && text.charCodeAt(k) === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** Whether `text[from, to)` holds no `"`, `[` or `{` (native searches, no per-character loop). */
function noneBefore(text: string, from: number, to: number): boolean {
  const seg = text.substring(from, to);
  return !seg.includes('"') && !seg.includes("[") && !seg.includes("{");
}

/** Index one past the value starting at `i` (after whitespace). */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
  if (c === 0x5b) {
    // Fast path for a flat array (token ids): no string or nested value before the first `]`.
    const close = text.indexOf("]", i + 1);
    if (close > 0 && noneBefore(text, i + 1, close)) return close + 1;
  }
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    let j = i;
    const n = text.length;
    while (j < n) {
      const d = text.charCodeAt(j);
      if (d === QUOTE) {
        j = skipString(text, j);
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        if (--depth === 0) return j + 1;
      }
      j++;
    }
    return n;
  }
  let j = i;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (d === 0x2c || d === 0x7d || d === 0x5d || isSpace(d)) break;
    j++;
  }
  return j;
}

/**
 * Lists the top-level members of `text`, which must be a valid JSON object (check it with
 * `JSON.parse` first: on other text the spans are meaningless). O(text length).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { objectMembers } from "./_json_members.ts";
 * const text = '{"id": 12345678901234567890, "tokens": [1, 2]}';
 * const [id] = objectMembers(text);
 * strictEqual(text.slice(id.start, id.end), '"id": 12345678901234567890');
 * ```
 */
export function objectMembers(text: string): MemberSpan[] {
  const out: MemberSpan[] = [];
  let i = text.indexOf("{") + 1;
  const n = text.length;
  while (i > 0 && i < n) {
    while (i < n && (isSpace(text.charCodeAt(i)) || text.charCodeAt(i) === 0x2c)) i++;
    if (i >= n || text.charCodeAt(i) !== QUOTE) break;
    const start = i;
    const keyEnd = skipString(text, i);
    const raw = text.slice(i + 1, keyEnd - 1);
    const key = raw.includes("\\") ? JSON.parse(text.slice(i, keyEnd)) as string : raw;
    i = keyEnd;
    while (i < n && (isSpace(text.charCodeAt(i)) || text.charCodeAt(i) === 0x3a)) i++;
    const end = skipValue(text, i);
    out.push({ key, start, end });
    i = end;
  }
  return out;
}
