/**
 * The GPU backend: batched encoding and token-stream scanning on a WebGPU device, token for token
 * identical to the CPU backend.
 *
 * Encoding a batch: the texts are packed into one UTF-8 buffer; special-token literals are found
 * on the GPU (when any special token is allowed or disallowed) and resolved on the host; the GPU
 * pre-tokenizes the text into pieces (`src/gpu/pretokenize.ts`, parallel over split points); pieces longer than {@link MAX_GPU_PIECE_BYTES} are
 * encoded on the CPU right away (so one long piece cannot serialize a batch) and passed to the GPU
 * as presets, like special tokens; the GPU encodes the other pieces, prefix-sums the counts and
 * compacts the tokens so each text's tokens are contiguous. Batches above the storage-binding
 * limit are split into chunks at piece boundaries. A GPU failure mid-batch (device lost,
 * validation or memory error) finishes the chunk and the rest of the batch on the CPU, with the
 * same output, and warns once.
 *
 * @module
 */

import type { Role } from "../chat/role.ts";
import { GpuContext } from "../gpu/context.ts";
import { encodeWithPlan } from "../gpu/encode_plan.ts";
import { encodePiecesCpu, GpuPieceEncoder } from "../gpu/encoder.ts";
import { GpuBatchError } from "../gpu/errors.ts";
import { GpuPretokenizer, pretokenizeCpu } from "../gpu/pretokenize.ts";
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

/** Options of {@link GpuBackend.create}. */
export interface GpuBackendOptions {
  /** Receives warnings (a GPU failure finished on the CPU). Default: `console.warn`. */
  onWarning?: (message: string) => void;
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
  readonly #specials: GpuSpecialScanner;
  readonly #pretokenizer: GpuPretokenizer;
  readonly #scanner: GpuTokenScanner;
  readonly #warn: (message: string) => void;
  #warned = false;
  #gpuBroken = false;
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
    this.#specials = new GpuSpecialScanner(ctx, buildSpecialTables(harmonySpecialTokens()));
    this.#pretokenizer = new GpuPretokenizer(ctx);
    this.#scanner = new GpuTokenScanner(ctx, this.#encoder, this.#specials);
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

  /** Runs GPU work, or its CPU equivalent when the GPU has failed (warning once). */
  async #withFallback<T>(label: string, gpu: () => Promise<T>, cpu: () => T): Promise<T> {
    if (!this.#gpuBroken) {
      try {
        return await this.ctx.guard(label, gpu);
      } catch (e) {
        if (!(e instanceof GpuBatchError)) throw e;
        if (this.ctx.lost) this.#gpuBroken = true;
        if (!this.#warned) {
          this.#warned = true;
          this.#warn(`harmony-engine: ${e.message}; finishing on the CPU (same output)`);
        }
        this.#stats.cpuPieces++;
      }
    }
    return cpu();
  }

  /** The storage-binding budget of a chunk, in bytes. */
  get #limit(): number {
    return this.ctx.limits.maxStorageBufferBindingSize;
  }

  /** See {@link Backend.encodeBatch}. The host planning lives in `src/gpu/encode_plan.ts`. */
  async encodeBatch(texts: readonly string[], options?: EncodeOptions): Promise<EncodedBatch> {
    const stats0 = { ...this.ctx.stats };
    this.#stats = this.#newStats(texts.length);
    const specials = this.#specials.tables;
    const r = await encodeWithPlan(
      texts,
      options,
      { vocab: this.vocab, specials, limit: this.#limit },
      {
        findSpecials: (view) =>
          this.#withFallback(
            "find_special",
            () => this.#specials.run(view),
            () => findSpecialsCpu(specials, view),
          ),
        pretokenize: (input) =>
          this.#withFallback(
            "pretokenize",
            () => this.#pretokenizer.run(input),
            () => pretokenizeCpu(input),
          ),
        encodePieces: (batch) =>
          this.#withFallback(
            "encode_pieces",
            () => this.#encoder.run(batch),
            () => encodePiecesCpu(this.vocab, batch),
          ),
      },
    );
    this.#stats.chunks = r.chunks;
    this.#stats.tokens = r.tokens.length;
    this.#stats.cpuPieces += r.cpuPieces;
    this.#stats.inputBytes = r.inputBytes;
    this.#stats.hostMs = r.hostMs;
    this.#collect(stats0);
    return new EncodedBatch(r.tokens, r.offsets, r.errors);
  }

  /** Adds the context's counters since `before` to the batch statistics. */
  #collect(before: GpuContext["stats"]): void {
    const s = this.ctx.stats;
    this.#stats.dispatches = s.dispatches - before.dispatches;
    this.#stats.bytesMoved = s.bytesUploaded - before.bytesUploaded + s.bytesDownloaded -
      before.bytesDownloaded;
    this.#stats.gpuTimeNs = s.gpuTimeNs - before.gpuTimeNs;
  }

  /**
   * Scans the token streams of a batch (GPU), in chunks within the limits.
   * Completions with ids outside `[0, 2^32)` or non-integers must be filtered out before.
   */
  async scanTokens(tokens: Uint32Array): Promise<TokenScan> {
    const st = this.#specials.tables;
    const step = Math.max(1, Math.floor((this.#limit - 64) / Math.max(4, this.#maxTokenBytes)) - 1);
    if (tokens.length <= step) {
      return await this.#withFallback(
        "token_lengths",
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
    const stats0 = { ...this.ctx.stats };
    this.#stats = this.#newStats(completions.length);
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
    const scan = await this.scanTokens(all);
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
    this.#stats.tokens = total;
    this.#stats.cpuPieces += fallback.length;
    this.#collect(stats0);
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
