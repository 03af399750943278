/**
 * The GPU backend: batched encoding and token-stream scanning on a WebGPU device, token for token
 * identical to the CPU backend.
 *
 * Encoding a batch: the texts are packed into one UTF-8 buffer; special-token literals are found
 * on the GPU (when any special token is allowed or disallowed) and resolved on the host; the GPU
 * pre-tokenizes the text into pieces (`src/gpu/pretokenize.ts`, parallel over split points);
 * pieces longer than {@link MAX_LONG_GPU_PIECE_BYTES} are encoded on the CPU right away and passed
 * to the GPU as presets, like special tokens; pieces of {@link MAX_GPU_PIECE_BYTES} to that many
 * bytes are merged on the GPU first, one workgroup per piece (`src/gpu/long_pieces.ts`), and
 * become presets too; the GPU encodes the other pieces, prefix-sums the counts and
 * compacts the tokens so each text's tokens are contiguous. A batch that fits one chunk does all
 * of that in one submission (`src/gpu/fused.ts`, long pieces included). Batches above the storage-binding
 * limit are split into chunks at piece boundaries. A GPU failure mid-batch (device lost,
 * validation or memory error) finishes the chunk on the CPU, with the same output, and warns once;
 * a lost device sends every later chunk to the CPU.
 *
 * Pipelining: each chunk is one queue submission (kernels plus the copy into a pooled mappable
 * buffer, `GpuPieceEncoder.submit`) whose read-back is awaited separately, with at most
 * {@link MAX_IN_FLIGHT} chunks in flight over all batches. Batches may overlap (the dataset
 * pipelines start batch k+1 before awaiting batch k), so the host packs and pre-tokenizes one
 * batch while the device runs the previous one and the one before is mapped. Error scopes of a
 * chunk are pushed and popped synchronously around its submission (`GpuContext.scoped`), so
 * overlapping chunks never see each other's errors; the guarded scans run one at a time.
 *
 * @module
 */

import type { Role } from "../chat/role.ts";
import { GpuContext } from "../gpu/context.ts";
import { encodeWithPlan } from "../gpu/encode_plan.ts";
import {
  encodePiecesCpu,
  GpuPieceEncoder,
  type PendingPieces,
  type PieceBatch,
  type PieceBatchResult,
} from "../gpu/encoder.ts";
import { GpuBatchError } from "../gpu/errors.ts";
import { encodeFusedCpu, type FusedJob, type FusedResult, GpuFusedEncoder } from "../gpu/fused.ts";
import { GpuLongPieceEncoder } from "../gpu/long_pieces.ts";
import { GpuPretokenizer, pretokenizeCpu } from "../gpu/pretokenize.ts";
import { NONE } from "../gpu/tables.ts";
import { encodePiece } from "../tokenizer/bpe.ts";
import { TokenBuffer } from "../tokenizer/token_buffer.ts";
import { MAX_GPU_PIECE_BYTES } from "../gpu/kernels.ts";
import { findSpecialsCpu, GpuSpecialScanner } from "../gpu/special_scan.ts";
import { buildSpecialTables } from "../gpu/tables.ts";
import { GpuTokenScanner, scanTokensCpu, type TokenScan } from "../gpu/token_scan.ts";
import { loadTokenizer } from "../tokenizer/mod.ts";
import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
import type { EncodeOptions, Tokenizer } from "../tokenizer/types.ts";
import { loadVocabulary, type Vocabulary } from "../tokenizer/vocabulary.ts";
import {
  type Backend,
  type BatchStats,
  EncodedBatch,
  type ParseBatchOptions,
  type ParsedCompletion,
} from "./backend.ts";
import { parseBatchCpu } from "./cpu_backend.ts";
import { buildMessageTable, tableMessages } from "./message_table.ts";

export { MAX_GPU_PIECE_BYTES };

/**
 * Most piece chunks of one backend submitted to the device and not yet read back: one being read
 * back, one running, one queued behind it. More would only hold more pooled buffers.
 */
export const MAX_IN_FLIGHT = 3;

/**
 * Pieces up to this many bytes are merged on the GPU (over {@link MAX_GPU_PIECE_BYTES}, by one
 * workgroup each: `merge_long.wgsl`); longer ones are encoded on the host while planning (one
 * merge per round costs O(n) per round on the device, which loses to the CPU's heap there).
 */
export const MAX_LONG_GPU_PIECE_BYTES = 4096;

/** Whether a chunk has pieces over the per-thread limit that are not preset. */
function hasLongPieces(batch: PieceBatch): boolean {
  if (batch.long) return batch.long.length > 0;
  const { ends, presets } = batch;
  for (let i = 0, s = 0; i < ends.length; s = ends[i++]) {
    if (presets[i] === NONE && ends[i] - s > MAX_GPU_PIECE_BYTES) return true;
  }
  return false;
}

/** Options of {@link GpuBackend.create}. */
export interface GpuBackendOptions {
  /** Receives warnings (a GPU failure finished on the CPU). Default: `console.warn`. */
  onWarning?: (message: string) => void;
  /**
   * Merge pieces of {@link MAX_GPU_PIECE_BYTES} to {@link MAX_LONG_GPU_PIECE_BYTES} bytes on the
   * GPU (`merge_long`). Default: on hardware adapters only — on a software adapter the "device"
   * is the same CPU, and one merge per round with workgroup barriers is about 100× slower there
   * than the host's heap merge (measured on llvmpipe: 1,768 Japanese pieces, 6–9 s against 60–200 ms).
   */
  longPiecesOnGpu?: boolean;
}

/**
 * The GPU backend.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { GpuBackend } from "./gpu_backend.ts";
 * import { GpuContext } from "../gpu/context.ts";
 * import { findGpu } from "../gpu/runtime.ts";
 * const gpu = await findGpu();
 * if (gpu) {
 *   const backend = await GpuBackend.create(await GpuContext.create(gpu));
 *   deepStrictEqual((await backend.encodeBatch(["hello world"])).get(0), new Uint32Array([24912, 2375]));
 *   backend.destroy();
 * }
 * ```
 */
export class GpuBackend implements Backend {
  /** Always `gpu`. */
  readonly kind = "gpu" as const;
  /** The GPU context (owned: destroyed with the backend). */
  readonly ctx: GpuContext;
  /** The CPU tokenizer (for the CPU parts and the fallback). */
  readonly tokenizer: Tokenizer;
  /** The ordinary vocabulary. */
  readonly vocab: Vocabulary;
  readonly #encoder: GpuPieceEncoder;
  readonly #long: GpuLongPieceEncoder;
  readonly #maxHostPiece: number;
  readonly #specials: GpuSpecialScanner;
  readonly #pretokenizer: GpuPretokenizer;
  readonly #scanner: GpuTokenScanner;
  readonly #fused: GpuFusedEncoder;
  readonly #warn: (message: string) => void;
  #warned = false;
  #gpuBroken = false;
  /** The tail of the guarded jobs' queue (see `#serial`). */
  #lane: Promise<unknown> = Promise.resolve();
  /** Chunks submitted and not yet read back, and the chunks waiting for a slot. */
  #inFlight = 0;
  #waiting: Array<() => void> = [];
  #stats: BatchStats;
  #maxTokenBytes: number;

  private constructor(
    ctx: GpuContext,
    tokenizer: Tokenizer,
    vocab: Vocabulary,
    options: GpuBackendOptions,
  ) {
    this.ctx = ctx;
    this.tokenizer = tokenizer;
    this.vocab = vocab;
    this.#encoder = new GpuPieceEncoder(ctx, vocab);
    this.#long = new GpuLongPieceEncoder(this.#encoder);
    this.#maxHostPiece = (options.longPiecesOnGpu ?? !ctx.adapter.software)
      ? MAX_LONG_GPU_PIECE_BYTES
      : MAX_GPU_PIECE_BYTES;
    this.#specials = new GpuSpecialScanner(ctx, buildSpecialTables(harmonySpecialTokens()));
    this.#pretokenizer = new GpuPretokenizer(ctx);
    this.#scanner = new GpuTokenScanner(ctx, this.#encoder, this.#specials);
    this.#fused = new GpuFusedEncoder(this.#encoder, this.#pretokenizer, this.#specials);
    this.#warn = options.onWarning ?? ((m) => console.warn(m));
    this.#stats = this.#newStats(0);
    let max = this.#specials.tables.maxLength;
    for (let r = 0; r < vocab.size; r++) {
      max = Math.max(max, vocab.offsets[r + 1] - vocab.offsets[r]);
    }
    this.#maxTokenBytes = max;
  }

  /**
   * A GPU backend on `ctx` (which it owns from then on). Builds the vocabulary tables (about
   * 200 ms, once per process) and uploads them on first use.
   *
   * @throws {RangeError} when the vocabulary cannot be encoded on the GPU.
   */
  static async create(ctx: GpuContext, options: GpuBackendOptions = {}): Promise<GpuBackend> {
    const [tokenizer, vocab] = await Promise.all([loadTokenizer(), loadVocabulary()]);
    const b = new GpuBackend(ctx, tokenizer, vocab, options);
    if (!b.#encoder.tables.complete) {
      b.destroy();
      throw new RangeError("Cannot encode on the GPU: the vocabulary lacks single-byte tokens");
    }
    return b;
  }

  #newStats(items: number): BatchStats {
    return {
      backend: "gpu",
      items,
      tokens: 0,
      chunks: 0,
      dispatches: 0,
      bytesMoved: 0,
      gpuTimeNs: 0,
      cpuPieces: 0,
    };
  }

  /**
   * Runs guarded GPU work (the special scan, the token scan) one at a time: `GpuContext.guard`
   * holds its error scopes across an `await`, so two guarded jobs must not overlap. Piece
   * encoding does not go through here (its scopes are synchronous, see {@link GpuBackend.encodeBatch}).
   */
  #serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#lane.then(job, job);
    this.#lane = run.catch(() => {});
    return run;
  }

  /** Notes a GPU failure that is finished on the CPU (warning once). */
  #failed(e: unknown, stats: BatchStats): void {
    if (!(e instanceof GpuBatchError)) throw e;
    if (this.ctx.lost) this.#gpuBroken = true;
    if (!this.#warned) {
      this.#warned = true;
      this.#warn(`harmony-engine: ${e.message}; finishing on the CPU (same output)`);
    }
    stats.cpuPieces++;
  }

  /** Runs GPU work, or its CPU equivalent when the GPU has failed (warning once). */
  async #withFallback<T>(
    label: string,
    stats: BatchStats,
    gpu: () => Promise<T>,
    cpu: () => T,
  ): Promise<T> {
    if (!this.#gpuBroken) {
      try {
        return await this.#serial(() => this.ctx.guard(label, gpu));
      } catch (e) {
        this.#failed(e, stats);
      }
    }
    return cpu();
  }

  /**
   * Encodes one chunk on the GPU with at most {@link MAX_IN_FLIGHT} chunks in flight (of every
   * batch of this backend), or on the CPU after a GPU failure (same output).
   */
  async #encodeChunk(batch: PieceBatch, stats: BatchStats): Promise<PieceBatchResult> {
    if (!this.#gpuBroken) {
      while (this.#inFlight >= MAX_IN_FLIGHT) {
        await new Promise<void>((resolve) => this.#waiting.push(resolve));
      }
      this.#inFlight++;
      let pending: PendingPieces | undefined;
      try {
        const ready = hasLongPieces(batch) ? await this.#presetLongPieces(batch, stats) : batch;
        pending = this.#encoder.submit(ready);
        return await pending.result();
      } catch (e) {
        this.#failed(e, stats);
      } finally {
        if (pending) {
          stats.dispatches += pending.dispatches;
          stats.bytesMoved += pending.bytesMoved;
        }
        this.#inFlight--;
        this.#waiting.shift()?.();
      }
    }
    return encodePiecesCpu(this.vocab, batch);
  }

  /**
   * One fused batch (special scan, pre-tokenization and encoding in one submission) on the GPU,
   * holding one of the {@link MAX_IN_FLIGHT} slots, or on the CPU after a GPU failure.
   */
  async #encodeFused(job: FusedJob, stats: BatchStats): Promise<FusedResult> {
    if (!this.#gpuBroken) {
      while (this.#inFlight >= MAX_IN_FLIGHT) {
        await new Promise<void>((resolve) => this.#waiting.push(resolve));
      }
      this.#inFlight++;
      const before = { ...this.ctx.stats };
      try {
        return await this.#fused.run(job);
      } catch (e) {
        this.#failed(e, stats);
      } finally {
        this.#collect(stats, before);
        this.#inFlight--;
        this.#waiting.shift()?.();
      }
    }
    return encodeFusedCpu(this.vocab, this.#specials.tables, job);
  }

  /**
   * `batch` with its pieces over {@link MAX_GPU_PIECE_BYTES} (at most {@link MAX_LONG_GPU_PIECE_BYTES},
   * longer ones come preset from the plan) merged on the GPU by `merge_long` and turned into
   * presets, so `encode_pieces` gets only pieces one thread can hold. The long pieces are packed
   * into groups whose kernel state (16 bytes per byte) fits the binding limit; a piece too long
   * for the limit alone is encoded on the CPU (`encodePiece`, same tokens).
   *
   * @throws {GpuBatchError} when the GPU fails (the caller redoes the chunk on the CPU).
   */
  async #presetLongPieces(batch: PieceBatch, stats: BatchStats): Promise<PieceBatch> {
    const { text, ends, presets, presetOffsets, presetTokens } = batch;
    const n = ends.length;
    const budget = Math.floor((this.#limit - 64) / 16);
    // The plan lists them (no pass over every piece); a batch from elsewhere is scanned.
    let longIdx: ArrayLike<number> = batch.long ?? [];
    if (!batch.long) {
      const found: number[] = [];
      for (let i = 0, s = 0; i < n; s = ends[i++]) {
        if (presets[i] === NONE && ends[i] - s > MAX_GPU_PIECE_BYTES) found.push(i);
      }
      longIdx = found;
    }
    const tokensOf = new Map<number, Uint32Array>();
    const group: number[] = [];
    let groupBytes = 0;
    const flush = async () => {
      if (group.length === 0) return;
      const packed = new Uint8Array(groupBytes), pairs = new Uint32Array(2 * group.length);
      let at = 0;
      for (let g = 0; g < group.length; g++) {
        const i = group[g], s = i === 0 ? 0 : ends[i - 1];
        packed.set(text.subarray(s, ends[i]), at);
        pairs[2 * g] = at;
        pairs[2 * g + 1] = at += ends[i] - s;
      }
      const before = this.ctx.stats.dispatches, up = this.ctx.stats.bytesUploaded;
      const down = this.ctx.stats.bytesDownloaded;
      const r = await this.#long.run(packed, pairs);
      stats.dispatches += this.ctx.stats.dispatches - before;
      stats.bytesMoved += this.ctx.stats.bytesUploaded - up + this.ctx.stats.bytesDownloaded - down;
      for (let g = 0; g < group.length; g++) {
        tokensOf.set(group[g], r.tokens.subarray(r.offsets[g], r.offsets[g + 1]));
      }
      group.length = 0;
      groupBytes = 0;
    };
    for (let g = 0; g < longIdx.length; g++) {
      const i = longIdx[g], s = i === 0 ? 0 : ends[i - 1], len = ends[i] - s;
      if (len > budget) {
        const out = new TokenBuffer(len);
        encodePiece(this.vocab, text, s, ends[i], out);
        tokensOf.set(i, out.toArray());
        stats.cpuPieces++;
        continue;
      }
      if (groupBytes + len > budget) await flush();
      group.push(i);
      groupBytes += len;
    }
    await flush();
    let extra = 0;
    for (const t of tokensOf.values()) extra += t.length;
    const np = presetOffsets.length - 1;
    const newPresets = presets.slice();
    const newOffsets = new Uint32Array(np + 1 + tokensOf.size);
    newOffsets.set(presetOffsets);
    const newTokens = new Uint32Array(presetTokens.length + extra);
    newTokens.set(presetTokens);
    let k = np, at = presetTokens.length;
    for (const [i, t] of tokensOf) {
      newPresets[i] = k;
      newTokens.set(t, at);
      newOffsets[++k] = at += t.length;
    }
    return {
      ...batch,
      presets: newPresets,
      presetOffsets: newOffsets,
      presetTokens: newTokens,
      long: new Uint32Array(0),
    };
  }

  /** The storage-binding budget of a chunk, in bytes. */
  get #limit(): number {
    return this.ctx.limits.maxStorageBufferBindingSize;
  }

  /**
   * See {@link Backend.encodeBatch}. The host planning lives in `src/gpu/encode_plan.ts`.
   *
   * Batches may overlap: a caller that starts batch k+1 before awaiting batch k (as both dataset
   * pipelines do, one batch ahead) gets k+1 packed and pre-tokenized on the host while the device
   * runs k and k−1 is read back; each result is the same as alone, and {@link lastStats} describes
   * the batch that finished last.
   */
  async encodeBatch(texts: readonly string[], options?: EncodeOptions): Promise<EncodedBatch> {
    const stats = this.#newStats(texts.length);
    const specials = this.#specials.tables;
    const r = await encodeWithPlan(
      texts,
      options,
      { vocab: this.vocab, specials, limit: this.#limit, maxPieceBytes: this.#maxHostPiece },
      {
        findSpecials: (view) =>
          this.#counted(stats, () =>
            this.#withFallback(
              "find_special",
              stats,
              () => this.#specials.run(view),
              () => findSpecialsCpu(specials, view),
            )),
        pretokenize: (input) =>
          this.#counted(stats, () =>
            this.#withFallback(
              "pretokenize",
              stats,
              () => this.#pretokenizer.run(input),
              () => pretokenizeCpu(input),
            )),
        encodePieces: (batch) => this.#encodeChunk(batch, stats),
        encodeFused: (job) => this.#encodeFused(job, stats),
      },
    );
    stats.chunks = r.chunks;
    stats.tokens = r.tokens.length;
    stats.cpuPieces += r.cpuPieces;
    stats.inputBytes = r.inputBytes;
    stats.hostMs = r.hostMs;
    this.#stats = stats;
    return new EncodedBatch(r.tokens, r.offsets, r.errors);
  }

  /** Runs `job` and adds the context's counters it moved to `stats`. */
  async #counted<T>(stats: BatchStats, job: () => Promise<T>): Promise<T> {
    const before = { ...this.ctx.stats };
    try {
      return await job();
    } finally {
      this.#collect(stats, before);
    }
  }

  /** Adds the context's counters since `before` to `stats`. */
  #collect(stats: BatchStats, before: GpuContext["stats"]): void {
    const s = this.ctx.stats;
    stats.dispatches += s.dispatches - before.dispatches;
    stats.bytesMoved += s.bytesUploaded - before.bytesUploaded + s.bytesDownloaded -
      before.bytesDownloaded;
    stats.gpuTimeNs += s.gpuTimeNs - before.gpuTimeNs;
  }

  /**
   * Scans the token streams of a batch (GPU), in chunks within the limits.
   * Completions with ids outside `[0, 2^32)` or non-integers must be filtered out before.
   */
  scanTokens(tokens: Uint32Array): Promise<TokenScan> {
    return this.#scanTokens(tokens, this.#newStats(0));
  }

  async #scanTokens(tokens: Uint32Array, stats: BatchStats): Promise<TokenScan> {
    const st = this.#specials.tables;
    const step = Math.max(1, Math.floor((this.#limit - 64) / Math.max(4, this.#maxTokenBytes)) - 1);
    if (tokens.length <= step) {
      return await this.#withFallback(
        "token_lengths",
        stats,
        () => this.#scanner.run(tokens),
        () => scanTokensCpu(this.vocab, st, tokens),
      );
    }
    const parts: TokenScan[] = [];
    for (let a = 0; a < tokens.length; a += step) {
      const view = tokens.subarray(a, Math.min(tokens.length, a + step));
      parts.push(
        await this.#withFallback(
          "token_lengths",
          stats,
          () => this.#scanner.run(view),
          () => scanTokensCpu(this.vocab, st, view),
        ),
      );
    }
    let total = 0, nPos = 0;
    for (const p of parts) total += p.bytes.length, nPos += p.specialPositions.length;
    const byteOffsets = new Uint32Array(tokens.length + 1), bytes = new Uint8Array(total);
    const specialPositions = new Uint32Array(nPos);
    let tokBase = 0, byteBase = 0, posAt = 0;
    for (const p of parts) {
      const n = p.byteOffsets.length - 1;
      for (let i = 0; i < n; i++) byteOffsets[tokBase + i] = byteBase + p.byteOffsets[i];
      bytes.set(p.bytes, byteBase);
      for (const q of p.specialPositions) specialPositions[posAt++] = tokBase + q;
      tokBase += n;
      byteBase += p.bytes.length;
    }
    byteOffsets[tokens.length] = byteBase;
    return { byteOffsets, bytes, specialPositions };
  }

  /**
   * See {@link Backend.parseBatch}: regular completions are turned into messages from the GPU
   * message table; irregular ones (and any with invalid ids) go through the streaming parser.
   */
  async parseBatch(
    completions: ReadonlyArray<ArrayLike<number>>,
    options: ParseBatchOptions = {},
  ): Promise<ParsedCompletion[]> {
    const stats = this.#newStats(completions.length);
    const nc = completions.length;
    const valid = new Uint8Array(nc);
    const offsets = new Uint32Array(nc + 1);
    let total = 0;
    for (let c = 0; c < nc; c++) {
      offsets[c] = total;
      const t = completions[c];
      let ok = true;
      for (let i = 0; i < t.length && ok; i++) {
        const v = t[i];
        ok = Number.isInteger(v) && v >= 0 && v < this.tokenizer.vocabSize;
      }
      valid[c] = ok ? 1 : 0;
      if (ok) total += t.length;
    }
    offsets[nc] = total;
    const all = new Uint32Array(total);
    for (let c = 0; c < nc; c++) if (valid[c]) all.set(completions[c], offsets[c]);
    const scan = await this.#counted(stats, () => this.#scanTokens(all, stats));
    const role: Role | null | undefined = options.role;
    const table = buildMessageTable(all, offsets, scan, role);
    const out: ParsedCompletion[] = new Array(nc);
    const fallback: number[] = [];
    for (let c = 0; c < nc; c++) {
      const messages = valid[c] ? tableMessages(table, c, role) : undefined;
      if (messages) out[c] = { messages };
      else fallback.push(c);
    }
    if (fallback.length > 0) {
      const parsed = parseBatchCpu(this.tokenizer, fallback.map((c) => completions[c]), options);
      for (let k = 0; k < fallback.length; k++) out[fallback[k]] = parsed[k];
    }
    stats.tokens = total;
    stats.cpuPieces += fallback.length;
    this.#stats = stats;
    return out;
  }

  /** See {@link Backend.lastStats}. */
  lastStats(): BatchStats {
    return { ...this.#stats };
  }

  /** Frees the GPU buffers and destroys the device. */
  destroy(): void {
    this.#encoder.destroy();
    this.#specials.destroy();
    this.#pretokenizer.destroy();
    this.ctx.destroy();
  }
}

/** Creates a GPU context and backend from a `GPU` object (convenience for tests and benchmarks). *
 * @example
 * ```ts
 * import { createGpuBackend } from "./gpu_backend.ts";
 * import { findGpu } from "../gpu/runtime.ts";
 * const gpu = await findGpu();
 * import { strictEqual } from "node:assert/strict";
 * if (gpu) {
 *   const backend = await createGpuBackend(gpu, { maxStorageBufferBindingSize: 1 << 20 });
 *   strictEqual(backend.kind, "gpu");
 *   backend.destroy();
 * }
 * ```
 */
export async function createGpuBackend(
  gpu: GPU,
  options: GpuBackendOptions & { maxStorageBufferBindingSize?: number; timestamps?: boolean } = {},
): Promise<GpuBackend> {
  const ctx = await GpuContext.create(gpu, {
    maxStorageBufferBindingSize: options.maxStorageBufferBindingSize,
    timestamps: options.timestamps,
  });
  try {
    return await GpuBackend.create(ctx, options);
  } catch (e) {
    ctx.destroy();
    throw e;
  }
}
