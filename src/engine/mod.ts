/**
 * The engine: batch encoding and parsing on the CPU or a GPU, chosen per batch, and the one
 * backend resolver every command and pipeline uses.
 *
 * The seam in a few lines: `BatchEncoder.encodeBatch(texts, options)` (texts → one packed
 * `EncodedBatch`, `src/tokenizer/encoded_batch.ts`) is the only batch-encoding contract;
 * {@link Backend} adds `parseBatch` and `lastStats`; `CpuBackend` and `GpuBackend` implement it,
 * and an {@link Engine} is a `Backend` that picks one of them per batch. Commands and pipelines
 * call {@link openBackend} with their `--backend` value and report {@link Engine.describe}, which
 * says what actually ran (`cpu`, `gpu (ADAPTER)`, `auto: 12 batches gpu, 3 cpu`).
 *
 * - `cpu` never touches WebGPU.
 * - `gpu` uses the GPU for every batch (software adapters included) and fails with
 *   {@link GpuUnavailableError} when there is no adapter.
 * - `auto` (default) uses a hardware GPU for batches of at least a calibrated threshold and the
 *   CPU otherwise; software adapters (llvmpipe, lavapipe, SwiftShader, any fallback adapter) are
 *   never chosen, since they are slower than the CPU path. On a machine without a GPU device
 *   node no GPU runtime is started at all (`mayHaveGpu`). Otherwise the adapter's threshold comes
 *   from the calibration cache (the device is then opened lazily, on the first batch that big) or
 *   is measured at start (`./calibration.ts`: both backends on a fixed batch, a few ms) and
 *   cached per adapter, engine version and runtime; `describe()` and `info().choice` say what
 *   was chosen and why. With `minGpuBatchBytes` the threshold is fixed instead and the GPU is
 *   opened lazily on the first batch that big.
 *
 * Sync or async: a batch the engine keeps on the CPU is returned directly; only GPU batches (and
 * the one that opens the GPU) return a Promise.
 *
 * Importing this module loads no GPU code: the WebGPU modules (context, kernels, shaders) are
 * imported when a GPU is opened.
 *
 * @module
 */

import type { Message } from "../chat/message.ts";
import type { ConversationLike, HarmonyEncoding } from "../encoding/harmony_encoding.ts";
import type { BatchItem, BatchRenderOptions } from "../render/plan.ts";
import type { GpuContext } from "../gpu/context.ts";
import { GpuUnavailableError, SoftwareAdapterError } from "../gpu/errors.ts";
import type { EncodeOptions } from "../tokenizer/types.ts";
import {
  type Backend,
  BACKEND_KINDS,
  type BackendKind,
  type BatchStats,
  type EncodedBatch,
  ORDINARY,
  type ParseBatchOptions,
  type ParsedCompletion,
} from "./backend.ts";
import type { Calibration, CalibrationTimer } from "./calibration.ts";
import { CpuBackend } from "./cpu_backend.ts";
import type { GpuBackend } from "./gpu_backend.ts";

export {
  type Backend,
  BACKEND_KINDS,
  type BackendKind,
  type BatchEncoder,
  type BatchStats,
  EncodedBatch,
  ORDINARY,
  type ParseBatchOptions,
  type ParsedCompletion,
} from "./backend.ts";
export { CpuBackend } from "./cpu_backend.ts";
export type { GpuBackend } from "./gpu_backend.ts";
export type { Calibration, CalibrationTimer } from "./calibration.ts";
export { buildMessageTable, type MessageTable, NO_STOP, tableMessages } from "./message_table.ts";
export { GpuUnavailableError } from "../gpu/errors.ts";

/** Options of {@link openBackend} (and {@link createEngine}). */
export interface EngineOptions {
  /** `auto` (default), `gpu` or `cpu`; see the module documentation. */
  backend?: BackendKind;
  /**
   * The `GPU` object to use (Deno's `navigator.gpu`, the `webgpu` package's `create([])` in Bun, a
   * browser's). Default: found for the current runtime (`findGpu`).
   */
  gpu?: GPU;
  /**
   * In `auto` mode, a fixed smallest batch sent to the GPU, in UTF-16 code units of text
   * (encode) or 4 × tokens (parse); the GPU is opened lazily, on the first batch that big.
   * Default: none — `auto` calibrates the threshold instead (see {@link EngineOptions.calibration}).
   */
  minGpuBatchBytes?: number;
  /** How `auto` (without `minGpuBatchBytes`) calibrates its GPU threshold. */
  calibration?: CalibrationOptions;
  /** Caps the storage-binding size batches are split by (tests). Default: the adapter's limit. */
  maxStorageBufferBindingSize?: number;
  /** Measure kernel time with `timestamp-query` when available. Default false. */
  timestamps?: boolean;
  /** Receives warnings (GPU failure finished on the CPU). Default `console.warn`. */
  onWarning?: (message: string) => void;
}

/** Options of the `auto` calibration (see `./calibration.ts`). */
export interface CalibrationOptions {
  /**
   * The cache file. Default: `defaultCalibrationPath()` (`$XDG_CACHE_HOME/harmony-engine/
   * calibration.json`); `null`: no cache (measure at every start).
   */
  cachePath?: string | null;
  /** Times one batch per backend (tests inject timings). Default: wall time of `encodeBatch`. */
  time?: CalibrationTimer;
  /**
   * Whether the machine may have a GPU, asked before any GPU runtime is started (skipped when
   * `gpu` is given). Default: `mayHaveGpu` (device nodes).
   */
  mayHaveGpu?: () => boolean;
  /** Calibrate software adapters too instead of refusing them (tests). Default false. */
  allowSoftware?: boolean;
}

/** What {@link Engine.info} reports. */
export interface EngineInfo {
  /** The requested mode. */
  mode: BackendKind;
  /** Backends available: always `cpu`, plus `gpu` when a device is held. */
  backends: Array<"cpu" | "gpu">;
  /** The adapter's name, when a GPU was found. */
  adapter?: string;
  /** Whether that adapter is a software rasterizer. */
  software?: boolean;
  /**
   * Why the GPU is not used, when it is not (in `auto` mode before the first batch big enough
   * for the GPU: that it has not been opened).
   */
  reason?: string;
  /** Batches run so far, by the backend that ran them (from each batch's stats). */
  batches: { cpu: number; gpu: number };
  /**
   * In calibrated `auto` mode: what the calibration chose and why (measured now or cached), e.g.
   * `auto: GPU for batches of 120,000+ chars (cached: CPU 31.0 ms/MB, GPU 2.10 ms + 3.2 ms/MB)`.
   */
  choice?: string;
}

/**
 * Batch encoding, parsing and rendering on the backend chosen per batch: a {@link Backend}
 * whose `kind` is the mode it was opened with.
 */
export interface Engine extends Backend {
  /**
   * Renders many conversations (`HarmonyEncoding.planBatch` of the `HarmonyGptOss` encoding), their
   * texts encoded together by this engine (`encodeBatch` with `ORDINARY`). Errors per conversation.
   */
  renderBatch(
    conversations: ReadonlyArray<ConversationLike>,
    options: BatchRenderOptions,
  ): Promise<BatchItem[]>;
  /** Which backends the engine holds, which adapter, and the batches each ran. */
  info(): EngineInfo;
  /**
   * What ran the batches so far, for summaries: `cpu`, `gpu (ADAPTER)`, or for a mix
   * `auto: 12 batches gpu (ADAPTER), 3 cpu`. Before any batch: what the next one would use.
   */
  describe(): string;
  /** Statistics of the last batch (which backend ran it, dispatches, bytes moved, …). */
  lastStats(): BatchStats;
}

const ADAPTER_CHARS = 48;

class EngineImpl implements Engine {
  readonly kind: BackendKind;
  #cpu: CpuBackend;
  #gpu: GpuBackend | undefined;
  /** `auto` only: the GPU is opened on the first batch of at least `#min` (then undefined). */
  #open: (() => Promise<GpuBackend | undefined>) | undefined;
  #opening: Promise<GpuBackend | undefined> | undefined;
  #info: EngineInfo;
  #min: number;
  #last: Backend;
  #encoding: HarmonyEncoding | undefined;

  constructor(
    cpu: CpuBackend,
    gpu: GpuBackend | undefined,
    info: Omit<EngineInfo, "batches">,
    min: number,
    open?: (engine: EngineImpl) => Promise<GpuBackend | undefined>,
  ) {
    this.kind = info.mode;
    this.#cpu = cpu;
    this.#gpu = gpu;
    this.#info = { ...info, batches: { cpu: 0, gpu: 0 } };
    this.#min = min;
    this.#last = cpu;
    this.#open = open && (() => open(this));
  }

  /** Called by the opener with what it found (`auto` mode). */
  setGpu(gpu: GpuBackend | undefined, info: Omit<EngineInfo, "batches" | "mode">): void {
    this.#gpu = gpu;
    this.#info = {
      ...info,
      mode: this.#info.mode,
      batches: this.#info.batches,
      ...(this.#info.choice === undefined ? {} : { choice: this.#info.choice }),
    };
  }

  #wantsGpu(size: number): boolean {
    return this.#info.mode === "gpu" || size >= this.#min;
  }

  #count(b: Backend): void {
    this.#last = b;
    this.#info.batches[b.lastStats().backend]++;
  }

  /**
   * Runs `job` on the backend for a batch of `size`: directly on the CPU (no Promise), or on the
   * GPU, opening it first in `auto` mode.
   */
  #run<T>(size: number, job: (b: Backend) => T | Promise<T>): T | Promise<T> {
    if (!this.#wantsGpu(size) || (this.#gpu === undefined && this.#open === undefined)) {
      const r = job(this.#cpu);
      this.#count(this.#cpu);
      return r;
    }
    return this.#runGpu(job);
  }

  async #runGpu<T>(job: (b: Backend) => T | Promise<T>): Promise<T> {
    if (this.#gpu === undefined && this.#open !== undefined) {
      this.#opening ??= this.#open();
      await this.#opening;
      this.#open = undefined;
    }
    const b: Backend = this.#gpu ?? this.#cpu;
    const r = await job(b);
    this.#count(b);
    return r;
  }

  encodeBatch(
    texts: readonly string[],
    options?: EncodeOptions,
  ): EncodedBatch | Promise<EncodedBatch> {
    let size = 0;
    for (let i = 0; i < texts.length; i++) size += texts[i].length;
    return this.#run(size, (b) => b.encodeBatch(texts, options));
  }

  parseBatch(
    completions: ReadonlyArray<ArrayLike<number>>,
    options?: ParseBatchOptions,
  ): ParsedCompletion[] | Promise<ParsedCompletion[]> {
    let size = 0;
    for (let i = 0; i < completions.length; i++) size += 4 * completions[i].length;
    return this.#run(size, (b) => b.parseBatch(completions, options));
  }

  async renderBatch(
    conversations: ReadonlyArray<ConversationLike>,
    options: BatchRenderOptions,
  ): Promise<BatchItem[]> {
    if (this.#encoding === undefined) {
      const { loadHarmonyEncoding } = await import("../encoding/harmony_encoding.ts");
      this.#encoding = await loadHarmonyEncoding("HarmonyGptOss");
    }
    const plan = this.#encoding.planBatch(conversations, options);
    return plan.finish(await this.encodeBatch(plan.texts, ORDINARY));
  }

  info(): EngineInfo {
    const i = this.#info;
    return { ...i, backends: [...i.backends], batches: { ...i.batches } };
  }

  describe(): string {
    const { cpu, gpu } = this.#info.batches;
    const name = `gpu (${(this.#info.adapter ?? "unknown adapter").slice(0, ADAPTER_CHARS)})`;
    const ran = gpu === 0
      ? (cpu > 0 || !this.#info.backends.includes("gpu") ? "cpu" : name)
      : cpu === 0
      ? name
      : `${this.#info.mode}: ${gpu} batches ${name}, ${cpu} cpu`;
    return this.#info.choice === undefined ? ran : `${ran}; ${this.#info.choice}`;
  }

  lastStats(): BatchStats {
    return this.#last.lastStats();
  }

  destroy(): void {
    this.#open = undefined;
    this.#gpu?.destroy();
    this.#gpu = undefined;
    this.#cpu.destroy();
  }
}

/**
 * Opens the backend for a `--backend` value: the one resolver every command and pipeline uses.
 * `cpu` is the CPU backend; `gpu` opens a WebGPU device now (any adapter); `auto` sends batches
 * to a hardware GPU from a calibrated (cached) threshold on, or from `minGpuBatchBytes` when
 * given (see the module documentation). Summaries report {@link Engine.describe}.
 *
 * @throws {GpuUnavailableError} with `gpu` when no WebGPU adapter or device exists.
 * @throws {TypeError} on an unknown kind.
 * @example
 * ```ts
 * import { deepStrictEqual, match } from "node:assert/strict";
 * import { openBackend } from "./mod.ts";
 * const engine = await openBackend("auto");
 * const batch = await engine.encodeBatch(["hello world", "<|start|>"], { allowedSpecial: "all" });
 * deepStrictEqual(batch.get(1), new Uint32Array([200006]));
 * match(engine.describe(), /^cpu/); // a small batch: the GPU was not even opened
 * engine.destroy();
 * ```
 */
export async function openBackend(
  kind: BackendKind = "auto",
  options: Omit<EngineOptions, "backend"> = {},
): Promise<Engine> {
  const mode = kind;
  if (!(BACKEND_KINDS as readonly string[]).includes(mode)) {
    throw new TypeError(`Cannot open backend: unknown backend "${String(mode).slice(0, 32)}"`);
  }
  const cpu = await CpuBackend.create();
  const min = options.minGpuBatchBytes ?? 1 << 20;
  if (mode === "cpu") {
    return new EngineImpl(cpu, undefined, { mode, backends: ["cpu"], reason: "backend: cpu" }, min);
  }
  if (mode === "auto" && options.minGpuBatchBytes === undefined) {
    try {
      return await openCalibrated(cpu, options);
    } catch (e) {
      cpu.destroy();
      throw e;
    }
  }
  if (mode === "auto") {
    return new EngineImpl(
      cpu,
      undefined,
      { mode, backends: ["cpu"], reason: "auto: no batch big enough for the GPU yet" },
      min,
      async (engine) => {
        const r = await openGpu(mode, options);
        engine.setGpu(r.gpu, r.info);
        return r.gpu;
      },
    );
  }
  const r = await openGpu(mode, options);
  return new EngineImpl(cpu, r.gpu, { mode, ...r.info }, min);
}

/**
 * `auto` with a calibrated threshold. No GPU runtime is started when the machine has no GPU
 * device node (`mayHaveGpu`); otherwise the adapter is asked for (no device yet): a software one
 * is refused, and a hardware one's threshold comes from the cache (the device is then opened
 * lazily, on the first batch that big) or is measured now on both backends and cached.
 */
async function openCalibrated(
  cpu: CpuBackend,
  options: Omit<EngineOptions, "backend">,
): Promise<Engine> {
  const cal = options.calibration ?? {};
  const mode = "auto" as const;
  const cpuOnly = (reason: string, extra: Partial<EngineInfo> = {}) =>
    new EngineImpl(cpu, undefined, { mode, backends: ["cpu"], reason, ...extra }, Infinity);
  const {
    calibrate,
    CalibrationCache,
    calibrationKey,
    defaultCalibrationPath,
    describeCalibration,
    mayHaveGpu,
  } = await import("./calibration.ts");
  // A GPU object passed in is taken as the answer, unless a probe is passed too (tests).
  const probeMachine = cal.mayHaveGpu ?? (options.gpu === undefined ? mayHaveGpu : () => true);
  if (!probeMachine()) {
    return cpuOnly(
      "auto: no GPU device on this machine (no /dev/dri render node, /dev/nvidia0, /dev/dxg or " +
        "/dev/kfd); the GPU runtime was not started",
    );
  }
  const probe = await probeAdapter(options);
  if (probe.name === undefined) return cpuOnly(probe.reason);
  const adapterInfo = { adapter: probe.name, software: probe.software };
  if (probe.software && !cal.allowSoftware) {
    return cpuOnly(
      `Cannot use the GPU: ${probe.name.slice(0, 48)} is a software adapter, slower than the ` +
        "CPU path",
      adapterInfo,
    );
  }
  const key = calibrationKey(probe.name);
  const path = cal.cachePath === undefined ? defaultCalibrationPath() : cal.cachePath;
  const cache = path ? new CalibrationCache(path) : undefined;
  const hit = cache?.read(key);
  if (hit) {
    const choice = describeCalibration(hit, "cached");
    if (hit.threshold === null) return cpuOnly(choice, { ...adapterInfo, choice });
    return new EngineImpl(
      cpu,
      undefined,
      { mode, backends: ["cpu"], ...adapterInfo, reason: "auto: no batch big enough yet", choice },
      hit.threshold,
      async (engine) => {
        const r = await openGpu(mode, options, !cal.allowSoftware);
        engine.setGpu(r.gpu, r.info);
        return r.gpu;
      },
    );
  }
  const r = await openGpu(mode, options, !cal.allowSoftware);
  const gpu = r.gpu;
  if (!gpu) return cpuOnly(r.info.reason ?? "auto: the GPU could not be opened", r.info);
  let measured: Calibration;
  try {
    measured = await calibrate(cal.time ?? wallTimer(cpu, gpu));
  } catch (e) {
    gpu.destroy();
    throw e;
  }
  const choice = describeCalibration(measured, "measured");
  if (cache) {
    try {
      cache.write({ ...measured, key, measuredAt: new Date().toISOString() });
    } catch (e) {
      (options.onWarning ?? console.warn)(
        `harmony-engine: cannot write the calibration cache ${cache.path}: ` +
          (e instanceof Error ? e.message : String(e)),
      );
    }
  }
  if (measured.threshold === null) {
    gpu.destroy();
    return cpuOnly(choice, { ...adapterInfo, choice });
  }
  return new EngineImpl(cpu, gpu, { mode, ...r.info, choice }, measured.threshold);
}

/** Wall time of one `encodeBatch` per backend (the GPU's is asynchronous). */
function wallTimer(cpu: CpuBackend, gpu: GpuBackend): CalibrationTimer {
  return async (backend, texts) => {
    const t0 = performance.now();
    await (backend === "cpu" ? cpu : gpu).encodeBatch(texts, ORDINARY);
    return performance.now() - t0;
  };
}

/** The adapter's name and kind without creating a device, or why there is none. */
async function probeAdapter(
  options: Omit<EngineOptions, "backend">,
): Promise<{ name: string; software: boolean } | { name?: undefined; reason: string }> {
  const [{ describeAdapter }, { loadGpu }] = await Promise.all([
    import("../gpu/context.ts"),
    import("../gpu/runtime.ts"),
  ]);
  let gpuObject: GPU;
  try {
    gpuObject = options.gpu ?? await loadGpu();
  } catch (e) {
    if (!(e instanceof GpuUnavailableError)) throw e;
    return { reason: e.message };
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpuObject.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    return { reason: `Cannot request a WebGPU adapter: ${e instanceof Error ? e.message : e}` };
  }
  if (!adapter) return { reason: "Cannot use the GPU: no WebGPU adapter was found" };
  const a = describeAdapter(adapter);
  return { name: a.name, software: a.software };
}

/**
 * Opens the GPU backend. In `gpu` mode failures throw; in `auto` mode they (and software
 * adapters, refused before a device is created unless `requireHardware` is false) give no GPU
 * and the reason.
 */
async function openGpu(
  mode: "auto" | "gpu",
  options: Omit<EngineOptions, "backend">,
  requireHardware: boolean = mode === "auto",
): Promise<{ gpu?: GpuBackend; info: Omit<EngineInfo, "batches" | "mode"> }> {
  const [{ GpuContext }, { GpuBackend }, { loadGpu }] = await Promise.all([
    import("../gpu/context.ts"),
    import("./gpu_backend.ts"),
    import("../gpu/runtime.ts"),
  ]);
  let gpuObject: GPU;
  try {
    // loadGpu names what is missing (navigator.gpu, or the optional `webgpu` package and how to
    // install it) in its GpuUnavailableError.
    gpuObject = options.gpu ?? await loadGpu();
  } catch (e) {
    if (mode === "gpu" || !(e instanceof GpuUnavailableError)) throw e;
    return { info: { backends: ["cpu"], reason: e.message } };
  }
  let ctx: GpuContext;
  try {
    ctx = await GpuContext.create(gpuObject, {
      maxStorageBufferBindingSize: options.maxStorageBufferBindingSize,
      timestamps: options.timestamps,
      // auto never uses a software adapter: refuse it before a device is created.
      requireHardware,
    });
  } catch (e) {
    if (mode === "gpu") throw e;
    if (e instanceof SoftwareAdapterError) {
      return {
        info: {
          backends: ["cpu"],
          software: true,
          reason: `${e.message}, slower than the CPU path`,
        },
      };
    }
    return { info: { backends: ["cpu"], reason: e instanceof Error ? e.message : String(e) } };
  }
  const adapter = ctx.adapter.name, software = ctx.adapter.software;
  try {
    const gpu = await GpuBackend.create(ctx, { onWarning: options.onWarning });
    return { gpu, info: { backends: ["cpu", "gpu"], adapter, software } };
  } catch (e) {
    ctx.destroy();
    if (mode === "gpu") {
      throw new GpuUnavailableError(
        `Cannot use the GPU backend: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    const reason = e instanceof Error ? e.message : String(e);
    return { info: { backends: ["cpu"], adapter, software, reason } };
  }
}

/**
 * Creates an engine: {@link openBackend} with the kind in `options.backend` (default `auto`).
 *
 * @throws {GpuUnavailableError} with `backend: "gpu"` when no WebGPU adapter or device exists.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { createEngine } from "./mod.ts";
 * const engine = await createEngine({ backend: "cpu" });
 * deepStrictEqual(engine.encodeBatch(["hello"]), engine.encodeBatch(["hello"]));
 * engine.destroy();
 * ```
 */
export function createEngine(options: EngineOptions = {}): Promise<Engine> {
  return openBackend(options.backend ?? "auto", options);
}

/** Re-exported for callers that only need the message type with parse results. */
export type { Message };
