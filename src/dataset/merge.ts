/**
 * Merging of `render-dataset` outputs (the shards of one run) into one dataset: Megatron datasets
 * (tokens and loss masks), flat `bin` datasets, JSONL (`render-dataset --output-format jsonl`
 * and `parse-dataset` outputs), gzip JSONL (`parse-dataset --out X.jsonl.gz`) and Parquet.
 * Shards are contiguous ranges of the inputs (`shard.ts`), so the merge of all shards of a run,
 * in order, is byte for byte the unsharded run's output. Data files are copied in 1 MiB chunks
 * and the indexes rebuilt by streaming, so memory stays bounded whatever the sizes. The merged
 * records are the inputs' records in the order the prefixes are given (shard 0's, then shard
 * 1's, …).
 *
 * Parquet and gzip files are not concatenated but written again by the writer of a run, so that
 * their internal cuts fall where one run cuts them:
 * - Parquet: the shards' rows are read one row group at a time and written through the
 *   `render-dataset` writer with the run's row-group size (`PREFIX.shard.json`), which cuts row
 *   groups by rows and tokens only (never at checkpoints): the same row groups, footer and bytes
 *   as the unsharded run.
 * - gzip JSONL: the shards are decompressed (streaming) and their lines written through the same
 *   {@link AppendFile} (one gzip member per 1 MiB buffer, `gzipSync` defaults, deterministic).
 *   An unsharded run also ends a member at each checkpoint (every `--checkpoint-every` records,
 *   counted from the first record); the shards' manifests give that interval and whether a record
 *   may make several lines (`--field` with `[*]`: a line of sample k > 0 continues its record),
 *   so the merge ends its members at the same records: the unsharded file's bytes. Inputs without
 *   a manifest (a single unsharded file) get members at the buffer only.
 *
 * @module
 */

import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import type { FileMetaData } from "hyparquet";
import { AppendFile, tempName, writeFileDurably } from "../io/durable_file.ts";
import {
  decodeMegatronIndexHeader,
  MEGATRON_INDEX_PREFIX_BYTES,
  MegatronDType,
  writeMegatronIndexFromLengths,
} from "./megatron.ts";
import {
  BIN_HEADER_BYTES,
  BIN_INDEX_MAGIC,
  BIN_MASK_MAGIC,
  BIN_MASK_VERSION,
  BIN_TOKENS_MAGIC,
  BIN_TOKENS_VERSION,
  encodeBinHeader,
  encodeBinIndexHeader,
  patchFile,
} from "./bin_format.ts";
import { createWriter, outputFiles } from "./writers.ts";
import { fileAsyncBuffer, fileChunks, gunzip } from "./readers.ts";
import { shardOutputPath, shardTag } from "./shard.ts";
import { StatsCollector, type StatsSnapshot } from "../evals/stats.ts";
import { manifestsDisagree, readShardManifest, type ShardManifest } from "./shard_manifest.ts";

/** Formats `merge` handles. */
export type MergeFormat = "megatron" | "bin" | "jsonl" | "jsonl.gz" | "parquet";

const SUFFIXES = [
  ".shard.json",
  ".loss_mask.bin",
  ".loss_mask.idx",
  ".errors.jsonl",
  ".checkpoint.json",
  ".bin",
  ".idx",
  ".jsonl.gz",
  ".jsonl",
  ".parquet",
];

/**
 * Turns file names (as a shell glob gives them) or prefixes into unique prefixes, in order.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { prefixesOf } from "./merge.ts";
 * deepStrictEqual(prefixesOf(["a.shard-0.bin", "a.shard-0.idx", "a.shard-1.bin"]), ["a.shard-0", "a.shard-1"]);
 * ```
 */
export function prefixesOf(names: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const n of names) {
    if (n.endsWith(".tmp") || n.endsWith(".lock")) continue;
    let p = n;
    for (const s of SUFFIXES) {
      if (n.endsWith(s)) {
        p = n.slice(0, -s.length);
        break;
      }
    }
    if (!seen.has(p)) {
      seen.add(p);
      out.push(p);
    }
  }
  return out;
}

/**
 * Tells the format of the dataset at `prefix`: JSONL, gzip JSONL or Parquet by the file that
 * exists, else from its `.idx` magic.
 *
 * @throws {SyntaxError} when `PREFIX.idx` is neither a Megatron nor a `bin` index.
 *
 * @example
 * ```ts ignore
 * import { detectDatasetFormat } from "./merge.ts";
 * detectDatasetFormat("out/train"); // "megatron"
 * ```
 */
export function detectDatasetFormat(prefix: string): MergeFormat {
  if (existsSync(`${prefix}.jsonl`)) return "jsonl";
  if (existsSync(`${prefix}.jsonl.gz`)) return "jsonl.gz";
  if (existsSync(`${prefix}.parquet`)) return "parquet";
  const head = readRange(`${prefix}.idx`, 0, 9);
  if (head[0] === 0x4d && head[1] === 0x4d && head[2] === 0x49) return "megatron";
  if (BIN_INDEX_MAGIC.every((b, i) => head[i] === b)) return "bin";
  throw new SyntaxError(`Cannot merge ${prefix}: ${prefix}.idx is not a Megatron or bin index`);
}

const SHARD_TAG = /\.shard-(\d+)-of-(\d+)$/;

/**
 * Checks that the shard prefixes among `prefixes` (`BASE.shard-IIIII-of-NNNNN`) form whole sets:
 * for each `BASE`, one count `N` and every index `0..N-1` present. Prefixes without a shard tag
 * are not checked.
 *
 * @throws {RangeError} naming the first missing shard, or the two counts that disagree.
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { checkShardSet } from "./merge.ts";
 * checkShardSet(["t.shard-00000-of-00002", "t.shard-00001-of-00002"]);
 * throws(() => checkShardSet(["t.shard-00000-of-00002"]), /t\.shard-00001-of-00002 is missing/);
 * ```
 */
export function checkShardSet(prefixes: readonly string[]): void {
  const sets = new Map<string, { count: number; tag: string; seen: Set<number> }>();
  for (const p of prefixes) {
    const m = SHARD_TAG.exec(p);
    if (m === null) continue;
    const base = p.slice(0, m.index);
    const count = Number(m[2]);
    const set = sets.get(base) ?? { count, tag: p, seen: new Set<number>() };
    if (set.count !== count) {
      throw new RangeError(
        `Cannot merge ${p}: ${set.tag} is of ${set.count} shards, it of ${count}`,
      );
    }
    set.seen.add(Number(m[1]));
    sets.set(base, set);
  }
  for (const [base, set] of sets) {
    for (let i = 0; i < set.count; i++) {
      if (!set.seen.has(i)) {
        const missing = `${base}${shardTag({ index: i, count: set.count })}`;
        throw new RangeError(
          `Cannot merge: shard ${missing} is missing (${set.seen.size} of ${set.count} given)`,
        );
      }
    }
  }
}

/** Options of {@link mergeDatasets}. */
export interface MergeOptions {
  /**
   * Parquet: rows per row group when the inputs have no shard manifest saying it (unsharded
   * datasets); default the writer's.
   */
  rowGroupRows?: number;
}

/** What a merge did. */
export interface MergeSummary {
  /** The format merged. */
  format: MergeFormat;
  /** Datasets merged. */
  inputs: number;
  /** Records in the result. */
  records: number;
  /** Tokens in the result. */
  tokens: number;
  /** The files written. */
  files: string[];
}

/**
 * Merges the datasets at `prefixes` into `out` (files written under temporary names, then
 * renamed). Errors files (`PREFIX.errors.jsonl`) are concatenated too. Shards carry the settings
 * they were made with (`PREFIX.shard.json`, see `shard_manifest.ts`); shards made with other
 * settings, inputs, vocabulary or shard count, or given out of order, are refused.
 *
 * @throws {SyntaxError} on mixed formats or malformed inputs.
 * @throws {RangeError} when the shards' manifests disagree (naming the shard).
 * @example
 * ```ts ignore
 * import { mergeDatasets } from "./merge.ts";
 * await mergeDatasets(["out/t.shard-00000-of-00002", "out/t.shard-00001-of-00002"], "out/t");
 * ```
 */
export async function mergeDatasets(
  prefixes: readonly string[],
  out: string,
  options: MergeOptions = {},
): Promise<MergeSummary> {
  if (prefixes.length === 0) throw new RangeError("Cannot merge: no inputs");
  const format = detectDatasetFormat(prefixes[0]);
  for (const p of prefixes) {
    const f = detectDatasetFormat(p);
    if (f !== format) {
      throw new SyntaxError(`Cannot merge ${p}: it is ${f}, ${prefixes[0]} is ${format}`);
    }
  }
  for (const p of prefixes) {
    for (const side of [".checkpoint.json", ".lock"]) {
      if (existsSync(p + side)) {
        throw new SyntaxError(
          `Cannot merge ${p}: it is incomplete (${p}${side} exists: a run is writing it or was interrupted)`,
        );
      }
    }
  }
  const manifests = prefixes.map((p) => [p, readShardManifest(p)] as const);
  const why = manifestsDisagree(manifests);
  if (why !== undefined) throw new RangeError(`Cannot merge: ${why}`);
  for (const [p, m] of manifests) {
    const file = `${p}.${format}`;
    const sized = format === "jsonl" || format === "jsonl.gz";
    if (sized && m?.bytes !== undefined && statSync(file).size !== m.bytes) {
      fail(p, `${file} is ${statSync(file).size} bytes, its manifest says ${m.bytes}`);
    }
  }
  const summary = format === "megatron"
    ? mergeMegatron(prefixes, out)
    : format === "bin"
    ? mergeBin(prefixes, out)
    : format === "jsonl"
    ? mergeJsonl(prefixes, out)
    : format === "jsonl.gz"
    ? await mergeJsonlGz(prefixes, out, manifests[0][1]?.gzipMembers)
    : await mergeParquet(prefixes, out, manifests[0][1]?.rowGroupRows ?? options.rowGroupRows);
  const errors = prefixes.map((p) => `${p}.errors.jsonl`).filter((p) => existsSync(p));
  if (errors.length > 0) {
    const dst = `${out}.errors.jsonl`;
    const f = new AppendFile(tempName(dst));
    for (const e of errors) copyRange(e, 0, statSync(e).size, f);
    f.close();
    renameSync(tempName(dst), dst);
    summary.files.push(dst);
  }
  return summary;
}

function mergeMegatron(prefixes: readonly string[], out: string): MergeSummary {
  const files = outputFiles("megatron", out);
  const lengthsPath = `${out}.lengths.tmp`;
  const tok = new AppendFile(tempName(files[0]));
  const mask = new AppendFile(tempName(files[2]));
  const lengths = new AppendFile(lengthsPath);
  for (const p of prefixes) checkMegatron(p);
  let records = 0;
  let tokens = 0;
  try {
    for (const p of prefixes) {
      const idx = decodeMegatronIndexHeader(readRange(`${p}.idx`, 0, MEGATRON_INDEX_PREFIX_BYTES));
      const midx = decodeMegatronIndexHeader(
        readRange(`${p}.loss_mask.idx`, 0, MEGATRON_INDEX_PREFIX_BYTES),
      );
      if (idx.dtype !== MegatronDType.int32 || midx.dtype !== MegatronDType.uint8) {
        throw new SyntaxError(`Cannot merge ${p}: expected int32 tokens and uint8 loss masks`);
      }
      if (idx.documentCount !== idx.sequenceCount + 1 || midx.sequenceCount !== idx.sequenceCount) {
        throw new SyntaxError(`Cannot merge ${p}: tokens and loss masks disagree`);
      }
      const n = idx.sequenceCount;
      copyRange(`${p}.idx`, MEGATRON_INDEX_PREFIX_BYTES, n * 4, lengths);
      const binSize = statSync(`${p}.bin`).size;
      copyRange(`${p}.bin`, 0, binSize, tok);
      copyRange(`${p}.loss_mask.bin`, 0, statSync(`${p}.loss_mask.bin`).size, mask);
      records += n;
      tokens += binSize / 4;
    }
  } finally {
    tok.close();
    mask.close();
    lengths.close();
  }
  writeMegatronIndexFromLengths(tempName(files[1]), MegatronDType.int32, lengthsPath);
  writeMegatronIndexFromLengths(tempName(files[3]), MegatronDType.uint8, lengthsPath);
  rmSync(lengthsPath, { force: true });
  for (const f of files) renameSync(tempName(f), f);
  return { format: "megatron", inputs: prefixes.length, records, tokens, files };
}

function mergeBin(prefixes: readonly string[], out: string): MergeSummary {
  const files = outputFiles("bin", out);
  const tok = new AppendFile(tempName(files[0]));
  const mask = new AppendFile(tempName(files[1]));
  const idx = new AppendFile(tempName(files[2]));
  for (const p of prefixes) checkBin(p);
  let records = 0;
  let tokens = 0;
  try {
    tok.write(encodeBinHeader(BIN_TOKENS_MAGIC, BIN_TOKENS_VERSION, 0, 0));
    mask.write(encodeBinHeader(BIN_MASK_MAGIC, BIN_MASK_VERSION, 0, 0));
    idx.write(encodeBinIndexHeader(0));
    idx.writeArray(new BigUint64Array(1));
    const chunk = new BigUint64Array(1 << 16);
    for (const p of prefixes) {
      const head = readRange(`${p}.idx`, 0, 16);
      const n = Number(new DataView(head.buffer).getBigUint64(8, true));
      const ntok = statSync(`${p}.loss_mask.bin`).size - BIN_HEADER_BYTES;
      copyRange(`${p}.bin`, BIN_HEADER_BYTES, ntok * 4, tok);
      copyRange(`${p}.loss_mask.bin`, BIN_HEADER_BYTES, ntok, mask);
      // Offsets 1..n of this input, shifted by the tokens before it.
      const base = BigInt(tokens);
      for (let i = 0; i < n; i += chunk.length) {
        const count = Math.min(chunk.length, n - i);
        const bytes = readRange(`${p}.idx`, 16 + (i + 1) * 8, count * 8);
        const src = new BigUint64Array(bytes.buffer, bytes.byteOffset, count);
        for (let j = 0; j < count; j++) chunk[j] = src[j] + base;
        idx.writeArray(chunk.subarray(0, count));
      }
      records += n;
      tokens += ntok;
    }
  } finally {
    tok.close();
    mask.close();
    idx.close();
  }
  const [t, m, i] = files.map(tempName);
  patchFile(t, 0, encodeBinHeader(BIN_TOKENS_MAGIC, BIN_TOKENS_VERSION, tokens, records));
  patchFile(m, 0, encodeBinHeader(BIN_MASK_MAGIC, BIN_MASK_VERSION, tokens, records));
  patchFile(i, 0, encodeBinIndexHeader(records));
  for (const f of files) renameSync(tempName(f), f);
  return { format: "bin", inputs: prefixes.length, records, tokens, files };
}

function fail(p: string, what: string): never {
  throw new SyntaxError(`Cannot merge ${p}: it is truncated or inconsistent (${what})`);
}

// A Megatron dataset is whole when both indexes have the size their counts give
// (prefix + int32 sizes + int64 pointers + int64 document indices), agree on the sequence count,
// and the .bin files hold exactly the elements the sizes sum to (4 bytes per token, 1 per mask).
function checkMegatron(p: string): void {
  const size = (f: string) => statSync(f).size;
  const idx = decodeMegatronIndexHeader(readRange(`${p}.idx`, 0, MEGATRON_INDEX_PREFIX_BYTES));
  const midx = decodeMegatronIndexHeader(
    readRange(`${p}.loss_mask.idx`, 0, MEGATRON_INDEX_PREFIX_BYTES),
  );
  for (const [f, h] of [[`${p}.idx`, idx], [`${p}.loss_mask.idx`, midx]] as const) {
    const want = MEGATRON_INDEX_PREFIX_BYTES + 12 * h.sequenceCount + 8 * h.documentCount;
    if (size(f) !== want) fail(p, `${f} is ${size(f)} bytes, its counts need ${want}`);
  }
  if (midx.sequenceCount !== idx.sequenceCount) {
    fail(p, `${idx.sequenceCount} sequences, ${midx.sequenceCount} loss masks`);
  }
  let elements = 0;
  const n = idx.sequenceCount;
  for (let i = 0; i < n; i += 1 << 16) {
    const count = Math.min(1 << 16, n - i);
    const bytes = readRange(`${p}.idx`, MEGATRON_INDEX_PREFIX_BYTES + i * 4, count * 4);
    const lengths = new Int32Array(bytes.buffer, bytes.byteOffset, count);
    for (let j = 0; j < count; j++) elements += lengths[j];
  }
  if (size(`${p}.bin`) !== elements * 4) {
    fail(p, `${p}.bin is ${size(`${p}.bin`)} bytes, its index says ${elements * 4}`);
  }
  if (size(`${p}.loss_mask.bin`) !== elements) {
    fail(
      p,
      `${p}.loss_mask.bin is ${size(`${p}.loss_mask.bin`)} bytes, its index says ${elements}`,
    );
  }
}

// A bin dataset is whole when both headers and the index agree on records and tokens, the files
// have the sizes those give, and the index's last offset is the token count.
function checkBin(p: string): void {
  const size = (f: string) => statSync(f).size;
  const header = (f: string) => {
    const v = new DataView(readRange(f, 0, 32).buffer);
    return { tokens: Number(v.getBigUint64(16, true)), records: Number(v.getBigUint64(24, true)) };
  };
  const t = header(`${p}.bin`);
  const m = header(`${p}.loss_mask.bin`);
  const n = Number(new DataView(readRange(`${p}.idx`, 0, 16).buffer).getBigUint64(8, true));
  if (t.records !== n || m.records !== n || m.tokens !== t.tokens) {
    fail(p, `records ${t.records}/${m.records}/${n} and tokens ${t.tokens}/${m.tokens} disagree`);
  }
  const sizes: Array<[string, number]> = [
    [`${p}.bin`, BIN_HEADER_BYTES + 4 * t.tokens],
    [`${p}.loss_mask.bin`, BIN_HEADER_BYTES + t.tokens],
    [`${p}.idx`, 16 + 8 * (n + 1)],
  ];
  for (const [f, want] of sizes) {
    if (size(f) !== want) fail(p, `${f} is ${size(f)} bytes, its header needs ${want}`);
  }
  const last = new DataView(readRange(`${p}.idx`, 16 + 8 * n, 8).buffer).getBigUint64(0, true);
  if (Number(last) !== t.tokens) fail(p, `its last offset is ${last}, not ${t.tokens}`);
}

// JSONL outputs: one record per line, each line ending in "\n"; a file that does not end in
// "\n" was cut mid-record.
function mergeJsonl(prefixes: readonly string[], out: string): MergeSummary {
  const dst = `${out}.jsonl`;
  for (const p of prefixes) {
    const n = statSync(`${p}.jsonl`).size;
    if (n > 0 && readRange(`${p}.jsonl`, n - 1, 1)[0] !== 0x0a) {
      fail(p, `${p}.jsonl does not end with a newline`);
    }
  }
  const f = new AppendFile(tempName(dst));
  let records = 0;
  try {
    for (const p of prefixes) {
      const n = statSync(`${p}.jsonl`).size;
      copyRange(`${p}.jsonl`, 0, n, f, (chunk) => {
        for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) records++;
      });
    }
  } finally {
    f.close();
  }
  renameSync(tempName(dst), dst);
  return { format: "jsonl", inputs: prefixes.length, records, tokens: 0, files: [dst] };
}

function readRange(path: string, position: number, length: number): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const r = readSync(fd, out, done, length - done, position + done);
      if (r === 0) throw new SyntaxError(`Cannot merge: ${path} is shorter than its index says`);
      done += r;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

function copyRange(
  path: string,
  position: number,
  length: number,
  into: AppendFile,
  see?: (chunk: Uint8Array) => void,
): void {
  const fd = openSync(path, "r");
  const buf = new Uint8Array(1 << 20);
  try {
    let done = 0;
    while (done < length) {
      const r = readSync(fd, buf, 0, Math.min(buf.length, length - done), position + done);
      if (r === 0) throw new SyntaxError(`Cannot merge: ${path} is shorter than its index says`);
      see?.(buf.subarray(0, r));
      into.write(buf.subarray(0, r));
      done += r;
    }
  } finally {
    closeSync(fd);
  }
}

// gzip JSONL (parse-dataset): each shard decompressed as a stream and its lines written one by
// one, as parse-dataset writes them, through a gzip AppendFile (see the module doc). A shard that
// is not a whole gzip stream or does not end its last line is refused before anything is renamed.
async function mergeJsonlGz(
  prefixes: readonly string[],
  out: string,
  members: ShardManifest["gzipMembers"],
): Promise<MergeSummary> {
  const dst = `${out}.jsonl.gz`;
  const f = new AppendFile(tempName(dst), { gzip: true });
  let records = 0;
  // The unsharded run ends a member after every `checkpointEvery` records: before the line that
  // starts the next record (a line of sample k > 0 continues its record).
  let inputRecords = 0;
  const decoder = new TextDecoder();
  const write = (line: Uint8Array) => {
    if (members !== undefined) {
      const starts = !members.samples || !((JSON.parse(decoder.decode(line))?.sample ?? 0) > 0);
      if (starts) {
        if (inputRecords > 0 && inputRecords % members.checkpointEvery === 0) f.flush();
        inputRecords++;
      }
    }
    f.write(line);
  };
  try {
    for (const p of prefixes) {
      const src = `${p}.jsonl.gz`;
      let carry: Uint8Array[] = [];
      try {
        for await (const c of gunzip(fileChunks(src))) {
          let from = 0;
          for (let i = c.indexOf(0x0a); i >= 0; i = c.indexOf(0x0a, i + 1)) {
            const piece = c.subarray(from, i + 1);
            if (carry.length > 0) {
              carry.push(piece);
              write(concat(carry));
              carry = [];
            } else {
              write(piece);
            }
            records++;
            from = i + 1;
          }
          if (from < c.length) carry.push(c.slice(from));
        }
      } catch (e) {
        fail(p, `${src} is not a whole gzip stream: ${e instanceof Error ? e.message : e}`);
      }
      if (carry.length > 0) fail(p, `${src} does not end with a newline`);
    }
  } catch (e) {
    f.close();
    rmSync(tempName(dst), { force: true });
    throw e;
  }
  f.close();
  renameSync(tempName(dst), dst);
  return { format: "jsonl.gz", inputs: prefixes.length, records, tokens: 0, files: [dst] };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// Parquet (render-dataset): every shard's footer is read and checked first (a truncated file has
// none; the row groups must sum to the footer's row count, and all shards must have the columns
// the writer writes); then the rows are read one row group at a time and written again through
// the writer, which cuts row groups as an unsharded run does (see the module doc).
async function mergeParquet(
  prefixes: readonly string[],
  out: string,
  rowGroupRows: number | undefined,
): Promise<MergeSummary> {
  let maskColumn: string | undefined;
  for (const p of prefixes) {
    const m = await withParquet(p, (_, metadata) => Promise.resolve(metadata));
    const columns = m.schema.filter((e) => e.type !== undefined).length;
    const mask = m.schema[4]?.name;
    if (m.schema[1]?.name !== "input_ids" || columns !== 2 || mask === undefined) {
      fail(p, `${p}.parquet is not a render-dataset output (input_ids and a mask column)`);
    }
    if (maskColumn !== undefined && mask !== maskColumn) {
      fail(p, `its mask column is ${mask}, ${prefixes[0]}'s ${maskColumn}`);
    }
    maskColumn = mask;
    let rows = 0n;
    for (const g of m.row_groups) rows += BigInt(g.num_rows);
    if (rows !== BigInt(m.num_rows)) {
      fail(p, `${p}.parquet's row groups hold ${rows} rows, its footer says ${m.num_rows}`);
    }
  }
  const writer = createWriter("parquet", out, { rowGroupRows, maskColumn });
  let records = 0;
  let tokens = 0;
  try {
    for (const p of prefixes) {
      await withParquet(p, async (file, metadata) => {
        let rowStart = 0;
        for (let g = 0; g < metadata.row_groups.length; g++) {
          const n = Number(metadata.row_groups[g].num_rows);
          let rows: Record<string, unknown>[];
          try {
            rows = await parquetReadObjects({
              file,
              metadata,
              rowStart,
              rowEnd: rowStart + n,
            });
          } catch (e) {
            fail(p, `row group ${g} of ${p}.parquet cannot be read (${errorText(e)})`);
          }
          if (rows.length !== n) {
            fail(p, `row group ${g} of ${p}.parquet has ${rows.length} rows, not ${n}`);
          }
          for (const row of rows) {
            const ids = row.input_ids as ArrayLike<number>;
            const mask = row[maskColumn!] as ArrayLike<number>;
            if (ids.length !== mask.length) {
              fail(p, `a row of ${p}.parquet has ${ids.length} tokens, ${mask.length} mask values`);
            }
            writer.write(Uint32Array.from(ids), Uint8Array.from(mask));
            tokens += ids.length;
          }
          records += n;
          rowStart += n;
        }
      });
    }
  } catch (e) {
    writer.close();
    for (const f of writer.tempFiles) rmSync(f, { force: true });
    throw e;
  }
  writer.finish();
  return { format: "parquet", inputs: prefixes.length, records, tokens, files: [...writer.files] };
}

async function withParquet<T>(
  p: string,
  fn: (file: Awaited<ReturnType<typeof fileAsyncBuffer>>, metadata: FileMetaData) => Promise<T>,
): Promise<T> {
  const file = await fileAsyncBuffer(`${p}.parquet`);
  try {
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(file);
    } catch (e) {
      fail(p, `${p}.parquet has no readable footer (${errorText(e)})`);
    }
    return await fn(file, metadata);
  } finally {
    await file.close();
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The `--stats` files of the shards of a run (`shardOutputPath(file, i/n)`, in shard order).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { shardStatsFiles } from "./merge.ts";
 * deepStrictEqual(shardStatsFiles("s.json", 2), ["s.shard-00000-of-00002.json", "s.shard-00001-of-00002.json"]);
 * ```
 */
export function shardStatsFiles(file: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => shardOutputPath(file, { index, count }));
}

/** A `parse-dataset` stats file of a shard: the statistics and the collector's state. */
interface ParseStatsFile {
  snapshot?: StatsSnapshot;
  seconds: number;
  read: number;
  backend?: string;
}

/**
 * Combines the `--stats` files of a run's shards (in shard order) into the stats the unsharded
 * run writes, and writes them to `out` (durably). Both commands:
 * - `render-dataset`: every count is the sum of the shards' counts; the settings in the file
 *   (`analysis.policy`, `length.max_tokens`) must agree. The file has no timing fields: the
 *   merged file is the unsharded run's, byte for byte.
 * - `parse-dataset`: a shard's file carries its collector's state (`snapshot`, the
 *   representation `--resume` keeps); the states are combined ({@link StatsCollector.combine}),
 *   `read` summed, `shard` is `0/1`. Only the timing fields (`STATS_TIMING_FIELDS` of
 *   `stats.ts`) differ from the unsharded run's: `seconds` is the sum of the shards' seconds and
 *   the rates are the counts over it; `backend` is the shards' (joined when they differ).
 *
 * One input is returned as it is (without its `snapshot`).
 *
 * @throws {SyntaxError} naming the file that is missing, unreadable, of the other command, or
 * whose settings differ.
 * @example
 * ```ts ignore
 * import { mergeStatsFiles, shardStatsFiles } from "./merge.ts";
 * mergeStatsFiles(shardStatsFiles("stats.json", 4), "stats.json");
 * ```
 */
export function mergeStatsFiles(inputs: readonly string[], out: string): void {
  if (inputs.length === 0) throw new RangeError("Cannot merge stats: no inputs");
  const parts = inputs.map((f) => {
    if (!existsSync(f)) throw new SyntaxError(`Cannot merge stats: ${f} is missing`);
    try {
      return JSON.parse(readFileSync(f, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new SyntaxError(`Cannot merge stats: ${f} is not JSON (${errorText(e)})`);
    }
  });
  const render = (p: Record<string, unknown>) => typeof p.records === "object";
  for (let i = 1; i < parts.length; i++) {
    if (render(parts[i]) !== render(parts[0])) {
      throw new SyntaxError(
        `Cannot merge stats: ${inputs[i]} and ${inputs[0]} are of two commands`,
      );
    }
  }
  let merged: unknown;
  if (parts.length === 1) {
    const { snapshot: _, ...rest } = parts[0];
    merged = rest;
  } else if (render(parts[0])) {
    merged = parts.slice(1).reduce(
      (acc, p, i) => sumCounts(acc, p, inputs[i + 1], inputs[0], ""),
      parts[0] as unknown,
    );
  } else {
    const files = parts as unknown as ParseStatsFile[];
    files.forEach((p, i) => {
      if (p.snapshot === undefined) {
        throw new SyntaxError(
          `Cannot merge stats: ${
            inputs[i]
          } has no snapshot (a parse-dataset --shard stats file has one)`,
        );
      }
    });
    const collector = StatsCollector.combine(files.map((p) => p.snapshot!));
    let seconds = 0;
    let read = 0;
    for (const p of files) {
      seconds += p.seconds;
      read += p.read;
    }
    const stats: Record<string, unknown> = { ...collector.result(seconds, read, "0/1") };
    const backends = [...new Set(files.map((p) => p.backend).filter((b) => b !== undefined))];
    if (backends.length > 0) stats.backend = backends.join(", ");
    merged = stats;
  }
  writeFileDurably(out, JSON.stringify(merged, null, 2) + "\n");
}

// The fields of render-dataset's stats (`reportPolicies` in src/cli/record_policy_flags.ts)
// that hold settings, not counts.
const RENDER_STATS_SETTINGS = new Set(["analysis.policy", "length.max_tokens"]);

// render-dataset stats: counts add; settings (and any non-number) must be equal.
function sumCounts(a: unknown, b: unknown, file: string, ref: string, path: string): unknown {
  const setting = RENDER_STATS_SETTINGS.has(path);
  if (!setting && typeof a === "number" && typeof b === "number") return a + b;
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const out: Record<string, unknown> = {};
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) {
      out[k] = sumCounts(ao[k], bo[k], file, ref, path ? `${path}.${k}` : k);
    }
    return out;
  }
  if (a !== b) {
    throw new SyntaxError(
      `Cannot merge stats: ${file} has ${path} = ${JSON.stringify(b)}, ${ref} ${JSON.stringify(a)}`,
    );
  }
  return a;
}
