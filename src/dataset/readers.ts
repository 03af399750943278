/**
 * Streaming record readers over input files: JSONL (plain or gzip, detected by magic bytes) and
 * Parquet (row group by row group, with `hyparquet`). One record = one non-blank JSONL line or one
 * Parquet row. Reused by `render-dataset` and `parse-dataset`.
 *
 * Records carry where they came from (file, line or row, byte offset) so an error line can name
 * them, and a {@link ReadPosition} lets a resumed run start where a checkpoint left off: plain
 * JSONL seeks to the byte offset; gzip and Parquet re-read and skip. Inputs that cannot be seeked
 * (pipes, `/dev/stdin`, process substitution) are read once, in order (JSONL and gzip; Parquet
 * needs a seekable file), and cannot be resumed.
 *
 * @module
 */

import { open, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import type { AsyncBuffer } from "hyparquet";
import { isBlankLine, readLines } from "../io/lines.ts";
import { dropStructNulls, nestedColumns } from "./parquet_nulls.ts";

/** The kind of an input file, from its first bytes. */
export type InputKind = "jsonl" | "jsonl.gz" | "parquet";

/** One input record. */
export interface InputRecord {
  /** 0-based index of the record over all inputs, in order (the shard key). */
  index: number;
  /** Index of the input file in the list. */
  fileIndex: number;
  /** The input file's path. */
  file: string;
  /** 1-based line (JSONL) or 1-based row (Parquet) in the file. */
  line: number;
  /** Byte offset of the line in the (decompressed) file; for Parquet, the row group's offset. */
  byteOffset: number;
  /** The line's text (JSONL); parse it lazily, only when the record is used. */
  text?: string;
  /** The row as an object (Parquet). */
  value?: unknown;
  /**
   * Why the record has neither `text` nor `value`: its line is not valid UTF-8
   * (`invalid UTF-8 at byte N`, N counted from the line's first byte). Report it as the
   * record's error; nothing was replaced by U+FFFD.
   */
  error?: string;
}

/** Where to start reading: after the record that ended a checkpoint. */
export interface ReadPosition {
  /** Records already read (the next record's {@link InputRecord.index}). */
  records: number;
  /** File to continue in. */
  fileIndex: number;
  /** Lines (or rows) of that file already read. */
  line: number;
  /** Byte offset (in the decompressed stream) of the start of the last line read in that file. */
  offset: number;
}

/** Options of {@link readRecords}. */
export interface ReadRecordsOptions {
  /** Start after this position (for `--resume`). */
  start?: ReadPosition;
  /** Called with the number of raw file bytes read, as they are read (progress). */
  onBytes?: (bytes: number) => void;
  /** Read chunk size in bytes (default 1 MiB). */
  chunkSize?: number;
  /**
   * Keep `null` fields inside Parquet struct-typed columns (default false: a `null` field of a
   * struct is an absent field, since Parquet cannot tell the two apart; `parquet_nulls.ts`).
   */
  keepNullFields?: boolean;
}

/**
 * Detects a file's kind from its first bytes: gzip magic `1f 8b`, Parquet `PAR1`, else JSONL.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { detectInputKind } from "./readers.ts";
 * strictEqual(detectInputKind(Uint8Array.of(0x1f, 0x8b, 8)), "jsonl.gz");
 * ```
 */
export function detectInputKind(head: Uint8Array): InputKind {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "jsonl.gz";
  if (
    head.length >= 4 && head[0] === 0x50 && head[1] === 0x41 && head[2] === 0x52 &&
    head[3] === 0x31
  ) return "parquet";
  return "jsonl";
}

/**
 * Total size in bytes of the input files (for progress ETA), 0 when one is a pipe.
 *
 * @example
 * ```ts ignore
 * import { totalInputBytes } from "./readers.ts";
 * await totalInputBytes(["a.jsonl", "b.parquet"]);
 * ```
 */
export async function totalInputBytes(paths: readonly string[]): Promise<number> {
  let n = 0;
  for (const p of paths) {
    const st = await stat(p);
    // A pipe's size is unknown, so the total is too: 0 means "no percent or ETA".
    if (!st.isFile()) return 0;
    n += st.size;
  }
  return n;
}

/**
 * Reads records from `paths` in order.
 *
 * @throws when a file cannot be opened or a gzip stream is corrupt (a whole-file failure; a bad
 * line is not an error here: its text is yielded and the caller reports it).
 * @example
 * ```ts ignore
 * import { readRecords } from "./readers.ts";
 * for await (const rec of readRecords(["data.jsonl.gz"])) console.log(rec.index, rec.line);
 * ```
 */
export async function* readRecords(
  paths: readonly string[],
  options: ReadRecordsOptions = {},
): AsyncGenerator<InputRecord> {
  const start = options.start;
  let index = start?.records ?? 0;
  for (let f = start?.fileIndex ?? 0; f < paths.length; f++) {
    const path = paths[f];
    const resumeHere = start && start.fileIndex === f ? start : undefined;
    // A pipe (FIFO, /dev/stdin, process substitution) can be read once, in order: its kind
    // comes from its first chunk, which is then read again from memory.
    const piped = !(await stat(path)).isFile()
      ? await pipeChunks(path, options.chunkSize ?? (1 << 20), options.onBytes)
      : undefined;
    if (piped && resumeHere && (resumeHere.line > 0 || resumeHere.offset > 0)) {
      throw new RangeError(`Cannot resume from "${path}": it is a pipe, which cannot be re-read`);
    }
    const kind = piped ? piped.kind : await fileKind(path);
    if (piped && kind === "parquet") {
      await piped.chunks.return(undefined);
      throw new Error(`Cannot read "${path}": Parquet needs a seekable file, not a pipe`);
    }
    if (kind === "parquet") {
      const rows = readParquetRows(
        path,
        resumeHere?.line ?? 0,
        options.onBytes,
        options.keepNullFields ?? false,
      );
      for await (const row of rows) {
        yield { index: index++, fileIndex: f, file: path, ...row };
      }
      continue;
    }
    const skipLines = resumeHere ? resumeHere.line : 0;
    // Plain JSONL seeks to the start of the last line read and skips that one line.
    const seekable = kind === "jsonl" && skipLines > 0;
    const seek = seekable ? resumeHere!.offset : 0;
    const lineBase = seekable ? skipLines - 1 : 0;
    let chunks = piped?.chunks ??
      fileChunks(path, seek, options.chunkSize ?? (1 << 20), options.onBytes);
    if (kind === "jsonl.gz") {
      chunks = gunzip(chunks, (e) =>
        new Error(
          `Cannot read "${path}": corrupt gzip data (${
            e instanceof Error ? e.message : String(e)
          })`,
          { cause: e },
        ));
    }
    for await (const line of readLines(chunks, { stripBom: seek === 0 })) {
      const number = line.number + lineBase;
      if (number <= skipLines) continue;
      if (line.error === undefined && isBlankLine(line.text)) continue;
      const rec: InputRecord = {
        index: index++,
        fileIndex: f,
        file: path,
        line: number,
        byteOffset: line.offset + seek,
        text: line.text,
      };
      if (line.error !== undefined) {
        rec.text = undefined;
        rec.error = line.error;
      }
      yield rec;
    }
  }
}

async function fileKind(path: string): Promise<InputKind> {
  const fh = await open(path, "r");
  try {
    const head = new Uint8Array(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    return detectInputKind(head.subarray(0, bytesRead));
  } catch (e) {
    throw new Error(`Cannot read "${path}": ${e instanceof Error ? e.message : e}`, { cause: e });
  } finally {
    await fh.close();
  }
}

/**
 * Reads a file as byte chunks from `position`, calling `onBytes` per chunk.
 *
 * @example
 * ```ts ignore
 * import { fileChunks } from "./readers.ts";
 * for await (const chunk of fileChunks("a.jsonl")) console.log(chunk.length);
 * ```
 */
export async function* fileChunks(
  path: string,
  position = 0,
  chunkSize = 1 << 20,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  const fh = await open(path, "r");
  try {
    let pos = position;
    while (true) {
      const buf = new Uint8Array(chunkSize);
      const { bytesRead } = await fh.read(buf, 0, chunkSize, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      onBytes?.(bytesRead);
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/**
 * Opens a file that cannot be seeked (a pipe) and reads its first chunk: the kind it shows, and
 * all its bytes in order (that first chunk included), read sequentially.
 */
async function pipeChunks(
  path: string,
  chunkSize: number,
  onBytes?: (bytes: number) => void,
): Promise<{ kind: InputKind; chunks: AsyncGenerator<Uint8Array> }> {
  const fh = await open(path, "r");
  const next = async (): Promise<Uint8Array> => {
    const buf = new Uint8Array(chunkSize);
    const { bytesRead } = await fh.read(buf, 0, chunkSize, null);
    onBytes?.(bytesRead);
    return buf.subarray(0, bytesRead);
  };
  let first: Uint8Array;
  try {
    first = await next();
    // A magic number split over two reads: read on until 4 bytes or the end.
    while (first.length > 0 && first.length < 4) {
      const more = await next();
      if (more.length === 0) break;
      first = concat(first, more);
    }
  } catch (e) {
    await fh.close();
    throw new Error(`Cannot read "${path}": ${e instanceof Error ? e.message : e}`, { cause: e });
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      for (let c = first; c.length > 0; c = await next()) yield c;
    } finally {
      await fh.close();
    }
  }
  return { kind: detectInputKind(first.subarray(0, 4)), chunks: chunks() };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Decompresses gzip chunks (multi-member streams too) with `node:zlib`.
 *
 * @param wrapError makes the error thrown for corrupt data (e.g. naming the file); default: zlib's.
 * @example
 * ```ts ignore
 * import { fileChunks, gunzip } from "./readers.ts";
 * for await (const chunk of gunzip(fileChunks("a.jsonl.gz"))) console.log(chunk.length);
 * ```
 */
export async function* gunzip(
  chunks: AsyncIterable<Uint8Array>,
  wrapError?: (e: unknown) => Error,
): AsyncGenerator<Uint8Array> {
  const z = Readable.from(chunks).pipe(createGunzip());
  const it = (z as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  for (;;) {
    let r: IteratorResult<Uint8Array>;
    try {
      r = await it.next();
    } catch (e) {
      throw wrapError ? wrapError(e) : e;
    }
    if (r.done) return;
    const c = r.value;
    yield new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  }
}

/**
 * An `AsyncBuffer` over a file for hyparquet: reads byte ranges on demand.
 *
 * @example
 * ```ts ignore
 * import { parquetReadObjects } from "hyparquet";
 * import { fileAsyncBuffer } from "./readers.ts";
 * const file = await fileAsyncBuffer("data.parquet");
 * const rows = await parquetReadObjects({ file, rowStart: 0, rowEnd: 10 });
 * await file.close();
 * ```
 */
export async function fileAsyncBuffer(
  path: string,
  onBytes?: (bytes: number) => void,
): Promise<AsyncBuffer & { close(): Promise<void> }> {
  const fh = await open(path, "r");
  const { size } = await fh.stat();
  return {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = end ?? size;
      const buf = new Uint8Array(stop - start);
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await fh.read(buf, done, buf.length - done, start + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      onBytes?.(done);
      return buf.buffer;
    },
    close: () => fh.close(),
  };
}

async function* readParquetRows(
  path: string,
  skipRows: number,
  onBytes: ((bytes: number) => void) | undefined,
  keepNullFields: boolean,
): AsyncGenerator<{ line: number; byteOffset: number; value: unknown }> {
  const file = await fileAsyncBuffer(path, onBytes);
  const cannot = (what: string, e: unknown) =>
    new Error(`Cannot read "${path}": ${what} (${e instanceof Error ? e.message : String(e)})`, {
      cause: e,
    });
  try {
    let metadata;
    try {
      metadata = await parquetMetadataAsync(file);
    } catch (e) {
      throw cannot("corrupt footer", e);
    }
    const nested = keepNullFields ? [] : nestedColumns(metadata.schema);
    let rowStart = 0;
    for (let g = 0; g < metadata.row_groups.length; g++) {
      const group = metadata.row_groups[g];
      const n = Number(group.num_rows);
      const rowEnd = rowStart + n;
      if (rowEnd > skipRows) {
        const from = Math.max(rowStart, skipRows);
        const groupOffset = Number(group.columns[0]?.file_offset ?? 0n);
        let rows;
        try {
          rows = await parquetReadObjects({ file, metadata, rowStart: from, rowEnd });
        } catch (e) {
          throw cannot(
            `corrupt row group ${g} (rows ${rowStart + 1}-${rowEnd}, at byte ${groupOffset})`,
            e,
          );
        }
        for (let i = 0; i < rows.length; i++) {
          const value = nested.length > 0 ? dropStructNulls(rows[i], nested) : rows[i];
          yield { line: from + i + 1, byteOffset: groupOffset, value };
        }
      }
      rowStart = rowEnd;
    }
  } finally {
    await file.close();
  }
}
