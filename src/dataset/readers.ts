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
 * {@link InputShard} reads one contiguous shard (`shard.ts` has the rule): only the lines, row
 * groups and gzip files its byte range owns, plus the end of the line that crosses its end. Its
 * records' {@link InputRecord.index} counts from the shard's first record, and the lines of a
 * plain JSONL file the shard starts inside count from the shard's first line there;
 * {@link InputShard.locate} gives the global index and line. That costs one scan of everything
 * before the range, done the first time it is asked for and cached: a newline scan of the plain
 * JSONL bytes before it (blank lines skipped as {@link readRecords} skips them), a full
 * decompression of each gzip file before it, and nothing for Parquet (row counts are in the
 * footers).
 *
 * @module
 */

import { open, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import type { AsyncBuffer } from "hyparquet";
import type { RowGroup } from "hyparquet";
import { isBlankLine, readLines } from "../io/lines.ts";
import { dropStructNulls, nestedColumns } from "./parquet_nulls.ts";
import { type ByteRange, ownsUnit, type Shard, shardRange, WHOLE } from "./shard.ts";

/** The kind of an input file, from its first bytes. */
export type InputKind = "jsonl" | "jsonl.gz" | "parquet";

/** One input record. */
export interface InputRecord {
  /**
   * 0-based index of the record over all inputs, in order; for a shard of an {@link InputShard},
   * over the shard's records (its global index is {@link InputShard.locate}'s).
   */
  index: number;
  /** Index of the input file in the list. */
  fileIndex: number;
  /** The input file's path. */
  file: string;
  /**
   * 1-based line (JSONL) or 1-based row (Parquet) in the file; in the plain JSONL file a shard
   * starts inside, counted from the shard's first line (see {@link InputShard.locate}).
   */
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
  /** Records already read (the next record's {@link InputRecord.index}, shard-relative). */
  records: number;
  /** File to continue in. */
  fileIndex: number;
  /** Lines (or rows) of that file already read (numbered as {@link InputRecord.line}). */
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
export function readRecords(
  paths: readonly string[],
  options: ReadRecordsOptions = {},
): AsyncGenerator<InputRecord> {
  return readInputs(paths, options, undefined);
}

/** A file of a sharded read: where it sits in the concatenation of the inputs. */
interface FilePlan {
  path: string;
  kind: InputKind;
  size: number;
  /** Position of its first byte in the concatenation. */
  base: number;
  /** Parquet: each row group's first byte in the file and its row count. */
  groups: Array<{ start: number; rows: number }>;
}

/** A shard's reading plan: its files and the byte range it owns. */
interface ShardPlan {
  files: FilePlan[];
  range: ByteRange;
}

// The one reading loop. Without a plan every record is read (pipes too); with one, only the
// units whose first byte lies in `plan.range` (see `shard.ts`).
async function* readInputs(
  paths: readonly string[],
  options: ReadRecordsOptions,
  plan: ShardPlan | undefined,
): AsyncGenerator<InputRecord> {
  const start = options.start;
  const chunkSize = options.chunkSize ?? (1 << 20);
  let index = start?.records ?? 0;
  for (let f = start?.fileIndex ?? 0; f < paths.length; f++) {
    const path = paths[f];
    const resumeHere = start && start.fileIndex === f ? start : undefined;
    const planned = plan?.files[f];
    // A pipe (FIFO, /dev/stdin, process substitution) can be read once, in order: its kind
    // comes from its first chunk, which is then read again from memory.
    const piped = planned === undefined && !(await stat(path)).isFile()
      ? await pipeChunks(path, chunkSize, options.onBytes)
      : undefined;
    if (piped && resumeHere && (resumeHere.line > 0 || resumeHere.offset > 0)) {
      throw new RangeError(`Cannot resume from "${path}": it is a pipe, which cannot be re-read`);
    }
    const kind = planned?.kind ?? (piped ? piped.kind : await fileKind(path));
    if (piped && kind === "parquet") {
      await piped.chunks.return(undefined);
      throw new Error(`Cannot read "${path}": Parquet needs a seekable file, not a pipe`);
    }
    if (kind === "parquet") {
      const owned = planned && plan
        ? planned.groups.map((g) => ownsUnit(planned.base + g.start, plan.range))
        : undefined;
      if (owned && !owned.includes(true)) continue;
      const rows = readParquetRows(
        path,
        resumeHere?.line ?? 0,
        options.onBytes,
        options.keepNullFields ?? false,
        owned,
      );
      for await (const row of rows) {
        yield { index: index++, fileIndex: f, file: path, ...row };
      }
      continue;
    }
    if (kind === "jsonl.gz" && planned && plan && !ownsUnit(planned.base, plan.range)) continue;
    // The part of a plain JSONL file whose lines this read owns: lines starting in [from, to).
    let from = 0;
    let to = Infinity;
    if (kind === "jsonl" && planned && plan) {
      from = Math.min(Math.max(plan.range.start - planned.base, 0), planned.size);
      to = Math.min(Math.max(plan.range.end - planned.base, 0), planned.size);
      if (from >= to) continue;
    }
    const skipLines = resumeHere ? resumeHere.line : 0;
    // Plain JSONL seeks to the start of the last line read and skips that one line; a shard
    // starting inside a file seeks to the byte before its range and skips through the first
    // newline (the line there is the previous shard's, or it ends right there).
    const resumed = kind === "jsonl" && skipLines > 0;
    const seek = resumed ? resumeHere!.offset : from > 0 ? from - 1 : 0;
    const lineBase = resumed ? skipLines - 1 : from > 0 ? -1 : 0;
    let chunks = piped?.chunks ?? rangeChunks(path, seek, to, chunkSize, options.onBytes);
    if (kind === "jsonl.gz") chunks = gunzip(chunks, corruptGzip(path));
    for await (const line of readLines(chunks, { stripBom: seek === 0 })) {
      const number = line.number + lineBase;
      if (number <= skipLines) continue;
      if (line.offset + seek >= to) break;
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

function corruptGzip(path: string): (e: unknown) => Error {
  return (e) =>
    new Error(
      `Cannot read "${path}": corrupt gzip data (${e instanceof Error ? e.message : String(e)})`,
      { cause: e },
    );
}

/** Where a record stands among all the inputs. */
export interface RecordLocation {
  /** 0-based index of the record over all inputs. */
  index: number;
  /** 1-based line (JSONL) or row (Parquet) in its file. */
  line: number;
}

/**
 * One contiguous shard of the inputs (the rule is in `shard.ts`): reads only the units its byte
 * range owns, and places its records among all inputs on demand ({@link InputShard.locate}).
 * The whole input (shard `0/1`) is read as {@link readRecords} reads it, pipes included.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { mkdtempSync, writeFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { InputShard } from "./readers.ts";
 * const path = join(mkdtempSync(join(tmpdir(), "shard-")), "a.jsonl");
 * writeFileSync(path, '{"a":1}\n\n{"a":2}\n{"a":3}\n'); // 25 bytes
 * // Shard 1 of 2 owns bytes 12..24: the line starting at byte 17 (`{"a":2}` starts at 9).
 * const input = await InputShard.open([path], { index: 1, count: 2 });
 * const recs = [];
 * for await (const rec of input.records()) recs.push(rec);
 * strictEqual(recs.map((r) => r.text).join(), '{"a":3}');
 * strictEqual(recs[0].index, 0); // counted in the shard
 * const at = await input.locate(recs[0]); // one scan of bytes 0..16
 * strictEqual(at.index, 2); // the blank line is not a record
 * strictEqual(at.line, 4);
 * ```
 */
export class InputShard {
  /** The shard read. */
  readonly shard: Shard;
  /** The bytes of the concatenated inputs it owns (undefined for the whole input). */
  readonly range: ByteRange | undefined;
  /** Bytes read by {@link InputShard.locate}'s scan so far (0 until it is needed). */
  scannedBytes = 0;
  readonly #paths: readonly string[];
  readonly #plan: ShardPlan | undefined;
  #before: Promise<{ records: number; lines: number }> | undefined;
  #known: { records: number; lines: number } | undefined;
  /** The plain JSONL file the range starts inside, whose lines count from the range (or -1). */
  readonly #midFile: number;

  private constructor(paths: readonly string[], shard: Shard, plan: ShardPlan | undefined) {
    this.#paths = paths;
    this.shard = shard;
    this.#plan = plan;
    this.range = plan?.range;
    this.#midFile =
      plan?.files.findIndex((f) =>
        f.kind === "jsonl" && f.base < plan.range.start && plan.range.start < f.base + f.size
      ) ?? -1;
    // Nothing is before the whole input or the first shard: their positions are global.
    if (plan === undefined || plan.range.start === 0) this.#known = { records: 0, lines: 0 };
  }

  /**
   * Plans shard `shard` of `paths`: stats every input, reads its first bytes (kind) and, for
   * Parquet, its footer (row groups). Cheap: no data is read.
   *
   * @throws {RangeError} when sharding (`count` > 1) and an input is not a regular file (a pipe
   *   has no size, so its place in the inputs is unknown: give a file, or do not shard).
   */
  static async open(paths: readonly string[], shard: Shard = WHOLE): Promise<InputShard> {
    if (shard.count === 1) return new InputShard(paths, shard, undefined);
    const files: FilePlan[] = [];
    let base = 0;
    for (const path of paths) {
      const st = await stat(path);
      if (!st.isFile()) {
        throw new RangeError(
          `Cannot shard "${
            path.slice(0, 32)
          }": it is a pipe, whose size is unknown (shard regular files, or run without --shard)`,
        );
      }
      const kind = await fileKind(path);
      const groups = kind === "parquet" ? await parquetGroups(path) : [];
      files.push({ path, kind, size: st.size, base, groups });
      base += st.size;
    }
    return new InputShard(paths, shard, { files, range: shardRange(base, shard) });
  }

  /**
   * Reads the shard's records in input order (options as {@link readRecords}'s; `start` is a
   * position of this shard's reading).
   */
  records(options: ReadRecordsOptions = {}): AsyncGenerator<InputRecord> {
    return readInputs(this.#paths, options, this.#plan);
  }

  /**
   * The global index and line of one of this shard's records, once known (without a scan), else
   * undefined: always known for the whole input or after {@link InputShard.locate} ran once.
   */
  located(rec: InputRecord): RecordLocation | undefined {
    const k = this.#known;
    if (k === undefined) return undefined;
    return {
      index: k.records + rec.index,
      line: rec.fileIndex === this.#midFile ? k.lines + rec.line : rec.line,
    };
  }

  /**
   * The global index and line of one of this shard's records. The first call scans everything
   * before the range once (see the module doc for the cost); later calls are free.
   *
   * @throws when an input before the range cannot be read (e.g. corrupt gzip data).
   */
  async locate(rec: InputRecord): Promise<RecordLocation> {
    await this.place();
    return this.located(rec)!;
  }

  /**
   * Places the shard among all inputs (the scan {@link InputShard.locate} does at its first call),
   * so that {@link InputShard.located} knows every record's position.
   *
   * @throws when an input before the range cannot be read (e.g. corrupt gzip data).
   */
  async place(): Promise<void> {
    if (this.#known !== undefined) return;
    this.#before ??= this.#countBefore();
    this.#known = await this.#before;
  }

  // Records in all units before the range, and lines before the range's first line in the file
  // it starts inside. Mirrors readInputs' rules (`countLines`).
  async #countBefore(): Promise<{ records: number; lines: number }> {
    const plan = this.#plan!;
    const onBytes = (n: number) => void (this.scannedBytes += n);
    let records = 0;
    let lines = 0;
    for (const file of plan.files) {
      if (file.base >= plan.range.start) break;
      if (file.kind === "parquet") {
        for (const g of file.groups) {
          if (file.base + g.start < plan.range.start) records += g.rows;
        }
        continue;
      }
      const local = plan.range.start - file.base;
      if (file.kind === "jsonl.gz" || local >= file.size) {
        let chunks = fileChunks(file.path, 0, 1 << 20, onBytes);
        if (file.kind === "jsonl.gz") chunks = gunzip(chunks, corruptGzip(file.path));
        records += (await countLines(chunks)).records;
        continue;
      }
      // Up to the end of the line holding the byte before the range: the lines before its first.
      const c = await countLines(rangeChunks(file.path, 0, local, 1 << 20, onBytes));
      records += c.records;
      lines = c.lines;
    }
    return { records, lines };
  }
}

/** Row groups of a Parquet file: first byte (first page of its columns) and row count. */
async function parquetGroups(path: string): Promise<Array<{ start: number; rows: number }>> {
  const file = await fileAsyncBuffer(path);
  try {
    let metadata;
    try {
      metadata = await parquetMetadataAsync(file);
    } catch (e) {
      throw new Error(
        `Cannot read "${path}": corrupt footer (${e instanceof Error ? e.message : String(e)})`,
        { cause: e },
      );
    }
    return metadata.row_groups.map((g) => ({ start: rowGroupStart(g), rows: Number(g.num_rows) }));
  } finally {
    await file.close();
  }
}

/** The first byte of a row group: the first page (dictionary or data) of any of its columns. */
function rowGroupStart(group: RowGroup): number {
  let start = Infinity;
  for (const c of group.columns) {
    const m = c.meta_data;
    if (m === undefined) continue;
    start = Math.min(start, Number(m.dictionary_page_offset ?? m.data_page_offset));
  }
  return Number.isFinite(start)
    ? start
    : Number(group.file_offset ?? group.columns[0]?.file_offset ?? 0n);
}

/**
 * Counts the lines and the records (non-blank lines) of a byte stream without decoding it, by
 * the rules of `readLines` and {@link readRecords}: a line ends at `\n`; a final line without
 * one counts when it has bytes; a UTF-8 byte-order mark at the very start is dropped; a line is
 * blank when it holds only space, tab and CR (an invalid UTF-8 line is never blank). Linear,
 * one `indexOf` per line plus a look at each line's first bytes.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { countLines } from "./readers.ts";
 * const bytes = new TextEncoder().encode("\uFEFF\r\n{}\n \t\n\n{}");
 * deepStrictEqual(await countLines([bytes]), { lines: 5, records: 2 });
 * ```
 */
export async function countLines(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<{ lines: number; records: number }> {
  let lines = 0;
  let records = 0;
  let first = true; // in the stream's first line (where a BOM may be)
  let bom = 0; // BOM bytes matched at the start of the first line
  let length = 0; // bytes of the current line so far
  let content = false; // the current line has a byte other than space, tab, CR (or the BOM)
  const endLine = () => {
    if (first && bom > 0 && bom < 3) content = true; // a partial BOM is text
    if (length > 0) lines++;
    if (content) records++;
    first = false;
    bom = 0;
    length = 0;
    content = false;
  };
  for await (const chunk of chunks) {
    let i = 0;
    while (i < chunk.length) {
      const nl = chunk.indexOf(10, i);
      const stop = nl < 0 ? chunk.length : nl;
      for (let j = i; j < stop && !content; j++) {
        const b = chunk[j];
        if (first && length + (j - i) === bom && bom < 3 && b === BOM[bom]) {
          bom++;
          continue;
        }
        if (b !== 0x20 && b !== 0x09 && b !== 0x0d) content = true;
      }
      length += stop - i;
      if (nl < 0) break;
      length++; // the newline: a line with only "\n" still is a line
      endLine();
      i = nl + 1;
    }
  }
  if (length > 0) {
    // A final line without a newline counts when it has bytes after the BOM.
    if (!(first && bom === 3 && length === 3)) endLine();
  }
  return { lines, records };
}

const BOM = [0xef, 0xbb, 0xbf];

/**
 * Reads `[from, to)` of a file as byte chunks and then, unless byte `to − 1` is a newline, on
 * through the next newline (the line that crosses `to`, read in chunks growing from 4 KiB),
 * calling `onBytes` per chunk.
 */
async function* rangeChunks(
  path: string,
  from: number,
  to: number,
  chunkSize: number,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  const fh = await open(path, "r");
  try {
    let pos = from;
    let last = 10;
    while (pos < to) {
      const n = Math.min(chunkSize, to - pos);
      const buf = new Uint8Array(n);
      const { bytesRead } = await fh.read(buf, 0, n, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      onBytes?.(bytesRead);
      last = buf[bytesRead - 1];
      yield buf.subarray(0, bytesRead);
    }
    if (last === 10) return;
    // The crossing line is usually short: read it in growing chunks, from 4 KiB.
    for (let size = Math.min(4096, chunkSize);; size = Math.min(2 * size, chunkSize)) {
      const buf = new Uint8Array(size);
      const { bytesRead } = await fh.read(buf, 0, size, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      onBytes?.(bytesRead);
      const nl = buf.subarray(0, bytesRead).indexOf(10);
      if (nl >= 0) {
        yield buf.subarray(0, nl + 1);
        return;
      }
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
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
  owned?: readonly boolean[],
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
      if (rowEnd > skipRows && (owned === undefined || owned[g])) {
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
