/**
 * The backend interface of the engine: one small interface ({@link Backend}) with three
 * implementations — `CpuBackend` (the reference), `GpuBackend` (must match it) and the `Engine`
 * that picks one of them per batch — and the batch result types.
 *
 * A backend is a `BatchEncoder` (`src/tokenizer/encoded_batch.ts`: texts → one packed
 * {@link EncodedBatch}) that also parses batches of completions and reports what ran the last
 * batch ({@link BatchStats}). Results are returned directly when the work is synchronous (the
 * CPU) and as a Promise only when a GPU runs it; `await` works on both.
 *
 * @module
 */

import type { Message } from "../chat/message.ts";
import type { Role } from "../chat/role.ts";
import type { BatchEncoder, EncodedBatch } from "../tokenizer/encoded_batch.ts";
import type { EncodeOptions } from "../tokenizer/types.ts";

export { type BatchEncoder, EncodedBatch, ORDINARY } from "../tokenizer/encoded_batch.ts";

/** What `--backend` and `openBackend` accept: see `openBackend` in `./mod.ts`. */
export const BACKEND_KINDS = ["auto", "cpu", "gpu"] as const;

/** One of {@link BACKEND_KINDS}. */
export type BackendKind = typeof BACKEND_KINDS[number];

/** Options of `parseBatch`. */
export interface ParseBatchOptions {
  /**
   * The role the completions start in (their first header needs no `<|start|>`), e.g.
   * `"assistant"` for the output of a model prompted with `<|start|>assistant`. Default: none
   * (completions start with `<|start|>`).
   */
  role?: Role | null;
  /** Strict mode of the parser (default true, as the reference). */
  strict?: boolean;
}

/** The result of parsing one completion of a batch: its messages or the error. */
export type ParsedCompletion =
  | { messages: Message[]; error?: undefined }
  | { messages?: undefined; error: Error };

/** Statistics of the last batch a backend ran. */
export interface BatchStats {
  /** Which backend did the work (`gpu` may have finished on the CPU after a GPU failure). */
  backend: "cpu" | "gpu";
  /** Texts or completions in the batch. */
  items: number;
  /** Tokens produced or read. */
  tokens: number;
  /** GPU submissions (chunks when split by limits). */
  chunks: number;
  /** Compute dispatches. */
  dispatches: number;
  /** Bytes uploaded to and read back from the GPU. */
  bytesMoved: number;
  /** Kernel time from timestamp queries (ns), 0 when unavailable. */
  gpuTimeNs: number;
  /** Pieces encoded on the CPU (longer than the GPU bound) or chunks finished on the CPU. */
  cpuPieces: number;
  /** UTF-8 bytes of the texts encoded (encode batches; absent when not measured). */
  inputBytes?: number;
  /**
   * Milliseconds the JS thread spent in the GPU host plan (packing, planning, long pieces on the
   * CPU, chunking, stitching) and in the synchronous part of its submissions: the fused batch's
   * (special scan, pre-tokenization and encoding in one submission, `src/gpu/fused.ts`) or,
   * step by step, the special scan's, the pre-tokenizer's and each chunk's (packing the upload,
   * recording the commands); not awaiting read-backs, the long-piece (`merge_long`)
   * submissions or a CPU fallback. Absent when not measured.
   */
  hostMs?: number;
}

/**
 * What every backend implements (`CpuBackend`, `GpuBackend`, and the `Engine` over them).
 * Methods return their result directly when the work was synchronous and a Promise otherwise.
 */
export interface Backend extends BatchEncoder {
  /** `cpu`, `gpu`, or (an engine) the mode it was opened with. */
  readonly kind: BackendKind;
  /** Encodes texts with tiktoken's special-token semantics (see `Tokenizer.encode`). */
  encodeBatch(
    texts: readonly string[],
    options?: EncodeOptions,
  ): EncodedBatch | Promise<EncodedBatch>;
  /** Parses completions' token ids into messages (one result per completion). */
  parseBatch(
    completions: ReadonlyArray<ArrayLike<number>>,
    options?: ParseBatchOptions,
  ): ParsedCompletion[] | Promise<ParsedCompletion[]>;
  /** Statistics of the last batch. */
  lastStats(): BatchStats;
  /** Frees the backend's resources. */
  destroy(): void;
}
