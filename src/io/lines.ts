/**
 * Streaming line splitting over byte chunks: UTF-8 lines without their `\n` (and a trailing `\r`),
 * with 1-based line numbers and byte offsets, never holding more than one partial line.
 *
 * Rules, the same for every command that reads lines:
 * - A final `\n` at the end of the input ends the last line; it does not start another one. An
 *   empty input has no lines; a blank line is a line (with empty text).
 * - A line that is not valid UTF-8 is yielded with `error` set (`invalid UTF-8 at byte N`, N
 *   counted from the line's first byte) and empty `text`; nothing is replaced by U+FFFD.
 * - A byte-order mark at the very start of the input is dropped (`stripBom`, default true);
 *   anywhere else it is text.
 *
 * Cost: linear in the input. A line spread over many chunks is joined once, when its end is
 * found (not chunk by chunk, which is quadratic for one long line in small chunks).
 *
 * @module
 */

import { decodeUtf8Strict } from "./utf8.ts";

/** One line of input. */
export interface Line {
  /** The line's text, without the line ending (empty when `error` is set). */
  text: string;
  /** 1-based line number. */
  number: number;
  /** Byte offset of the line's first byte in the stream. */
  offset: number;
  /** Why the line has no text: `invalid UTF-8 at byte N` (N from the line's first byte). */
  error?: string;
}

/** Options of {@link readLines}. */
export interface ReadLinesOptions {
  /** Drop a UTF-8 byte-order mark at the start of the stream (default true). */
  stripBom?: boolean;
}

/**
 * Splits a stream of byte chunks into lines (see the module notes for the rules).
 *
 * @example
 * ```ts
 * import { readLines } from "./lines.ts";
 * const chunks = [new TextEncoder().encode("a\nb")];
 * import { deepStrictEqual } from "node:assert/strict";
 * const lines: Array<[number, string]> = [];
 * for await (const line of readLines(chunks)) lines.push([line.number, line.text]);
 * deepStrictEqual(lines, [[1, "a"], [2, "b"]]);
 * ```
 */
export async function* readLines(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ReadLinesOptions = {},
): AsyncGenerator<Line> {
  let stripBom = options.stripBom ?? true;
  // The partial line: pieces of earlier chunks (copied: a producer may reuse its buffer).
  let parts: Uint8Array[] = [];
  let partsLength = 0;
  let lineOffset = 0;
  let number = 0;
  for await (let chunk of chunks) {
    if (stripBom) {
      // The BOM may itself be split over chunks; decide once three bytes (or the end) are seen.
      if (partsLength + chunk.length < 3) {
        parts.push(chunk.slice());
        partsLength += chunk.length;
        continue;
      }
      stripBom = false;
      if (partsLength > 0) {
        chunk = join(parts, partsLength, chunk);
        parts = [];
        partsLength = 0;
      }
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
        chunk = chunk.subarray(3);
        lineOffset = 3;
      }
    }
    let start = 0;
    let nl = chunk.indexOf(10);
    while (nl >= 0) {
      const bytes = partsLength > 0
        ? join(parts, partsLength, chunk.subarray(0, nl))
        : chunk.subarray(start, nl);
      parts = [];
      partsLength = 0;
      yield makeLine(bytes, ++number, lineOffset);
      lineOffset += bytes.length + 1;
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      parts.push(chunk.slice(start));
      partsLength += chunk.length - start;
    }
  }
  if (partsLength > 0) {
    const bytes = join(parts, partsLength);
    let start = 0;
    if (stripBom) {
      // The whole input is under three bytes (so it holds no BOM) and was only buffered: split it.
      for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, start)) {
        yield makeLine(bytes.subarray(start, nl), ++number, lineOffset);
        lineOffset += nl - start + 1;
        start = nl + 1;
      }
    }
    if (start < bytes.length) yield makeLine(bytes.subarray(start), ++number, lineOffset);
  }
}

/**
 * Whether a line holds only JSON whitespace (space, tab, CR, LF) or nothing.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { isBlankLine } from "./lines.ts";
 * deepStrictEqual([isBlankLine(" \t"), isBlankLine(" x")], [true, false]);
 * ```
 */
export function isBlankLine(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return false;
  }
  return true;
}

function makeLine(bytes: Uint8Array, number: number, offset: number): Line {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 13) end--;
  const text = decodeUtf8Strict(end === bytes.length ? bytes : bytes.subarray(0, end));
  return typeof text === "string"
    ? { text, number, offset }
    : { text: "", number, offset, error: `invalid UTF-8 at byte ${text}` };
}

/** Joins `parts` (of total length `length`) and `tail` into one new array, once. */
function join(parts: readonly Uint8Array[], length: number, tail?: Uint8Array): Uint8Array {
  const out = new Uint8Array(length + (tail?.length ?? 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  if (tail) out.set(tail, at);
  return out;
}
