/**
 * Batched byte-pair encoding of pre-tokenized pieces on the GPU (`encode_pieces`, a prefix sum,
 * `compact_tokens`, `mark_offsets`), and the same computation on the CPU, which is the reference
 * the GPU must match and the fallback when the GPU fails mid-batch.
 *
 * @module
 */

import { BufferUsage, MapMode } from "./_flags.ts";
import { GpuBatchError } from "./errors.ts";
import { encodePiece } from "../tokenizer/bpe.ts";
import { TokenBuffer } from "../tokenizer/token_buffer.ts";
import type { Vocabulary } from "../tokenizer/vocabulary.ts";
import type { GpuContext } from "./context.ts";
import { KERNELS, MAX_GPU_PIECE_BYTES, recordScan } from "./kernels.ts";
import { buildVocabTables, NONE, vocabLookupParams, type VocabTables } from "./tables.ts";

/**
 * A batch of pieces over one text: piece i is `text[ends[i-1], ends[i])` (`ends[-1]` = 0).
 * Pieces with `presets[i] !== NONE` are not encoded: their tokens are
 * `presetTokens[presetOffsets[k], presetOffsets[k+1])` for `k = presets[i]` (long pieces encoded on
 * the CPU, special tokens). A preset must have at most as many tokens as its piece has bytes.
 */
export interface PieceBatch {
  /** UTF-8 text the pieces cover. */
  text: Uint8Array;
  /** Exclusive end offset of each piece (ascending). */
  ends: Uint32Array;
  /** Preset index of each piece, or {@link NONE}. */
  presets: Uint32Array;
  /** Offsets into `presetTokens` (one more than the number of presets). */
  presetOffsets: Uint32Array;
  /** Tokens of the presets. */
  presetTokens: Uint32Array;
  /** Piece indices (0..n) whose output token offset is wanted (n gives the total). */
  marks: Uint32Array;
  /**
   * The pieces longer than {@link MAX_GPU_PIECE_BYTES} with no preset, ascending, when the
   * planner knows them (it does: `src/gpu/encode_plan.ts`), so that the encoder need not look
   * at every piece to find them. Absent: the encoder looks.
   */
  long?: Uint32Array;
}

/** Batches whose token area is at most this many bytes are read back in one round trip. */
const SINGLE_READ_BYTES = 1 << 20;

/** The tokens of a {@link PieceBatch}: all pieces' tokens in order and the marks' offsets. */
export interface PieceBatchResult {
  /** Tokens of every piece, concatenated. */
  tokens: Uint32Array;
  /** Token offset of each mark (the number of tokens of the pieces before it). */
  markOffsets: Uint32Array;
}

/**
 * The CPU reference of {@link GpuPieceEncoder.run}: the same output, computed with the CPU
 * tokenizer's byte-pair encoding.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { encodePiecesCpu } from "./encoder.ts";
 * import { loadVocabulary } from "../tokenizer/vocabulary.ts";
 * const text = new TextEncoder().encode("hello world");
 * const r = encodePiecesCpu(await loadVocabulary(), {
 *   text, ends: new Uint32Array([5, 11]), presets: new Uint32Array([0xffffffff, 0xffffffff]),
 *   presetOffsets: new Uint32Array([0]), presetTokens: new Uint32Array(0), marks: new Uint32Array([2]),
 * });
 * deepStrictEqual(r.tokens, new Uint32Array([24912, 2375]));
 * ```
 */
export function encodePiecesCpu(vocab: Vocabulary, batch: PieceBatch): PieceBatchResult {
  const { text, ends, presets, presetOffsets, presetTokens, marks } = batch;
  const n = ends.length;
  const out = new TokenBuffer(Math.max(16, text.length >> 1));
  const at = new Uint32Array(n + 1);
  let s = 0;
  for (let i = 0; i < n; i++) {
    at[i] = out.length;
    const e = ends[i];
    const k = presets[i];
    if (k !== NONE) {
      for (let j = presetOffsets[k]; j < presetOffsets[k + 1]; j++) out.push(presetTokens[j]);
    } else if (e > s) {
      const r = vocab.rankOf(text, s, e);
      if (r >= 0) out.push(r);
      else encodePiece(vocab, text, s, e, out);
    }
    s = e;
  }
  at[n] = out.length;
  const markOffsets = new Uint32Array(marks.length);
  for (let j = 0; j < marks.length; j++) markOffsets[j] = at[marks[j]];
  return { tokens: out.toArray(), markOffsets };
}

/** Bytes of the largest storage binding a batch needs (to plan batches under the limits). *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { pieceBatchBindingBytes } from "./encoder.ts";
 * strictEqual(pieceBatchBindingBytes(1000, 250, 0, 0, 2), 4068);
 * ```
 */
export function pieceBatchBindingBytes(
  textBytes: number,
  pieces: number,
  presets: number,
  presetTokens: number,
  marks: number,
): number {
  const input = 4 * (Math.ceil(textBytes / 4) + 2 * pieces + presets + 1 + presetTokens + marks);
  return Math.max(input, 4 * (textBytes + 1), 4 * (pieces + 1)) + 64;
}

/**
 * Encodes piece batches on one GPU device. The vocabulary tables are uploaded once (about 15 MB
 * for o200k_base) and kept until {@link GpuPieceEncoder.destroy}.
 *
 * @example
 * ```ts
 * import { GpuPieceEncoder } from "./encoder.ts";
 * import { GpuContext } from "./context.ts";
 * import { findGpu } from "./runtime.ts";
 * import { loadVocabulary } from "../tokenizer/vocabulary.ts";
 * import { ok } from "node:assert/strict";
 * const gpu = await findGpu();
 * if (gpu) {
 *   const ctx = await GpuContext.create(gpu);
 *   const enc = new GpuPieceEncoder(ctx, await loadVocabulary());
 *   const text = new TextEncoder().encode("hello world");
 *   const r = await enc.run({
 *     text, ends: new Uint32Array([5, 11]), presets: new Uint32Array([0xffffffff, 0xffffffff]),
 *     presetOffsets: new Uint32Array([0]), presetTokens: new Uint32Array(0), marks: new Uint32Array([2]),
 *   });
 *   ok(r !== undefined);
 *   ctx.destroy();
 * }
 * ```
 */
export class GpuPieceEncoder {
  /** The context it runs on. */
  readonly ctx: GpuContext;
  /** The vocabulary tables (CPU copy). */
  readonly tables: VocabTables;
  #vocabBuffer: GPUBuffer | undefined;

  /** Builds (or reuses) the vocabulary tables; they are uploaded on first use. */
  constructor(ctx: GpuContext, vocab: Vocabulary) {
    this.ctx = ctx;
    this.tables = buildVocabTables(vocab);
    // The tables need one binding of the device's own limit (batches use the possibly capped one).
    const limit = ctx.device.limits.maxStorageBufferBindingSize;
    if (this.tables.words.byteLength > limit) {
      throw new RangeError(
        `Cannot upload the vocabulary tables: ${this.tables.words.byteLength} bytes exceed the ` +
          `storage binding limit of ${limit}`,
      );
    }
  }

  /** The vocabulary buffer (uploaded on first use). */
  vocabBuffer(): GPUBuffer {
    if (!this.#vocabBuffer) {
      const w = this.tables.words;
      const b = this.ctx.device.createBuffer({
        label: "vocabulary tables",
        size: w.byteLength,
        usage: BufferUsage.STORAGE | BufferUsage.COPY_DST,
      });
      this.ctx.write(b, w);
      this.#vocabBuffer = b;
    }
    return this.#vocabBuffer;
  }

  /**
   * Encodes one batch. Pieces must be at most {@link MAX_GPU_PIECE_BYTES} long unless preset.
   * The caller keeps each binding under the context's limits ({@link pieceBatchBindingBytes}).
   * Same as `submit(batch).result()`.
   *
   * @throws {GpuBatchError} when the GPU fails (the caller may redo the batch on the CPU).
   */
  run(batch: PieceBatch): Promise<PieceBatchResult> {
    return this.submit(batch).result();
  }

  /**
   * Uploads and submits one batch now, synchronously (one queue submission: the kernels and the
   * copy of the results into a mappable buffer), and returns the pending read-back. Several
   * batches may be in flight at once: each owns its pooled buffers until its read-back ends, and
   * its errors are caught by its own error scopes ({@link GpuContext.scoped}), so the host can
   * pack batch k+1 while the device runs batch k and batch k−1 is mapped.
   *
   * @throws {GpuBatchError} (also from {@link PendingPieces.result}) when the GPU fails.
   */
  submit(batch: PieceBatch): PendingPieces {
    const ctx = this.ctx;
    if (ctx.lost) throw new GpuBatchError(`Cannot run encode_pieces: ${ctx.lost}`);
    const release: GPUBuffer[] = [];
    const before = ctx.stats.dispatches, up0 = ctx.stats.bytesUploaded;
    try {
      const { value, errors } = ctx.scoped("encode_pieces", () => this.#record(batch, release));
      errors.catch(() => {}); // awaited by result()
      return new PendingPieces(ctx, value, errors, release, {
        dispatches: ctx.stats.dispatches - before,
        bytesMoved: ctx.stats.bytesUploaded - up0,
      });
    } catch (e) {
      for (const b of release) ctx.pool.release(b);
      throw e;
    }
  }

  /** Records the kernels and the read-back copy of one batch and submits them (synchronous). */
  #record(batch: PieceBatch, release: GPUBuffer[]): Recorded {
    const ctx = this.ctx, t = this.tables;
    const n = batch.ends.length, m = batch.marks.length;
    const textWords = Math.ceil(batch.text.length / 4);
    const endsBase = textWords, metaBase = endsBase + n, sideOffBase = metaBase + n;
    const sideTokBase = sideOffBase + batch.presetOffsets.length;
    const marksBase = sideTokBase + batch.presetTokens.length;
    const input = new Uint32Array(marksBase + m + 1);
    new Uint8Array(input.buffer, 0, batch.text.length).set(batch.text);
    input.set(batch.ends, endsBase);
    input.set(batch.presets, metaBase);
    input.set(batch.presetOffsets, sideOffBase);
    input.set(batch.presetTokens, sideTokBase);
    input.set(batch.marks, marksBase);
    const vocab = this.vocabBuffer();
    const inBuf = ctx.upload(input, "pieces input");
    release.push(inBuf);
    const slots = ctx.scratch(4 * Math.max(1, batch.text.length), "token slots");
    release.push(slots);
    const counts = ctx.scratch(4 * (n + 1), "piece counts");
    release.push(counts);
    const out = ctx.scratch(4 * Math.max(1, batch.text.length), "tokens");
    release.push(out);
    const marksOut = ctx.scratch(4 * Math.max(1, m), "mark offsets");
    release.push(marksOut);
    const p1 = ctx.params(KERNELS.encodePieces, {
      n_pieces: n,
      ends_base: endsBase,
      meta_base: metaBase,
      side_off_base: sideOffBase,
      side_tok_base: sideTokBase,
      ...vocabLookupParams(t),
    }, "encode params");
    release.push(p1);
    const p2 = ctx.params(
      KERNELS.compactTokens,
      { n_pieces: n, ends_base: endsBase },
      "compact params",
    );
    release.push(p2);
    const p3 = ctx.params(
      KERNELS.markOffsets,
      { n_marks: m, marks_base: marksBase },
      "mark params",
    );
    release.push(p3);
    // Small batches: the mark offsets and the token area's upper bound (one token per byte) are
    // copied in the same submission, so one mapping gives everything; large ones: the offsets
    // only, then exactly the tokens (less to move).
    const marksBytes = 4 * Math.max(1, m), tokenBytes = 4 * Math.max(1, batch.text.length);
    const single = tokenBytes <= SINGLE_READ_BYTES;
    const readSize = single ? marksBytes + tokenBytes : marksBytes;
    const read = ctx.pool.acquire(readSize, BufferUsage.MAP_READ | BufferUsage.COPY_DST, "read");
    release.push(read);
    const timing = ctx.submit("encode pieces", (pass) => {
      ctx.dispatch(pass, KERNELS.encodePieces, [inBuf, vocab, slots, counts, p1], n + 1);
      recordScan(ctx, pass, counts, n + 1, release);
      ctx.dispatch(pass, KERNELS.compactTokens, [inBuf, counts, slots, out, p2], n);
      ctx.dispatch(pass, KERNELS.markOffsets, [inBuf, counts, marksOut, p3], m);
    }, (encoder) => {
      encoder.copyBufferToBuffer(marksOut, 0, read, 0, marksBytes);
      if (single) encoder.copyBufferToBuffer(out, 0, read, marksBytes, tokenBytes);
    });
    return { read, readSize, marksBytes, marks: m, single, out, timing };
  }
  /** Frees the vocabulary buffer (the context stays). */
  destroy(): void {
    this.#vocabBuffer?.destroy();
    this.#vocabBuffer = undefined;
  }
}

/** What {@link GpuPieceEncoder.submit} recorded: where the results will be. */
interface Recorded {
  read: GPUBuffer;
  readSize: number;
  marksBytes: number;
  marks: number;
  single: boolean;
  out: GPUBuffer;
  timing: Promise<void> | undefined;
}

/**
 * A batch submitted by {@link GpuPieceEncoder.submit} whose results are not read back yet. Its
 * pooled buffers go back to the pool when {@link PendingPieces.result} settles.
 */
export class PendingPieces {
  readonly #ctx: GpuContext;
  readonly #rec: Recorded;
  readonly #errors: Promise<void>;
  readonly #release: GPUBuffer[];
  #result: Promise<PieceBatchResult> | undefined;
  /** Compute dispatches this batch recorded. */
  dispatches: number;
  /** Bytes this batch uploaded and (once read) read back. */
  bytesMoved: number;

  /** @internal Made by {@link GpuPieceEncoder.submit}. */
  constructor(
    ctx: GpuContext,
    rec: Recorded,
    errors: Promise<void>,
    release: GPUBuffer[],
    counts: { dispatches: number; bytesMoved: number },
  ) {
    this.#ctx = ctx;
    this.#rec = rec;
    this.#errors = errors;
    this.#release = release;
    this.dispatches = counts.dispatches;
    this.bytesMoved = counts.bytesMoved;
  }

  /**
   * Waits for the device and reads the tokens back (memoised: one read-back however often it is
   * called).
   *
   * @throws {GpuBatchError} when the GPU failed (error scope, lost device, failed mapping).
   */
  result(): Promise<PieceBatchResult> {
    return this.#result ??= this.#read();
  }

  async #read(): Promise<PieceBatchResult> {
    const ctx = this.#ctx, r = this.#rec;
    try {
      ctx.stats.readBacks++;
      await Promise.all([r.read.mapAsync(MapMode.READ, 0, r.readSize), this.#errors, r.timing]);
      const mapped = r.read.getMappedRange(0, r.readSize);
      const markOffsets = new Uint32Array(mapped.slice(0, 4 * r.marks));
      let total = 0;
      for (let j = 0; j < r.marks; j++) if (markOffsets[j] > total) total = markOffsets[j];
      let tokens: Uint32Array;
      if (r.single) {
        tokens = new Uint32Array(mapped.slice(r.marksBytes, r.marksBytes + 4 * total));
        r.read.unmap();
      } else {
        r.read.unmap();
        tokens = total > 0
          ? new Uint32Array(await ctx.readBack(r.out, 0, 4 * total, "tokens read"))
          : new Uint32Array(0);
        this.bytesMoved += 4 * total;
      }
      ctx.stats.bytesDownloaded += r.readSize;
      this.bytesMoved += r.readSize;
      return { tokens, markOffsets };
    } catch (e) {
      if (e instanceof GpuBatchError) throw e;
      throw new GpuBatchError(
        `Cannot run encode_pieces: ${ctx.lost ?? (e instanceof Error ? e.message : String(e))}`,
        { cause: e },
      );
    } finally {
      ctx.releaseBuffers(this.#release);
    }
  }
}

export { MAX_GPU_PIECE_BYTES, NONE };
