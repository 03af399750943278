/**
 * The CPU backend: the reference the GPU backend must match. Encoding loops over the CPU
 * tokenizer; parsing runs the streaming parser on each completion.
 *
 * @module
 */

import { parseMessagesFromCompletionTokens } from "../parse/completion.ts";
import { loadTokenizer } from "../tokenizer/mod.ts";
import { TokenBuffer } from "../tokenizer/token_buffer.ts";
import type { EncodeOptions, Tokenizer } from "../tokenizer/types.ts";
import {
  type Backend,
  type BatchStats,
  EncodedBatch,
  type ParseBatchOptions,
  type ParsedCompletion,
} from "./backend.ts";

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

/** Encodes each text with `tokenizer.encode` (errors per text), into one {@link EncodedBatch}. *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { encodeBatchCpu } from "./cpu_backend.ts";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * strictEqual(encodeBatchCpu(await loadTokenizer(), ["hi", "<|end|>"]).errors.size, 1);
 * ```
 */
export function encodeBatchCpu(
  tokenizer: Tokenizer,
  texts: readonly string[],
  options?: EncodeOptions,
): EncodedBatch {
  const out = new TokenBuffer(1024);
  const offsets = new Uint32Array(texts.length + 1);
  const errors = new Map<number, Error>();
  for (let i = 0; i < texts.length; i++) {
    offsets[i] = out.length;
    try {
      out.pushAll(tokenizer.encode(texts[i], options));
    } catch (e) {
      errors.set(i, e instanceof Error ? e : new Error(String(e)));
    }
  }
  offsets[texts.length] = out.length;
  return new EncodedBatch(out.toArray(), offsets, errors);
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
 * deepStrictEqual((await cpu.encodeBatch(["hello world"])).get(0), new Uint32Array([24912, 2375]));
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

  /** See {@link Backend.encodeBatch}. */
  encodeBatch(texts: readonly string[], options?: EncodeOptions): Promise<EncodedBatch> {
    const b = encodeBatchCpu(this.tokenizer, texts, options);
    this.#stats = { ...emptyStats(), items: texts.length, tokens: b.tokens.length };
    return Promise.resolve(b);
  }

  /** See {@link Backend.parseBatch}. */
  parseBatch(
    completions: ReadonlyArray<ArrayLike<number>>,
    options?: ParseBatchOptions,
  ): Promise<ParsedCompletion[]> {
    let tokens = 0;
    for (const c of completions) tokens += c.length;
    this.#stats = { ...emptyStats(), items: completions.length, tokens };
    return Promise.resolve(parseBatchCpu(this.tokenizer, completions, options));
  }

  /** See {@link Backend.lastStats}. */
  lastStats(): BatchStats {
    return { ...this.#stats };
  }

  /** Nothing to free. */
  destroy(): void {}
}
