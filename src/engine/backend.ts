/**
 * The backend interface of the engine (one small interface, two implementations: the CPU one is
 * the reference the GPU one must match) and the batch result types.
 *
 * @module
 */

import type { Message } from "../chat/message.ts";
import type { Role } from "../chat/role.ts";
import type { EncodeOptions } from "../tokenizer/types.ts";

/**
 * The tokens of a batch of texts in one array: text i's tokens are
 * `tokens[offsets[i], offsets[i + 1])`. A text that could not be encoded (disallowed
 * special-token text) has an empty range and an entry in `errors`.
 *
 * @example
 * ```ts
 * import { EncodedBatch } from "./backend.ts";
 * const b = new EncodedBatch(new Uint32Array([1, 2, 3]), new Uint32Array([0, 2, 3]), new Map());
 * b.get(0); // Uint32Array [1, 2]
 * ```
 */
export class EncodedBatch {
  /** All tokens, text after text. */
  readonly tokens: Uint32Array;
  /** Token offsets; length `texts + 1`. */
  readonly offsets: Uint32Array;
  /** Index → error for texts that could not be encoded. */
  readonly errors: ReadonlyMap<number, Error>;

  /** Wraps the arrays (not copied). */
  constructor(tokens: Uint32Array, offsets: Uint32Array, errors: ReadonlyMap<number, Error>) {
    this.tokens = tokens;
    this.offsets = offsets;
    this.errors = errors;
  }

  /** Number of texts. */
  get length(): number {
    return this.offsets.length - 1;
  }

  /** Text i's tokens (a view into {@link EncodedBatch.tokens}). @throws {RangeError} out of range. */
  get(i: number): Uint32Array {
    if (!(i >= 0 && i < this.length)) {
      throw new RangeError(`Cannot get text ${i} of the batch: it holds ${this.length}`);
    }
    return this.tokens.subarray(this.offsets[i], this.offsets[i + 1]);
  }

  /** Each text's tokens as its own array (copies). */
  toArrays(): Uint32Array[] {
    const out = new Array<Uint32Array>(this.length);
    for (let i = 0; i < out.length; i++) {
      out[i] = this.tokens.slice(this.offsets[i], this.offsets[i + 1]);
    }
    return out;
  }
}

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
   * Milliseconds the JS thread spent in the GPU host plan (packing, pre-tokenizing, long pieces
   * on the CPU, chunking, stitching; not the kernels' own upload/read-back code or a CPU
   * fallback), absent when not measured.
   */
  hostMs?: number;
}

/** What every backend implements. */
export interface Backend {
  /** `cpu` or `gpu`. */
  readonly kind: "cpu" | "gpu";
  /** Encodes texts with tiktoken's special-token semantics (see `Tokenizer.encode`). */
  encodeBatch(texts: readonly string[], options?: EncodeOptions): Promise<EncodedBatch>;
  /** Parses completions' token ids into messages (one result per completion). */
  parseBatch(
    completions: ReadonlyArray<ArrayLike<number>>,
    options?: ParseBatchOptions,
  ): Promise<ParsedCompletion[]>;
  /** Statistics of the last batch. */
  lastStats(): BatchStats;
  /** Frees the backend's resources. */
  destroy(): void;
}
