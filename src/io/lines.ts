/**
 * Streaming line splitting over byte chunks: UTF-8 lines without their `\n` (and a trailing `\r`),
 * with 1-based line numbers and byte offsets, never holding more than one partial line.
 *
 * @module
 */

/** One line of input. */
export interface Line {
  /** The line's text, without the line ending. */
  text: string;
  /** 1-based line number. */
  number: number;
  /** Byte offset of the line's first byte in the stream. */
  offset: number;
}

/**
 * Splits a stream of byte chunks into lines. A last line without `\n` is yielded too; an empty
 * stream yields nothing.
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
): AsyncGenerator<Line> {
  const decoder = new TextDecoder();
  let pending: Uint8Array = new Uint8Array(0);
  let pendingOffset = 0;
  let number = 0;
  for await (const chunk of chunks) {
    let start = 0;
    let nl = chunk.indexOf(10);
    if (nl >= 0 && pending.length > 0) {
      const joined = concat(pending, chunk.subarray(0, nl));
      yield { text: stripCr(decoder.decode(joined)), number: ++number, offset: pendingOffset };
      pendingOffset += joined.length + 1;
      pending = new Uint8Array(0);
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    while (nl >= 0) {
      yield {
        text: stripCr(decoder.decode(chunk.subarray(start, nl))),
        number: ++number,
        offset: pendingOffset,
      };
      pendingOffset += nl + 1 - start;
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) pending = concat(pending, chunk.subarray(start));
  }
  if (pending.length > 0) {
    yield { text: stripCr(decoder.decode(pending)), number: ++number, offset: pendingOffset };
  }
}

function stripCr(s: string): string {
  return s.length > 0 && s.charCodeAt(s.length - 1) === 13 ? s.slice(0, -1) : s;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
