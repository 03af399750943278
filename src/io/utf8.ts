/**
 * Strict UTF-8 decoding of input lines: text that is not valid UTF-8 is an error naming the byte
 * where it stops being valid, never silently replaced by U+FFFD (which would change what a
 * record means). Token decoding is different: it keeps U+FFFD, as the reference does.
 *
 * @module
 */

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The offset of the first byte of `bytes` that is not part of a well-formed UTF-8 sequence
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or -1 when all of it is
 * valid. A sequence cut short by the end of `bytes` is invalid at its first byte. O(n).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { invalidUtf8Offset } from "./utf8.ts";
 * deepStrictEqual(invalidUtf8Offset(Uint8Array.of(0x48, 0xc3, 0x28, 0x69)), 1);
 * deepStrictEqual(invalidUtf8Offset(new TextEncoder().encode("café")), -1);
 * ```
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80, hi = 0xbf; // allowed range of the second byte
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      else if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      else if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    if (i + need >= n) return i; // cut short by the end
    const b1 = bytes[i + 1];
    if (b1 < lo || b1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k];
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * Decodes UTF-8 bytes strictly.
 *
 * @returns the text, or the offset of the first invalid byte (see {@link invalidUtf8Offset}).
 * A leading byte-order mark is kept as U+FEFF (the caller decides what a BOM means).
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { decodeUtf8Strict } from "./utf8.ts";
 * deepStrictEqual(decodeUtf8Strict(new TextEncoder().encode("hi")), "hi");
 * deepStrictEqual(decodeUtf8Strict(Uint8Array.of(0x63, 0x61, 0x66, 0xe9)), 3);
 * ```
 */
export function decodeUtf8Strict(bytes: Uint8Array): string | number {
  try {
    return strict.decode(bytes);
  } catch {
    const at = invalidUtf8Offset(bytes);
    return at < 0 ? 0 : at;
  }
}
