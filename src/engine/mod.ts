/**
 * The engine: batch encoding and parsing on the CPU or a GPU, chosen per batch.
 *
 * - `backend: "cpu"` never touches WebGPU.
 * - `backend: "gpu"` uses the GPU for every batch (software adapters included) and fails with
 *   {@link GpuUnavailableError} when there is no adapter.
 * - `backend: "auto"` (default) uses a hardware GPU for batches of at least `minGpuBatchBytes`
 *   and the CPU otherwise; software adapters (llvmpipe, lavapipe, SwiftShader, any fallback
 *   adapter) are never chosen, since they are slower than the CPU path.
 *
 * Importing this module loads no GPU code: the WebGPU modules (context, kernels, shaders) are
 * imported when `createEngine` is asked for a GPU.
 *
 * @module
 */

import type { Message } from "../chat/message.ts";
import type { ConversationLike } from "../encoding/harmony_encoding.ts";
import type { BatchItem, BatchRenderOptions } from "../render/plan.ts";
import type { GpuContext } from "../gpu/context.ts";
import { GpuUnavailableError, SoftwareAdapterError } from "../gpu/errors.ts";
import type { EncodeOptions } from "../tokenizer/types.ts";
import type {
  Backend,
  BatchStats,
  EncodedBatch,
  ParseBatchOptions,
  ParsedCompletion,
} from "./backend.ts";
import { CpuBackend } from "./cpu_backend.ts";
import type { GpuBackend } from "./gpu_backend.ts";

export {
  type Backend,
  type BatchStats,
  EncodedBatch,
  type ParseBatchOptions,
  type ParsedCompletion,
} from "./backend.ts";
export { CpuBackend } from "./cpu_backend.ts";
export type { GpuBackend } from "./gpu_backend.ts";
export { buildMessageTable, type MessageTable, NO_STOP, tableMessages } from "./message_table.ts";
export { GpuUnavailableError } from "../gpu/errors.ts";

/** Options of {@link createEngine}. */
export interface EngineOptions {
  /** `auto` (default), `gpu` or `cpu`; see the module documentation. */
  backend?: "auto" | "gpu" | "cpu";
  /**
   * The `GPU` object to use (Deno's `navigator.gpu`, the `webgpu` package's `create([])` in Bun, a
   * browser's). Default: found for the current runtime (`findGpu`).
   */
  gpu?: GPU;
  /** In `auto` mode, the smallest batch sent to the GPU, in UTF-16 code units of text (encode) or 4 × tokens (parse). Default 2^20. */
  minGpuBatchBytes?: number;
  /** Caps the storage-binding size batches are split by (tests). Default: the adapter's limit. */
  maxStorageBufferBindingSize?: number;
  /** Measure kernel time with `timestamp-query` when available. Default false. */
  timestamps?: boolean;
  /** Receives warnings (GPU failure finished on the CPU). Default `console.warn`. */
  onWarning?: (message: string) => void;
}

/** What {@link Engine.info} reports. */
export interface EngineInfo {
  /** The requested mode. */
  mode: "auto" | "gpu" | "cpu";
  /** Backends available: always `cpu`, plus `gpu` when a device is held. */
  backends: Array<"cpu" | "gpu">;
  /** The adapter's name, when a GPU was found. */
  adapter?: string;
  /** Whether that adapter is a software rasterizer. */
  software?: boolean;
  /** Why the GPU is not used, when it is not. */
  reason?: string;
}

/** Batch encoding and parsing on the chosen backend. */
export interface Engine {
  /** Encodes texts with tiktoken's special-token semantics (`Tokenizer.encode`), errors per text. */
  encodeBatch(texts: readonly string[], options?: EncodeOptions): Promise<EncodedBatch>;
  /** Encodes texts as ordinary text (`encode_ordinary`); the renderer's batch-backend shape. */
  encodeOrdinaryBatch(texts: readonly string[]): Promise<Uint32Array[]>;
  /** Parses completions' token ids into messages, errors per completion. */
  parseBatch(
    completions: ReadonlyArray<ArrayLike<number>>,
    options?: ParseBatchOptions,
  ): Promise<ParsedCompletion[]>;
  /**
   * Renders many conversations (`HarmonyEncoding.renderBatch` of the `HarmonyGptOss` encoding),
   * their texts encoded together by this engine (`encodeOrdinaryBatch`). Errors per conversation.
   */
  renderBatch(
    conversations: ReadonlyArray<ConversationLike>,
    options: BatchRenderOptions,
  ): Promise<BatchItem[]>;
  /** Which backends the engine holds and which adapter. */
  info(): EngineInfo;
  /** Statistics of the last batch (which backend ran it, dispatches, bytes moved, …). */
  lastStats(): BatchStats;
  /** Frees the GPU device, if any. */
  destroy(): void;
}

class EngineImpl implements Engine {
  #cpu: CpuBackend;
  #gpu: GpuBackend | undefined;
  #info: EngineInfo;
  #mode: "auto" | "gpu" | "cpu";
  #min: number;
  #last: Backend;

  constructor(cpu: CpuBackend, gpu: GpuBackend | undefined, info: EngineInfo, min: number) {
    this.#cpu = cpu;
    this.#gpu = gpu;
    this.#info = info;
    this.#mode = info.mode;
    this.#min = min;
    this.#last = cpu;
  }

  #pick(size: number): Backend {
    const gpu = this.#gpu;
    const b = gpu && (this.#mode === "gpu" || size >= this.#min) ? gpu : this.#cpu;
    this.#last = b;
    return b;
  }

  encodeBatch(texts: readonly string[], options?: EncodeOptions): Promise<EncodedBatch> {
    let size = 0;
    for (const t of texts) size += t.length;
    return this.#pick(size).encodeBatch(texts, options);
  }

  async encodeOrdinaryBatch(texts: readonly string[]): Promise<Uint32Array[]> {
    const b = await this.encodeBatch(texts, { disallowedSpecial: [] });
    return b.toArrays();
  }

  parseBatch(
    completions: ReadonlyArray<ArrayLike<number>>,
    options?: ParseBatchOptions,
  ): Promise<ParsedCompletion[]> {
    let size = 0;
    for (const c of completions) size += 4 * c.length;
    return this.#pick(size).parseBatch(completions, options);
  }

  async renderBatch(
    conversations: ReadonlyArray<ConversationLike>,
    options: BatchRenderOptions,
  ): Promise<BatchItem[]> {
    const { loadHarmonyEncoding } = await import("../encoding/harmony_encoding.ts");
    const plan = (await loadHarmonyEncoding("HarmonyGptOss")).planBatch(conversations, options);
    return plan.finish(plan.texts.length > 0 ? await this.encodeOrdinaryBatch(plan.texts) : []);
  }

  info(): EngineInfo {
    return { ...this.#info, backends: [...this.#info.backends] };
  }

  lastStats(): BatchStats {
    return this.#last.lastStats();
  }

  destroy(): void {
    this.#gpu?.destroy();
    this.#gpu = undefined;
    this.#cpu.destroy();
  }
}

/**
 * Creates an engine.
 *
 * @throws {GpuUnavailableError} with `backend: "gpu"` when no WebGPU adapter or device exists.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { createEngine } from "./mod.ts";
 * const engine = await createEngine({ backend: "cpu" });
 * const batch = await engine.encodeBatch(["hello world", "<|start|>"], { allowedSpecial: "all" });
 * deepStrictEqual(batch.get(1), new Uint32Array([200006]));
 * engine.destroy();
 * ```
 */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const mode = options.backend ?? "auto";
  if (mode !== "auto" && mode !== "gpu" && mode !== "cpu") {
    throw new TypeError(`Cannot create engine: unknown backend "${String(mode).slice(0, 32)}"`);
  }
  const cpu = await CpuBackend.create();
  const min = options.minGpuBatchBytes ?? 1 << 20;
  if (mode === "cpu") {
    return new EngineImpl(cpu, undefined, { mode, backends: ["cpu"], reason: "backend: cpu" }, min);
  }
  const [{ GpuContext }, { GpuBackend }, { findGpu }] = await Promise.all([
    import("../gpu/context.ts"),
    import("./gpu_backend.ts"),
    import("../gpu/runtime.ts"),
  ]);
  const gpuObject = options.gpu ?? await findGpu();
  if (!gpuObject) {
    const reason = "this runtime has no WebGPU (no navigator.gpu, no webgpu package)";
    if (mode === "gpu") throw new GpuUnavailableError(`Cannot use the GPU backend: ${reason}`);
    return new EngineImpl(cpu, undefined, { mode, backends: ["cpu"], reason }, min);
  }
  let ctx: GpuContext;
  try {
    ctx = await GpuContext.create(gpuObject, {
      maxStorageBufferBindingSize: options.maxStorageBufferBindingSize,
      timestamps: options.timestamps,
      // auto never uses a software adapter: refuse it before a device is created.
      requireHardware: mode === "auto",
    });
  } catch (e) {
    if (mode === "gpu") throw e;
    if (e instanceof SoftwareAdapterError) {
      return new EngineImpl(cpu, undefined, {
        mode,
        backends: ["cpu"],
        software: true,
        reason: `${e.message}, slower than the CPU path`,
      }, min);
    }
    const reason = e instanceof Error ? e.message : String(e);
    return new EngineImpl(cpu, undefined, { mode, backends: ["cpu"], reason }, min);
  }
  const adapter = ctx.adapter.name, software = ctx.adapter.software;
  let gpu: GpuBackend;
  try {
    gpu = await GpuBackend.create(ctx, { onWarning: options.onWarning });
  } catch (e) {
    ctx.destroy();
    if (mode === "gpu") {
      throw new GpuUnavailableError(
        `Cannot use the GPU backend: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    const reason = e instanceof Error ? e.message : String(e);
    return new EngineImpl(
      cpu,
      undefined,
      { mode, backends: ["cpu"], adapter, software, reason },
      min,
    );
  }
  return new EngineImpl(cpu, gpu, { mode, backends: ["cpu", "gpu"], adapter, software }, min);
}

/** Re-exported for callers that only need the message type with parse results. */
export type { Message };
