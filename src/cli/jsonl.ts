/**
 * The shared loop of JSONL commands: exactly one output line per input line, in order; a bad line
 * gives `{"error": "line N: …"}` and the rest go on. A blank (or whitespace-only) line is such an
 * error (`line N: empty line`), so outputs never shift against their inputs; a line that is not
 * valid UTF-8 gives `line N: invalid UTF-8 at byte B`. Lines are split as `readLines` does
 * (src/io/lines.ts): a final newline ends the last line, a leading BOM is dropped.
 *
 * @module
 */

import { isBlankLine, type Line, readLines } from "../io/lines.ts";
import { parseJson } from "../chat/json_text.ts";
import { decodeUtf8Strict } from "../io/utf8.ts";
import type { Host } from "./host.ts";
import { LineWriter } from "./output.ts";

/** Result of a JSONL run. */
export interface JsonlSummary {
  /** Lines read (each gave one output line). */
  lines: number;
  /** Lines that gave an error. */
  failed: number;
}

/**
 * One output line given as parts, written as they are produced (for lines too big to hold, such
 * as `parse --trace`). The parts must make one line of JSON whatever happens: the producer
 * catches its own errors, ends the line with them, and says so through `failed`.
 */
export class LineParts {
  /** Creates the line from its parts; `failed()` is read after the last part. */
  constructor(readonly parts: Iterable<string>, readonly failed: () => boolean) {}
}

/**
 * Runs `handle` on every stdin line that is valid UTF-8 and not blank; its return value (a
 * JSON-serializable object, an already serialized JSON string, or {@link LineParts}) is written as
 * one output line.
 * A thrown error, an invalid line and a blank line each become `{"error": "line N: <message>"}`.
 */
export async function runJsonl(
  host: Host,
  handle: (line: string, lineNumber: number) => unknown,
): Promise<JsonlSummary> {
  const out = new LineWriter(host.stdout);
  let lines = 0;
  let failed = 0;
  for await (const line of readLines(host.stdin())) {
    lines++;
    let text: string;
    try {
      const r = handle(checkedText(line), line.number);
      if (r instanceof LineParts) {
        for (const part of r.parts) await out.part(part);
        await out.line("");
        if (r.failed()) failed++;
        continue;
      }
      text = typeof r === "string" ? r : JSON.stringify(r);
    } catch (e) {
      failed++;
      text = JSON.stringify({
        error: `line ${line.number}: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
    await out.line(text);
  }
  await out.flush();
  return { lines, failed };
}

/**
 * Like {@link runJsonl}, but lines are handled in batches (for the GPU engine): `prepare` reads one
 * line (a throw is that line's error), `processBatch` handles up to `batchSize` prepared lines at
 * once and returns, for each, the output (object or serialized JSON) or an `Error`. Output order
 * and error lines are exactly those of {@link runJsonl}.
 */
export async function runJsonlBatched<T>(
  host: Host,
  prepare: (line: string, lineNumber: number) => T,
  processBatch: (items: T[]) => Promise<ReadonlyArray<unknown>>,
  batchSize = 4096,
): Promise<JsonlSummary> {
  const out = new LineWriter(host.stdout);
  let lines = 0;
  let failed = 0;
  let pending: Array<{ number: number; item?: T; error?: unknown }> = [];
  const errorLine = (n: number, e: unknown) => {
    failed++;
    return JSON.stringify({ error: `line ${n}: ${e instanceof Error ? e.message : String(e)}` });
  };
  const flush = async () => {
    const ok = pending.filter((p) => p.error === undefined);
    const results = ok.length > 0 ? await processBatch(ok.map((p) => p.item as T)) : [];
    let k = 0;
    for (const p of pending) {
      if (p.error !== undefined) {
        await out.line(errorLine(p.number, p.error));
        continue;
      }
      const r = results[k++];
      await out.line(
        r instanceof Error ? errorLine(p.number, r) : typeof r === "string" ? r : JSON.stringify(r),
      );
    }
    pending = [];
  };
  for await (const line of readLines(host.stdin())) {
    lines++;
    try {
      pending.push({ number: line.number, item: prepare(checkedText(line), line.number) });
    } catch (e) {
      pending.push({ number: line.number, error: e ?? new Error("unknown error") });
    }
    if (pending.length >= batchSize) await flush();
  }
  await flush();
  await out.flush();
  return { lines, failed };
}

/** The text of a line to handle. @throws {SyntaxError} for an invalid or a blank line. */
function checkedText(line: Line): string {
  if (line.error !== undefined) throw new SyntaxError(line.error);
  if (isBlankLine(line.text)) throw new SyntaxError("empty line");
  return line.text;
}

/**
 * Parses one JSONL line as a JSON object.
 *
 * @throws {SyntaxError} naming what is wrong and the byte (the same text in every runtime).
 * @throws {TypeError} when the value is not an object.
 */
export function parseJsonObject(text: string): Record<string, unknown> {
  const value = parseJson(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("Cannot read record: expected a JSON object");
  }
  return value as Record<string, unknown>;
}

/**
 * Reads all of stdin as one text, as is: a leading byte-order mark is kept (it is part of the
 * text, and tokenizes), and bytes that are not valid UTF-8 are an error, not U+FFFD.
 *
 * @returns the text, or `{ error }` naming the first invalid byte.
 */
export async function readAllText(host: Host): Promise<string | { error: string }> {
  const text = decodeUtf8Strict(await readAll(host));
  return typeof text === "string"
    ? text
    : { error: `Cannot read stdin: invalid UTF-8 at byte ${text}` };
}

/** Reads all of stdin as bytes. */
export async function readAll(host: Host): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of host.stdin()) {
    parts.push(c);
    n += c.length;
  }
  const all = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}
