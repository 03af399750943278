/**
 * The one packed result of batch encoding, and the one contract that produces it.
 *
 * "Encode many texts → packed tokens" is {@link BatchEncoder.encodeBatch}, returning an
 * {@link EncodedBatch}: every token of every text in one `Uint32Array` plus `texts + 1` offsets
 * (one buffer, as a GPU reads it back). The CPU backend, the GPU backend and the engine
 * (`src/engine`) implement it; the batch renderer (`src/render/plan.ts`) is finished directly
 * from an `EncodedBatch` (no array per text), and both batch pipelines (`render-dataset`,
 * `parse-dataset`) only ever ask a `BatchEncoder`.
 *
 * Sync or async: `encodeBatch` returns the batch itself when the work is synchronous (the CPU
 * backend, and the engine whenever it keeps a batch on the CPU) and a `Promise` only when a GPU
 * does the work, so CPU paths never create a Promise. Callers that may get either `await` the
 * result; synchronous callers take {@link encodeBatchCpu} directly.
 *
 * @module
 */

import { TokenBuffer } from "./token_buffer.ts";
import type { EncodeOptions, Tokenizer } from "./types.ts";

/**
 * The tokens of a batch of texts in one array: text i's tokens are
 * `tokens[offsets[i], offsets[i + 1])`. A text that could not be encoded (disallowed
 * special-token text) has an empty range and an entry in `errors`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 * import { EncodedBatch } from "./encoded_batch.ts";
 * const b = new EncodedBatch(new Uint32Array([1, 2, 3]), new Uint32Array([0, 2, 3]), new Map());
 * strictEqual(b.length, 2);
 * deepStrictEqual(b.get(0), new Uint32Array([1, 2]));
 * ```
 */
export class EncodedBatch {
  /** All tokens, text after text (may be a view of a larger buffer). */
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

/**
 * Encodes many texts at once into one {@link EncodedBatch}, with tiktoken's special-token
 * semantics (`Tokenizer.encode`; pass {@link ORDINARY} for `encode_ordinary`), errors per text.
 * Implemented by `CpuBackend` (synchronously), `GpuBackend` and `Engine` (see the module doc).
 */
export interface BatchEncoder {
  /** Encodes `texts`; a text that fails gets an empty range and an entry in `errors`. */
  encodeBatch(
    texts: readonly string[],
    options?: EncodeOptions,
  ): EncodedBatch | Promise<EncodedBatch>;
}

/**
 * Options that make `encodeBatch` encode special-token text as ordinary text (the reference's
 * `encode_ordinary`): what the renderer's plans and `encode --allowed-special none` ask for.
 */
export const ORDINARY: EncodeOptions = Object.freeze({ disallowedSpecial: Object.freeze([]) });

/** Whether `options` means `encode_ordinary` (nothing allowed, nothing disallowed). */
function isOrdinary(options: EncodeOptions | undefined): boolean {
  if (options === undefined) return false;
  const { allowedSpecial: a, disallowedSpecial: d } = options;
  const empty = (v: "all" | Iterable<string> | undefined) =>
    v !== "all" && (v === undefined || v[Symbol.iterator]().next().done === true);
  return d !== undefined && empty(d) && empty(a);
}

/**
 * The CPU implementation of {@link BatchEncoder.encodeBatch}: every text appended to one buffer
 * (ordinary text straight into it, no array per text), errors per text. Synchronous.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 * import { encodeBatchCpu, ORDINARY } from "./encoded_batch.ts";
 * import { loadTokenizer } from "./mod.ts";
 * const tok = await loadTokenizer();
 * strictEqual(encodeBatchCpu(tok, ["hi", "<|end|>"]).errors.size, 1);
 * deepStrictEqual(encodeBatchCpu(tok, ["hello", " world"], ORDINARY).offsets, new Uint32Array([0, 1, 2]));
 * ```
 */
export function encodeBatchCpu(
  tokenizer: Tokenizer,
  texts: readonly string[],
  options?: EncodeOptions,
): EncodedBatch {
  let chars = 0;
  for (let i = 0; i < texts.length; i++) chars += texts[i].length;
  const out = new TokenBuffer(Math.max(256, chars >> 1));
  const offsets = new Uint32Array(texts.length + 1);
  const errors = new Map<number, Error>();
  if (isOrdinary(options)) {
    for (let i = 0; i < texts.length; i++) {
      tokenizer.encodeOrdinaryInto(texts[i], out);
      offsets[i + 1] = out.length;
    }
    return new EncodedBatch(out.view(), offsets, errors);
  }
  for (let i = 0; i < texts.length; i++) {
    try {
      out.pushAll(tokenizer.encode(texts[i], options));
    } catch (e) {
      errors.set(i, e instanceof Error ? e : new Error(String(e)));
    }
    offsets[i + 1] = out.length;
  }
  return new EncodedBatch(out.view(), offsets, errors);
}
