/**
 * The GPU backend: batched encoding and token-stream scanning on a WebGPU device, token for token
 * identical to the CPU backend.
 *
 * Encoding a batch: the texts are packed into one UTF-8 buffer; special-token literals are found
 * on the GPU (when any special token is allowed or disallowed) and resolved on the host; the CPU
 * pre-tokenizer splits the text into pieces; pieces longer than {@link MAX_GPU_PIECE_BYTES} are
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
import {
  encodePiecesCpu,
  GpuPieceEncoder,
  type PieceBatch,
  pieceBatchBindingBytes,
} from "../gpu/encoder.ts";
import { GpuBatchError } from "../gpu/errors.ts";
import { MAX_GPU_PIECE_BYTES } from "../gpu/kernels.ts";
import { findSpecialsCpu, GpuSpecialScanner } from "../gpu/special_scan.ts";
import { buildSpecialTables, NONE, type SpecialTables } from "../gpu/tables.ts";
import { GpuTokenScanner, scanTokensCpu, type TokenScan } from "../gpu/token_scan.ts";
import { encodePiece } from "../tokenizer/bpe.ts";
import { loadTokenizer } from "../tokenizer/mod.ts";
import { splitPieces } from "../tokenizer/pieces.ts";
import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
import { TokenBuffer } from "../tokenizer/token_buffer.ts";
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

/** Allowed and disallowed special literals resolved from {@link EncodeOptions}. */
function specialRules(specials: SpecialTables, options?: EncodeOptions) {
  const all = options?.allowedSpecial === "all";
  const allowed = new Uint8Array(specials.count);
  const disallowed = new Uint8Array(specials.count);
  const index = new Map(specials.literals.map((l, k) => [l, k]));
  if (all) allowed.fill(1);
  else {for (const l of options?.allowedSpecial ?? []) {
      const k = index.get(l);
      if (k !== undefined) allowed[k] = 1;
    }}
  const dis = options?.disallowedSpecial ?? "all";
  if (dis === "all") {
    for (let k = 0; k < specials.count; k++) {
      disallowed[k] = allowed[k] ? 0 : 1;
    }
  } else {for (const l of dis) {
      const k = index.get(l);
      if (k !== undefined) disallowed[k] = 1;
    }}
  let any = false;
  for (let k = 0; k < specials.count && !any; k++) any = allowed[k] === 1 || disallowed[k] === 1;
  return { allowed, disallowed, any };
}

/** A chunk of pieces within the limits: pieces `[p0, p1)` over bytes `[b0, b1)`. */
interface Chunk {
  p0: number;
  p1: number;
  b0: number;
  b1: number;
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

  /** See {@link Backend.encodeBatch}. */
  async encodeBatch(texts: readonly string[], options?: EncodeOptions): Promise<EncodedBatch> {
    const ctx = this.ctx, stats0 = { ...ctx.stats };
    this.#stats = this.#newStats(texts.length);
    const nt = texts.length;
    // 1. Pack the texts as UTF-8.
    let cap = 0;
    for (let i = 0; i < nt; i++) cap += texts[i].length * 3;
    const packed = new Uint8Array(Math.max(16, cap));
    const segStart = new Uint32Array(nt + 1);
    const te = new TextEncoder();
    let at = 0;
    for (let i = 0; i < nt; i++) {
      segStart[i] = at;
      at += te.encodeInto(texts[i], packed.subarray(at)).written;
    }
    segStart[nt] = at;
    const text = packed.subarray(0, at);
    // 2. Special-token literals (GPU), resolved per text on the host.
    const st = this.#specials.tables;
    const rules = specialRules(st, options);
    const matches = rules.any ? await this.#findSpecials(text) : new Uint32Array(0);
    const errors = new Map<number, Error>();
    // 3. Pieces (CPU pre-tokenizer), long pieces and specials as presets.
    const ends = new TokenBuffer(Math.max(16, at >> 2));
    const presets = new TokenBuffer(Math.max(16, at >> 2));
    const presetOffsets = new TokenBuffer(64);
    const presetTokens = new TokenBuffer(64);
    presetOffsets.push(0);
    const segPiece = new Uint32Array(nt + 1);
    let mj = 0;
    const addRange = (s: number, e: number) => {
      if (e <= s) return;
      const first = ends.length;
      splitPieces(text, s, e, ends);
      let prev = s;
      for (let p = first; p < ends.length; p++) {
        const pe = ends.data[p];
        if (pe - prev > MAX_GPU_PIECE_BYTES) {
          presets.push(presetOffsets.length - 1);
          encodePiece(this.vocab, text, prev, pe, presetTokens);
          presetOffsets.push(presetTokens.length);
          this.#stats.cpuPieces++;
        } else presets.push(NONE);
        prev = pe;
      }
    };
    for (let i = 0; i < nt; i++) {
      segPiece[i] = ends.length;
      const s = segStart[i], e = segStart[i + 1];
      while (mj < matches.length && matches[mj] < s) mj += 2;
      const m0 = mj;
      while (mj < matches.length && matches[mj] < e) mj += 2;
      // Disallowed literal anywhere in the text: the text fails (tiktoken's check comes first).
      let failed = false;
      for (let k = m0; k < mj; k += 2) {
        const idx = matches[k + 1];
        if (matches[k] + st.literalBytes[idx].length > e) continue;
        if (rules.disallowed[idx]) {
          const offset = new TextDecoder().decode(text.subarray(s, matches[k])).length;
          errors.set(
            i,
            new SyntaxError(
              `Cannot encode text: disallowed special token ${
                st.literals[idx]
              } at offset ${offset}`,
            ),
          );
          failed = true;
          break;
        }
      }
      if (failed) {
        // Pieces are contiguous: the failed text's bytes become one piece with no tokens.
        if (e > s) {
          ends.push(e);
          presets.push(presetOffsets.length - 1);
          presetOffsets.push(presetTokens.length);
        }
        continue;
      }
      let from = s;
      for (let k = m0; k < mj; k += 2) {
        const pos = matches[k], idx = matches[k + 1], len = st.literalBytes[idx].length;
        if (!rules.allowed[idx] || pos < from || pos + len > e) continue;
        addRange(from, pos);
        ends.push(pos + len);
        presets.push(presetOffsets.length - 1);
        presetTokens.push(st.firstId + idx);
        presetOffsets.push(presetTokens.length);
        from = pos + len;
      }
      addRange(from, e);
    }
    segPiece[nt] = ends.length;
    // 4. Chunks within the limits, encoded on the GPU (or the CPU after a GPU failure).
    const chunks = this.#planChunks(ends.view(), presets.view(), presetOffsets.view());
    const tokenParts: Uint32Array[] = [];
    const pieceTokenAt = new Uint32Array(nt + 1);
    let base = 0, seg = 0;
    for (const c of chunks) {
      const batch = this.#chunkBatch(
        c,
        text,
        ends.view(),
        presets.view(),
        presetOffsets.view(),
        presetTokens.view(),
        segPiece,
      );
      const r = await this.#withFallback(
        "encode_pieces",
        () => this.#encoder.run(batch.batch),
        () => encodePiecesCpu(this.vocab, batch.batch),
      );
      for (let j = 0; j < batch.segs.length; j++) {
        pieceTokenAt[batch.segs[j]] = base + r.markOffsets[j];
      }
      seg += batch.segs.length;
      base += r.markOffsets[r.markOffsets.length - 1];
      tokenParts.push(r.tokens.subarray(0, r.markOffsets[r.markOffsets.length - 1]));
    }
    // Texts whose pieces start after the last chunk (no pieces at all) end at the total.
    for (let i = 0; i <= nt; i++) if (segPiece[i] >= ends.length) pieceTokenAt[i] = base;
    const tokens = new Uint32Array(base);
    let o = 0;
    for (const part of tokenParts) {
      tokens.set(part, o);
      o += part.length;
    }
    this.#stats.chunks = chunks.length;
    this.#stats.tokens = base;
    this.#collect(stats0);
    return new EncodedBatch(tokens, pieceTokenAt, errors);
  }

  /** Finds special literals, in chunks (overlapping by a literal's length) within the limits. */
  async #findSpecials(text: Uint8Array): Promise<Uint32Array> {
    const st = this.#specials.tables;
    const step = Math.max(st.maxLength * 2, Math.floor((this.#limit - 64) / 4) - st.maxLength);
    const parts: number[] = [];
    for (let a = 0; a < text.length; a += step) {
      const b = Math.min(text.length, a + step);
      const view = text.subarray(a, Math.min(text.length, b + st.maxLength - 1));
      const found = await this.#withFallback(
        "find_special",
        () => this.#specials.run(view),
        () => findSpecialsCpu(st, view),
      );
      for (let k = 0; k < found.length; k += 2) {
        if (a + found[k] < b) parts.push(a + found[k], found[k + 1]);
      }
    }
    return Uint32Array.from(parts);
  }

  /** Splits the pieces into chunks whose bindings fit the storage-binding limit. */
  #planChunks(ends: Uint32Array, presets: Uint32Array, presetOffsets: Uint32Array): Chunk[] {
    const limit = this.#limit;
    const chunks: Chunk[] = [];
    const n = ends.length;
    let p0 = 0, b0 = 0;
    while (p0 < n) {
      let p = p0, nPresets = 0, nPresetTokens = 0, prevEnd = b0;
      // Grow while the next piece still fits (a chunk always takes at least one piece).
      while (p < n) {
        const k = presets[p];
        const addP = k !== NONE ? 1 : 0;
        const addT = k !== NONE ? presetOffsets[k + 1] - presetOffsets[k] : 0;
        const need = pieceBatchBindingBytes(
          ends[p] - b0,
          p + 1 - p0,
          nPresets + addP,
          nPresetTokens + addT,
          p + 2 - p0,
        );
        if (need > limit && p > p0) break;
        nPresets += addP;
        nPresetTokens += addT;
        prevEnd = ends[p];
        p++;
      }
      chunks.push({ p0, p1: p, b0, b1: prevEnd });
      p0 = p;
      b0 = prevEnd;
    }
    return chunks;
  }

  /** The {@link PieceBatch} of one chunk, with the texts whose first piece is in it as marks. */
  #chunkBatch(
    c: Chunk,
    text: Uint8Array,
    ends: Uint32Array,
    presets: Uint32Array,
    presetOffsets: Uint32Array,
    presetTokens: Uint32Array,
    segPiece: Uint32Array,
  ): { batch: PieceBatch; segs: number[] } {
    const n = c.p1 - c.p0;
    const localEnds = new Uint32Array(n);
    const localPresets = new Uint32Array(n);
    const offs: number[] = [0];
    const toks: number[] = [];
    for (let p = 0; p < n; p++) {
      localEnds[p] = ends[c.p0 + p] - c.b0;
      const k = presets[c.p0 + p];
      if (k === NONE) localPresets[p] = NONE;
      else {
        localPresets[p] = offs.length - 1;
        for (let j = presetOffsets[k]; j < presetOffsets[k + 1]; j++) toks.push(presetTokens[j]);
        offs.push(toks.length);
      }
    }
    // Texts starting in this chunk (first piece index in [p0, p1)), plus the chunk end.
    // segPiece is non-decreasing: binary-search the first text starting at or after p0.
    const segs: number[] = [], marks: number[] = [];
    let lo = 0, hi = segPiece.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (segPiece[mid] < c.p0) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < segPiece.length && segPiece[i] < c.p1; i++) {
      segs.push(i);
      marks.push(segPiece[i] - c.p0);
    }
    marks.push(n);
    return {
      batch: {
        text: text.subarray(c.b0, c.b1),
        ends: localEnds,
        presets: localPresets,
        presetOffsets: Uint32Array.from(offs),
        presetTokens: Uint32Array.from(toks),
        marks: Uint32Array.from(marks),
      },
      segs,
    };
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
