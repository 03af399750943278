/**
 * The CPU backend: the reference the GPU backend must match. Encoding appends every text to one
 * packed buffer (`encodeBatchCpu`); parsing runs the streaming parser on each completion. Both
 * are synchronous: they return their results, never a Promise.
 *
 * @module
 */

import { parseMessagesFromCompletionTokens } from "../parse/completion.ts";
import { encodeBatchCpu, type EncodedBatch } from "../tokenizer/encoded_batch.ts";
import { loadTokenizer } from "../tokenizer/mod.ts";
import type { EncodeOptions, Tokenizer } from "../tokenizer/types.ts";
import type { Backend, BatchStats, ParseBatchOptions, ParsedCompletion } from "./backend.ts";

export { encodeBatchCpu } from "../tokenizer/encoded_batch.ts";

function emptyStats(): BatchStats {
  return {
    backend: "cpu",
    items: 0,
    tokens: 0,
    chunks: 0,
    dispatches: 0,
    bytesMoved: 0,
    gpuTimeNs: 0,
    cpuPieces: 0,
  };
}

/** Parses each completion with the streaming parser (errors per completion). *
 * @example
 * ```ts
 * import { parseBatchCpu } from "./cpu_backend.ts";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * const tok = await loadTokenizer();
 * import { strictEqual } from "node:assert/strict";
 * const [r] = parseBatchCpu(tok, [tok.encode("<|start|>user<|message|>Hi<|end|>", { allowedSpecial: "all" })]);
 * strictEqual(r.messages?.[0].author.role, "user");
 * ```
 */
export function parseBatchCpu(
  tokenizer: Tokenizer,
  completions: ReadonlyArray<ArrayLike<number>>,
  options: ParseBatchOptions = {},
): ParsedCompletion[] {
  const out: ParsedCompletion[] = new Array(completions.length);
  for (let i = 0; i < completions.length; i++) {
    try {
      out[i] = {
        messages: parseMessagesFromCompletionTokens({ tokenizer }, completions[i], options.role, {
          strict: options.strict ?? true,
        }),
      };
    } catch (e) {
      out[i] = { error: e instanceof Error ? e : new Error(String(e)) };
    }
  }
  return out;
}

/**
 * The CPU backend.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { CpuBackend } from "./cpu_backend.ts";
 * const cpu = await CpuBackend.create();
 * deepStrictEqual(cpu.encodeBatch(["hello world"]).get(0), new Uint32Array([24912, 2375]));
 * ```
 */
export class CpuBackend implements Backend {
  /** Always `cpu`. */
  readonly kind = "cpu" as const;
  /** The tokenizer it encodes with. */
  readonly tokenizer: Tokenizer;
  #stats = emptyStats();

  /** Wraps a tokenizer. */
  constructor(tokenizer: Tokenizer) {
    this.tokenizer = tokenizer;
  }

  /** A CPU backend over the shared o200k_harmony tokenizer. */
  static async create(): Promise<CpuBackend> {
    return new CpuBackend(await loadTokenizer());
  }

  /** See {@link Backend.encodeBatch}; synchronous. */
  encodeBatch(texts: readonly string[], options?: EncodeOptions): EncodedBatch {
    const b = encodeBatchCpu(this.tokenizer, texts, options);
    this.#stats = { ...emptyStats(), items: texts.length, tokens: b.tokens.length };
    return b;
  }

  /** See {@link Backend.parseBatch}; synchronous. */
  parseBatch(
    completions: ReadonlyArray<ArrayLike<number>>,
    options?: ParseBatchOptions,
  ): ParsedCompletion[] {
    let tokens = 0;
    for (const c of completions) tokens += c.length;
    this.#stats = { ...emptyStats(), items: completions.length, tokens };
    return parseBatchCpu(this.tokenizer, completions, options);
  }

  /** See {@link Backend.lastStats}. */
  lastStats(): BatchStats {
    return { ...this.#stats };
  }

  /** Nothing to free. */
  destroy(): void {}
}
