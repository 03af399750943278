/**
 * Dataset writers: one record (tokens + loss mask) at a time, into temporary files that are
 * renamed to their final names only after {@link DatasetWriter.finish} (which returns the renames,
 * so the pipeline can journal them). Every writer can report a
 * checkpoint (its files' byte lengths, plus row-group metadata for Parquet) and be reopened at one,
 * which is how `--resume` drops the partial tail of an interrupted run.
 *
 * | format | files |
 * | --- | --- |
 * | `megatron` | `PREFIX.bin`/`.idx` (int32 tokens), `PREFIX.loss_mask.bin`/`.idx` (uint8) |
 * | `jsonl` | `PREFIX.jsonl`: `{"input_ids": [...], "loss_mask": [...]}` per line |
 * | `parquet` | `PREFIX.parquet`: `input_ids` list<int32>, `loss_mask` list<int8> |
 * | `bin` | `PREFIX.bin` (u32), `PREFIX.loss_mask.bin` (u8), `PREFIX.idx` (see `bin_format.ts`) |
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { renameSync, rmSync } from "node:fs";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { AppendFile, syncFile, tempName } from "../io/durable_file.ts";
import { MegatronDType, writeMegatronIndexFromLengths } from "./megatron.ts";
import {
  BIN_HEADER_BYTES,
  BIN_MASK_MAGIC,
  BIN_MASK_VERSION,
  BIN_TOKENS_MAGIC,
  BIN_TOKENS_VERSION,
  encodeBinHeader,
  encodeBinIndexHeader,
  patchFile,
} from "./bin_format.ts";

/** The output formats of `render-dataset`. */
export const OUTPUT_FORMATS = ["megatron", "jsonl", "parquet", "bin"] as const;

/** One of {@link OUTPUT_FORMATS}. */
export type OutputFormat = typeof OUTPUT_FORMATS[number];

/** What a writer needs to continue from a checkpoint. JSON-serializable. */
export interface WriterState {
  /** Byte lengths of the writer's temporary files, in the writer's own order. */
  lengths: number[];
  /** Format-specific state (Parquet: the row groups written so far). */
  extra?: unknown;
}

/** What remains after {@link DatasetWriter.finish}: renames to do, then files to remove. */
export interface FinishPlan {
  /** Temporary → final name, in order. */
  renames: Array<{ from: string; to: string }>;
  /** Scratch files to remove once the renames are durable. */
  remove: string[];
}

/** A dataset writer. */
export interface DatasetWriter {
  /** The final paths of the files this writer produces. */
  readonly files: readonly string[];
  /** The temporary files the writer appends to, in the order of {@link WriterState.lengths}. */
  readonly tempFiles: readonly string[];
  /** Per temporary file: leading bytes that `finish` rewrites in place (headers), else 0. */
  readonly rewrittenHead: readonly number[];
  /** Appends one record. `mask` has one 0/1 byte per token. */
  write(tokens: Uint32Array, mask: Uint8Array): void;
  /**
   * Flushes buffered bytes to the temporary files, fsyncs them and returns the state to resume
   * from. Parquet keeps its rows not yet in a row group in the state (row groups are cut by rows
   * and tokens only, never at checkpoints).
   */
  checkpoint(): WriterState;
  /**
   * Writes indexes/footers into temporary files, fsyncs and closes them; returns the renames that
   * publish them. Repeatable from a writer reopened at a checkpoint taken after the last record.
   */
  prepareFinish(): FinishPlan;
  /** {@link DatasetWriter.prepareFinish}, then the renames and removals (unjournaled). */
  finish(): void;
  /** Closes the files, leaving the temporary files as they are (for a later `--resume`). */
  close(): void;
}

/** Parquet: rows per row group unless {@link CreateWriterOptions.rowGroupRows} says otherwise. */
export const PARQUET_ROW_GROUP_ROWS = 4096;

/** Parquet: a row group is cut once its rows hold this many tokens (unless told otherwise). */
export const PARQUET_ROW_GROUP_TOKENS = 4 << 20;

/** Options of {@link createWriter}. */
export interface CreateWriterOptions {
  /** Reopen the temporary files at this checkpoint instead of creating them. */
  resume?: WriterState;
  /** Parquet: rows per row group (default 4096); also bounded by `rowGroupTokens`. */
  rowGroupRows?: number;
  /** Parquet: a row group is written once its rows hold this many tokens (default 4 Mi). */
  rowGroupTokens?: number;
  /**
   * JSONL and Parquet: name of the mask column (default `loss_mask`; `assistant_masks` is the
   * column TRL's SFT collator applies).
   */
  maskColumn?: string;
}

/**
 * The final file names a format produces for `prefix`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { outputFiles } from "./writers.ts";
 * deepStrictEqual(outputFiles("jsonl", "out/train"), ["out/train.jsonl"]);
 * ```
 */
export function outputFiles(format: OutputFormat, prefix: string): string[] {
  switch (format) {
    case "megatron":
      return [
        `${prefix}.bin`,
        `${prefix}.idx`,
        `${prefix}.loss_mask.bin`,
        `${prefix}.loss_mask.idx`,
      ];
    case "jsonl":
      return [`${prefix}.jsonl`];
    case "parquet":
      return [`${prefix}.parquet`];
    case "bin":
      return [`${prefix}.bin`, `${prefix}.loss_mask.bin`, `${prefix}.idx`];
  }
}

/**
 * Creates (or, with `resume`, reopens) a writer for `format` at `prefix`.
 *
 * @example
 * ```ts ignore
 * import { createWriter } from "./writers.ts";
 * const w = createWriter("megatron", "/tmp/out/train");
 * w.write(Uint32Array.of(1, 2, 3), Uint8Array.of(0, 1, 1));
 * w.finish(); // /tmp/out/train.bin, .idx, .loss_mask.bin, .loss_mask.idx
 * ```
 */
export function createWriter(
  format: OutputFormat,
  prefix: string,
  options: CreateWriterOptions = {},
): DatasetWriter {
  switch (format) {
    case "megatron":
      return new MegatronWriter(prefix, options.resume);
    case "jsonl":
      return new JsonlWriter(prefix, options.resume, options.maskColumn);
    case "bin":
      return new BinWriter(prefix, options.resume);
    case "parquet":
      return new ParquetDatasetWriter(prefix, options);
  }
}

export { tempName };

function openAll(paths: string[], resume: WriterState | undefined): AppendFile[] {
  if (resume && resume.lengths.length !== paths.length) {
    throw new RangeError(
      `Cannot resume: checkpoint has ${resume.lengths.length} files, writer has ${paths.length}`,
    );
  }
  return paths.map((p, i) => new AppendFile(p, { truncateTo: resume?.lengths[i] }));
}

function syncAll(files: readonly AppendFile[]): number[] {
  for (const f of files) f.sync();
  return files.map((f) => f.length);
}

function applyPlan(plan: FinishPlan): void {
  for (const r of plan.renames) renameSync(r.from, r.to);
  for (const f of plan.remove) rmSync(f, { force: true });
}

function publish(files: readonly string[], remove: string[] = []): FinishPlan {
  for (const f of files) syncFile(tempName(f));
  return { renames: files.map((f) => ({ from: tempName(f), to: f })), remove };
}

class MegatronWriter implements DatasetWriter {
  readonly files: readonly string[];
  readonly tempFiles: readonly string[];
  readonly rewrittenHead = [0, 0, 0];
  #tokens: AppendFile;
  #mask: AppendFile;
  #lengths: AppendFile;
  #lenBuf = new Uint32Array(1);

  constructor(prefix: string, resume?: WriterState) {
    this.files = outputFiles("megatron", prefix);
    this.tempFiles = [tempName(this.files[0]), tempName(this.files[2]), `${prefix}.lengths.tmp`];
    [this.#tokens, this.#mask, this.#lengths] = openAll([...this.tempFiles], resume);
  }

  write(tokens: Uint32Array, mask: Uint8Array): void {
    // u32 ids < 2^31 have the same bytes as int32.
    this.#tokens.writeArray(tokens);
    this.#mask.writeArray(mask);
    this.#lenBuf[0] = tokens.length;
    this.#lengths.writeArray(this.#lenBuf);
  }

  checkpoint(): WriterState {
    return { lengths: syncAll([this.#tokens, this.#mask, this.#lengths]) };
  }

  finish(): void {
    applyPlan(this.prepareFinish());
  }

  prepareFinish(): FinishPlan {
    this.close();
    const lengths = this.#lengths.path;
    writeMegatronIndexFromLengths(tempName(this.files[1]), MegatronDType.int32, lengths);
    writeMegatronIndexFromLengths(tempName(this.files[3]), MegatronDType.uint8, lengths);
    return publish(this.files, [lengths]);
  }

  close(): void {
    this.#tokens.close();
    this.#mask.close();
    this.#lengths.close();
  }
}

class BinWriter implements DatasetWriter {
  readonly files: readonly string[];
  readonly tempFiles: readonly string[];
  readonly rewrittenHead = [BIN_HEADER_BYTES, BIN_HEADER_BYTES, 16];
  #tokens: AppendFile;
  #mask: AppendFile;
  #index: AppendFile;
  #off = new BigUint64Array(1);
  #total = 0;
  #records = 0;

  constructor(prefix: string, resume?: WriterState) {
    this.files = outputFiles("bin", prefix);
    this.tempFiles = this.files.map(tempName);
    [this.#tokens, this.#mask, this.#index] = openAll([...this.tempFiles], resume);
    if (resume) {
      this.#total = this.#mask.length - BIN_HEADER_BYTES;
      this.#records = (this.#index.length - 16) / 8 - 1;
    } else {
      this.#tokens.write(encodeBinHeader(BIN_TOKENS_MAGIC, BIN_TOKENS_VERSION, 0, 0));
      this.#mask.write(encodeBinHeader(BIN_MASK_MAGIC, BIN_MASK_VERSION, 0, 0));
      this.#index.write(encodeBinIndexHeader(0));
      this.#index.writeArray(this.#off);
    }
  }

  write(tokens: Uint32Array, mask: Uint8Array): void {
    this.#tokens.writeArray(tokens);
    this.#mask.writeArray(mask);
    this.#total += tokens.length;
    this.#records++;
    this.#off[0] = BigInt(this.#total);
    this.#index.writeArray(this.#off);
  }

  checkpoint(): WriterState {
    return { lengths: syncAll([this.#tokens, this.#mask, this.#index]) };
  }

  finish(): void {
    applyPlan(this.prepareFinish());
  }

  prepareFinish(): FinishPlan {
    this.close();
    const [tok, mask, idx] = this.files.map(tempName);
    patchFile(
      tok,
      0,
      encodeBinHeader(BIN_TOKENS_MAGIC, BIN_TOKENS_VERSION, this.#total, this.#records),
    );
    patchFile(
      mask,
      0,
      encodeBinHeader(BIN_MASK_MAGIC, BIN_MASK_VERSION, this.#total, this.#records),
    );
    patchFile(idx, 0, encodeBinIndexHeader(this.#records));
    return publish(this.files);
  }

  close(): void {
    this.#tokens.close();
    this.#mask.close();
    this.#index.close();
  }
}

class JsonlWriter implements DatasetWriter {
  readonly files: readonly string[];
  readonly tempFiles: readonly string[];
  readonly rewrittenHead = [0];
  #out: AppendFile;

  #maskKey: string;

  constructor(prefix: string, resume?: WriterState, maskColumn = "loss_mask") {
    this.#maskKey = JSON.stringify(maskColumn);
    this.files = outputFiles("jsonl", prefix);
    this.tempFiles = [tempName(this.files[0])];
    [this.#out] = openAll([...this.tempFiles], resume);
  }

  write(tokens: Uint32Array, mask: Uint8Array): void {
    this.#out.writeText(
      `{"input_ids":[${tokens.join(",")}],${this.#maskKey}:[${mask.join(",")}]}\n`,
    );
  }

  checkpoint(): WriterState {
    return { lengths: syncAll([this.#out]) };
  }

  finish(): void {
    applyPlan(this.prepareFinish());
  }

  prepareFinish(): FinishPlan {
    this.close();
    return publish(this.files);
  }

  close(): void {
    this.#out.close();
  }
}

// Parquet schema: two REQUIRED three-level LIST columns (the layout pyarrow writes and HF
// datasets reads as Sequence(int32) / Sequence(int8)).
const PARQUET_SCHEMA = [
  { name: "root", num_children: 2 },
  { name: "input_ids", repetition_type: "REQUIRED", converted_type: "LIST", num_children: 1 },
  { name: "list", repetition_type: "REPEATED", num_children: 1 },
  { name: "element", type: "INT32", repetition_type: "REQUIRED" },
  { name: "loss_mask", repetition_type: "REQUIRED", converted_type: "LIST", num_children: 1 },
  { name: "list", repetition_type: "REPEATED", num_children: 1 },
  { name: "element", type: "INT32", converted_type: "INT_8", repetition_type: "REQUIRED" },
] as const;

function parquetSchema(maskColumn: string) {
  const schema = PARQUET_SCHEMA.map((e) => e.name === "loss_mask" ? { ...e, name: maskColumn } : e);
  // deno-lint-ignore no-explicit-any
  return schema as any;
}

// JSON cannot hold bigints: row-group metadata is saved with bigints as {"$big": "123"}.
function toJsonSafe(value: unknown): unknown {
  if (typeof value === "bigint") return { $big: value.toString() };
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (value instanceof Uint8Array) return { $bytes: [...value] };
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJsonSafe(v);
    return out;
  }
  return value;
}

function fromJsonSafe(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonSafe);
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (typeof o.$big === "string") return BigInt(o.$big);
    if (Array.isArray(o.$bytes)) return Uint8Array.from(o.$bytes as number[]);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = fromJsonSafe(v);
    return out;
  }
  return value;
}

// Rows written since the last row group, as base64 of little-endian arrays: each row's length
// (u32), the tokens (u32) and the mask bytes (u8), rows one after another.
interface PendingRows {
  lengths: string;
  ids: string;
  masks: string;
}

interface ParquetInternals {
  row_groups: unknown[];
  num_rows: bigint;
}

class ParquetDatasetWriter implements DatasetWriter {
  readonly files: readonly string[];
  readonly tempFiles: readonly string[];
  readonly rewrittenHead = [0];
  #file: AppendFile;
  #pw: ParquetWriter;
  #ids: number[][] = [];
  #masks: number[][] = [];
  #bufferedTokens = 0;
  #rows: number;
  #tokensLimit: number;
  #maskColumn: string;

  constructor(prefix: string, options: CreateWriterOptions) {
    this.#maskColumn = options.maskColumn ?? "loss_mask";
    this.files = outputFiles("parquet", prefix);
    this.#rows = options.rowGroupRows ?? PARQUET_ROW_GROUP_ROWS;
    this.#tokensLimit = options.rowGroupTokens ?? PARQUET_ROW_GROUP_TOKENS;
    const resume = options.resume;
    this.tempFiles = [tempName(this.files[0])];
    [this.#file] = openAll([...this.tempFiles], resume);
    const bytes = new ByteWriter();
    const file = this.#file;
    // Row groups go straight to the file; only the footer metadata stays in memory.
    const flush = () => {
      file.write(new Uint8Array(bytes.buffer, 0, bytes.index));
      file.flush();
      bytes.index = 0;
    };
    Object.assign(bytes, { flush, finish: flush });
    this.#pw = new ParquetWriter({
      writer: bytes,
      schema: parquetSchema(this.#maskColumn),
      statistics: false,
    });
    if (resume) {
      // The constructor buffered the leading "PAR1", which the file already has.
      bytes.index = 0;
      bytes.offset = this.#file.length;
      const saved = fromJsonSafe(resume.extra) as ParquetInternals & { pending?: PendingRows };
      const pw = this.#pw as unknown as ParquetInternals;
      pw.row_groups = saved.row_groups;
      pw.num_rows = saved.num_rows;
      if (saved.pending !== undefined) this.#restorePending(saved.pending);
    } else {
      flush();
    }
  }

  write(tokens: Uint32Array, mask: Uint8Array): void {
    this.#ids.push(Array.from(tokens));
    this.#masks.push(Array.from(mask));
    this.#bufferedTokens += tokens.length;
    if (this.#ids.length >= this.#rows || this.#bufferedTokens >= this.#tokensLimit) {
      this.#writeGroup();
    }
  }

  #writeGroup(): void {
    if (this.#ids.length === 0) return;
    const n = this.#ids.length;
    const r = this.#pw.write({
      columnData: [
        { name: "input_ids", data: this.#ids, offsetIndex: false },
        { name: this.#maskColumn, data: this.#masks, offsetIndex: false },
      ],
      rowGroupSize: n,
    });
    if (r) throw new TypeError("Cannot write Parquet: the writer went asynchronous");
    this.#ids = [];
    this.#masks = [];
    this.#bufferedTokens = 0;
  }

  // The rows not yet in a row group ride in the checkpoint instead of being cut into a row group
  // of their own: row groups are cut only by rows and tokens, so a file's row groups do not
  // depend on where checkpoints fell (and `merge` of shards can cut them as one run does).
  checkpoint(): WriterState {
    const pw = this.#pw as unknown as ParquetInternals;
    return {
      lengths: syncAll([this.#file]),
      extra: {
        ...toJsonSafe({ row_groups: pw.row_groups, num_rows: pw.num_rows }) as object,
        ...(this.#ids.length > 0 ? { pending: this.#pendingRows() } : {}),
      },
    };
  }

  #pendingRows(): PendingRows {
    const lengths = Uint32Array.from(this.#ids, (r) => r.length);
    const ids = new Uint32Array(this.#bufferedTokens);
    const masks = new Uint8Array(this.#bufferedTokens);
    let at = 0;
    for (let i = 0; i < this.#ids.length; i++) {
      ids.set(this.#ids[i], at);
      masks.set(this.#masks[i], at);
      at += this.#ids[i].length;
    }
    const b64 = (a: ArrayBufferView) =>
      Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
    return { lengths: b64(lengths), ids: b64(ids), masks: b64(masks) };
  }

  #restorePending(p: PendingRows): void {
    const bytes = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
    const lengths = new Uint32Array(bytes(p.lengths).slice().buffer);
    const ids = new Uint32Array(bytes(p.ids).slice().buffer);
    const masks = bytes(p.masks);
    let at = 0;
    for (const n of lengths) {
      this.#ids.push(Array.from(ids.subarray(at, at + n)));
      this.#masks.push(Array.from(masks.subarray(at, at + n)));
      at += n;
    }
    this.#bufferedTokens = at;
  }

  finish(): void {
    applyPlan(this.prepareFinish());
  }

  prepareFinish(): FinishPlan {
    this.#writeGroup();
    const r = this.#pw.finish();
    if (r) throw new TypeError("Cannot write Parquet: the writer went asynchronous");
    this.close();
    return publish(this.files);
  }

  close(): void {
    this.#file.close();
  }
}
