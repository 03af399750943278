/**
 * The GPU context: one adapter and device with its pipeline cache and buffer pool, the limits
 * batches are split by, error capture and statistics. Takes the runtime's `GPU` object as a
 * parameter (see `runtime.ts`).
 *
 * @module
 */

import { BufferUsage, MapMode } from "./_flags.ts";
import { BufferPool } from "./buffer_pool.ts";
import { GpuBatchError, GpuUnavailableError, SoftwareAdapterError } from "./errors.ts";
import {
  type CompiledKernel,
  dispatchSize,
  type Kernel,
  packUniforms,
  PipelineCache,
} from "./pipeline_cache.ts";

/** What is known about the adapter (from `GPUAdapter.info`). */
export interface GpuAdapterSummary {
  /** Vendor string (may be empty or numeric). */
  vendor: string;
  /** Architecture (may be empty). */
  architecture: string;
  /** Device name (may be empty). */
  device: string;
  /** Driver description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  description: string;
  /** Whether the adapter says it is a fallback (software) adapter. */
  isFallbackAdapter: boolean;
  /** Whether this is a software rasterizer (fallback flag, or llvmpipe/lavapipe/SwiftShader/…). */
  software: boolean;
  /** A one-line name for reports: description, else vendor/device. */
  name: string;
}

/** The limits batches are planned against. */
export interface GpuLimits {
  /** Largest storage binding, in bytes. */
  maxStorageBufferBindingSize: number;
  /** Largest buffer, in bytes. */
  maxBufferSize: number;
  /** Most workgroups along one dispatch dimension. */
  maxComputeWorkgroupsPerDimension: number;
}

/** Options of {@link GpuContext.create}. */
export interface GpuContextOptions {
  /** Adapter power preference. Default: `"high-performance"`. */
  powerPreference?: GPUPowerPreference;
  /**
   * Caps the storage-binding size batches are split by (bytes), below the adapter's own limit.
   * Tests use it to force splitting. Default: the adapter's limit.
   */
  maxStorageBufferBindingSize?: number;
  /** Request `timestamp-query` (when the adapter has it) to measure kernel time. Default: false. */
  timestamps?: boolean;
  /**
   * Refuse a software adapter before any device is created (the engine's `auto` mode), so that
   * probing a machine without a real GPU costs no device. Default: false.
   */
  requireHardware?: boolean;
}

/** Counters of GPU work (since creation or the last {@link GpuContext.resetStats}). */
export interface GpuStats {
  /** Compute dispatches recorded. */
  dispatches: number;
  /** Queue submissions. */
  submits: number;
  /** Result read-backs (`mapAsync` of a result buffer; timestamp reads are not counted). */
  readBacks: number;
  /** Bytes written to GPU buffers. */
  bytesUploaded: number;
  /** Bytes read back from GPU buffers. */
  bytesDownloaded: number;
  /** Kernel time from timestamp queries, in nanoseconds (0 without `timestamp-query`). */
  gpuTimeNs: number;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe|software|basic render|warp/i;

/**
 * Summarises an adapter's info and decides whether it is a software rasterizer.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { summarizeAdapter } from "./context.ts";
 * strictEqual(summarizeAdapter({ vendor: "mesa", architecture: "software", device: "", description: "llvmpipe" }).software, true);
 * ```
 */
export function summarizeAdapter(
  info: Partial<Pick<GPUAdapterInfo, "vendor" | "architecture" | "device" | "description">> & {
    isFallbackAdapter?: boolean;
  },
  isFallbackAdapter = false,
): GpuAdapterSummary {
  const vendor = String(info.vendor ?? ""), architecture = String(info.architecture ?? "");
  const device = String(info.device ?? ""), description = String(info.description ?? "");
  const fallback = Boolean(info.isFallbackAdapter ?? isFallbackAdapter);
  const software = fallback || SOFTWARE.test(`${vendor} ${architecture} ${device} ${description}`);
  const name = description || [vendor, architecture, device].filter(Boolean).join(" ") ||
    "unknown adapter";
  return { vendor, architecture, device, description, isFallbackAdapter: fallback, software, name };
}

/**
 * Summarises a requested adapter ({@link summarizeAdapter} of its `info`), before any device.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { describeAdapter } from "./context.ts";
 * const a = { info: { vendor: "", architecture: "", device: "", description: "llvmpipe" } };
 * strictEqual(describeAdapter(a as unknown as GPUAdapter).software, true);
 * ```
 */
export function describeAdapter(adapter: GPUAdapter): GpuAdapterSummary {
  const info = (adapter as { info?: GPUAdapterInfo }).info ?? ({} as GPUAdapterInfo);
  return summarizeAdapter(
    {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter,
    },
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
  );
}

/** Work counters at zero. */
function noGpuWork(): GpuStats {
  return {
    dispatches: 0,
    submits: 0,
    readBacks: 0,
    bytesUploaded: 0,
    bytesDownloaded: 0,
    gpuTimeNs: 0,
  };
}

/**
 * A WebGPU device with its pipeline cache, buffer pool and limits.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { GpuContext } from "./context.ts";
 * import { findGpu } from "./runtime.ts";
 * const gpu = await findGpu();
 * if (gpu) {
 *   const ctx = await GpuContext.create(gpu);
 *   strictEqual(typeof ctx.adapter.name, "string");
 *   ctx.destroy();
 * }
 * ```
 */
export class GpuContext {
  /** The device. */
  readonly device: GPUDevice;
  /** The adapter it came from. */
  readonly adapter: GpuAdapterSummary;
  /** Limits batches are split by (possibly capped by options). */
  readonly limits: GpuLimits;
  /** Compiled pipelines. */
  readonly pipelines: PipelineCache;
  /** Pooled buffers. */
  readonly pool: BufferPool;
  /** Whether kernel time is measured with timestamp queries. */
  readonly timestamps: boolean;
  /** Work counters. */
  stats: GpuStats = noGpuWork();
  #lost: string | undefined;
  #destroyed = false;
  #uncaptured: GPUError | undefined;
  #querySet: GPUQuerySet | undefined;

  private constructor(
    device: GPUDevice,
    adapter: GpuAdapterSummary,
    limits: GpuLimits,
    timestamps: boolean,
  ) {
    this.device = device;
    this.adapter = adapter;
    this.limits = limits;
    this.timestamps = timestamps;
    this.pipelines = new PipelineCache(device);
    this.pool = new BufferPool(device);
    device.lost.then((info) => {
      if (!this.#destroyed) this.#lost = `device lost (${info.reason}): ${info.message}`;
    });
    device.addEventListener?.("uncapturederror", (ev: Event) => {
      this.#uncaptured ??= (ev as GPUUncapturedErrorEvent).error;
    });
    if (timestamps) {
      this.#querySet = device.createQuerySet({ type: "timestamp", count: 2, label: "kernel time" });
    }
  }

  /**
   * Requests an adapter and a device from `gpu`, asking only for limits and features the adapter
   * has (the largest storage binding and buffer sizes; `timestamp-query` when asked for).
   *
   * @throws {GpuUnavailableError} when there is no adapter or the device cannot be created.
   */
  static async create(gpu: GPU, options: GpuContextOptions = {}): Promise<GpuContext> {
    let adapter: GPUAdapter | null;
    try {
      adapter = await gpu.requestAdapter({
        powerPreference: options.powerPreference ?? "high-performance",
      });
    } catch (cause) {
      throw new GpuUnavailableError("Cannot request a WebGPU adapter: the request failed", {
        cause,
      });
    }
    if (!adapter) {
      throw new GpuUnavailableError("Cannot use the GPU: no WebGPU adapter was found");
    }
    const summary = describeAdapter(adapter);
    if (options.requireHardware && summary.software) {
      throw new SoftwareAdapterError(
        `Cannot use the GPU: ${summary.name.slice(0, 48)} is a software adapter`,
      );
    }
    const a = adapter.limits;
    const wantTimestamps = options.timestamps === true && adapter.features.has("timestamp-query");
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({
        label: "harmony-engine",
        requiredFeatures: wantTimestamps ? ["timestamp-query"] : [],
        requiredLimits: {
          maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
          maxBufferSize: a.maxBufferSize,
        },
      });
    } catch (cause) {
      throw new GpuUnavailableError("Cannot create a WebGPU device: the adapter refused", {
        cause,
      });
    }
    const d = device.limits;
    const cap = options.maxStorageBufferBindingSize ?? Infinity;
    const limits: GpuLimits = {
      maxStorageBufferBindingSize: Math.min(d.maxStorageBufferBindingSize, d.maxBufferSize, cap),
      maxBufferSize: d.maxBufferSize,
      maxComputeWorkgroupsPerDimension: d.maxComputeWorkgroupsPerDimension,
    };
    return new GpuContext(device, summary, limits, wantTimestamps);
  }

  /** Why the device is unusable (lost or destroyed), or undefined while it works. */
  get lost(): string | undefined {
    return this.#destroyed ? "destroyed" : this.#lost;
  }

  /**
   * Gives back the buffers of a finished (or failed) batch: each is unmapped if a read-back left
   * it mapped, then pooled for reuse, or destroyed when the device is lost or it cannot be
   * unmapped.
   */
  releaseBuffers(buffers: Iterable<GPUBuffer>): void {
    for (const b of buffers) {
      let reusable = this.lost === undefined;
      try {
        if (b.mapState !== "unmapped") b.unmap();
      } catch {
        reusable = false; // the buffer of a lost device: destroyed below, not pooled
      }
      if (reusable && b.mapState === "unmapped") this.pool.release(b);
      else b.destroy();
    }
  }

  /** Zeroes the work counters. */
  resetStats(): void {
    this.stats = noGpuWork();
  }

  /** The compiled pipeline of `kernel`. */
  kernel(kernel: Kernel): CompiledKernel {
    return this.pipelines.get(kernel);
  }

  /** A pooled buffer holding `data` (usage STORAGE | COPY_DST, plus `extraUsage`). */
  upload(data: ArrayBufferView, label: string, extraUsage = 0): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 4) * 4);
    const b = this.pool.acquire(
      size,
      BufferUsage.STORAGE | BufferUsage.COPY_DST | extraUsage,
      label,
    );
    if (data.byteLength % 4 === 0) this.write(b, data);
    else {
      const padded = new Uint8Array(size);
      padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      this.write(b, padded);
    }
    return b;
  }

  /**
   * Writes `data` (a multiple of 4 bytes) to the start of `buffer`, counting the bytes uploaded.
   * Any view works, over an `ArrayBuffer` or a `SharedArrayBuffer`: it is passed as its buffer
   * and byte range, which `writeBuffer` accepts for both (and strict TypeScript too).
   */
  write(buffer: GPUBuffer, data: ArrayBufferView): void {
    if (data.byteLength === 0) return;
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    this.stats.bytesUploaded += data.byteLength;
  }

  /**
   * A pooled uniform buffer holding `kernel`'s uniform block (fields by name, written in the
   * order the kernel declares them; see `packUniforms`).
   */
  params<U extends string>(
    kernel: Kernel<U>,
    values: Readonly<Record<U, number>>,
    label: string,
  ): GPUBuffer {
    const data = packUniforms(kernel, values);
    const b = this.pool.acquire(data.byteLength, BufferUsage.UNIFORM | BufferUsage.COPY_DST, label);
    this.write(b, data);
    return b;
  }

  /** A pooled read-write storage buffer of at least `size` bytes (contents undefined). */
  scratch(size: number, label: string): GPUBuffer {
    return this.pool.acquire(
      Math.max(16, size),
      BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
      label,
    );
  }

  /**
   * Records one dispatch of `threads` threads of `kernel` over `buffers` (binding order) into
   * `pass`, folding the grid into two dimensions above the per-dimension limit.
   */
  dispatch(
    pass: GPUComputePassEncoder,
    kernel: Kernel,
    buffers: GPUBuffer[],
    threads: number,
  ): void {
    if (threads <= 0) return;
    this.#bind(pass, kernel, buffers);
    const [x, y] = dispatchSize(
      threads,
      kernel.workgroupSize,
      this.limits.maxComputeWorkgroupsPerDimension,
    );
    pass.dispatchWorkgroups(x, y);
    this.stats.dispatches++;
  }

  /**
   * Records one dispatch of `kernel` whose grid the device has written: workgroup counts
   * `(x, y, z)` in the first 12 bytes of `args` (a buffer from {@link indirectArgs}), folded as
   * {@link dispatch} folds (kernels take `workgroup_index`).
   */
  dispatchIndirect(
    pass: GPUComputePassEncoder,
    kernel: Kernel,
    buffers: GPUBuffer[],
    args: GPUBuffer,
  ): void {
    this.#bind(pass, kernel, buffers);
    pass.dispatchWorkgroupsIndirect(args, 0);
    this.stats.dispatches++;
  }

  /** A pooled buffer for {@link dispatchIndirect}'s arguments, written by a kernel. */
  indirectArgs(label: string): GPUBuffer {
    return this.pool.acquire(16, BufferUsage.STORAGE | BufferUsage.INDIRECT, label);
  }

  #bind(pass: GPUComputePassEncoder, kernel: Kernel, buffers: GPUBuffer[]): void {
    const c = this.kernel(kernel);
    const bind = this.device.createBindGroup({
      label: kernel.name,
      layout: c.layout,
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    pass.setPipeline(c.pipeline);
    pass.setBindGroup(0, bind);
  }

  /**
   * Runs `record` inside one compute pass (with timestamps when enabled) and submits it, plus
   * any copies `after` records after the pass.
   */
  submit(
    label: string,
    record: (pass: GPUComputePassEncoder) => void,
    after?: (encoder: GPUCommandEncoder) => void,
  ): Promise<void> | undefined {
    const encoder = this.device.createCommandEncoder({ label });
    const pass = encoder.beginComputePass({ label, ...this.passTimestamps("both") });
    record(pass);
    pass.end();
    const timing = this.resolveTimestamps(encoder);
    after?.(encoder);
    this.device.queue.submit([encoder.finish()]);
    this.stats.submits++;
    return timing?.();
  }

  /**
   * The `timestampWrites` of a compute pass when timestamps are enabled (else nothing): `both`
   * for a submission of one pass; `begin` on the first and `end` on the last of several, so the
   * time covers all of them and the copies between.
   */
  passTimestamps(
    which: "both" | "begin" | "end",
  ): { timestampWrites?: GPUComputePassTimestampWrites } {
    const qs = this.#querySet;
    if (!qs) return {};
    return {
      timestampWrites: {
        querySet: qs,
        ...(which !== "end" ? { beginningOfPassWriteIndex: 0 } : {}),
        ...(which !== "begin" ? { endOfPassWriteIndex: 1 } : {}),
      },
    };
  }

  /**
   * Records the read of the timestamps {@link passTimestamps} wrote (after the last timed pass)
   * and returns what to call once the command buffer is submitted: it maps them and adds the
   * elapsed time to `stats.gpuTimeNs` (the promise never rejects). Undefined without timestamps.
   */
  resolveTimestamps(encoder: GPUCommandEncoder): (() => Promise<void>) | undefined {
    const qs = this.#querySet;
    if (!qs) return undefined;
    const timing = this.pool.acquire(
      16,
      BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC,
      "timestamps",
    );
    const tr = this.pool.acquire(
      16,
      BufferUsage.MAP_READ | BufferUsage.COPY_DST,
      "timestamps read",
    );
    encoder.resolveQuerySet(qs, 0, 2, timing, 0);
    encoder.copyBufferToBuffer(timing, 0, tr, 0, 16);
    return () => {
      this.pool.release(timing);
      return tr.mapAsync(MapMode.READ).then(() => {
        const v = new BigUint64Array(tr.getMappedRange(0, 16));
        const ns = Number(v[1] - v[0]);
        if (ns > 0 && ns < 1e12) this.stats.gpuTimeNs += ns;
        tr.unmap();
        this.pool.release(tr);
      }, () => {});
    };
  }

  /** Copies `size` bytes of `src` from `offset` back to the CPU. */
  async readBack(
    src: GPUBuffer,
    offset: number,
    size: number,
    label: string,
  ): Promise<ArrayBuffer> {
    return (await this.readBackMany([{ buffer: src, offset, size }], label))[0];
  }

  /**
   * Copies several regions back to the CPU with one submit and one mapping (each mapping is a
   * round trip to the device; software drivers and Deno make those costly). Offsets and sizes
   * are rounded to 4 bytes.
   */
  async readBackMany(
    regions: ReadonlyArray<{ buffer: GPUBuffer; offset: number; size: number }>,
    label: string,
  ): Promise<ArrayBuffer[]> {
    const sizes = regions.map((r) => Math.max(4, Math.ceil(r.size / 4) * 4));
    const total = sizes.reduce((a, b) => a + b, 0);
    const read = this.pool.acquire(total, BufferUsage.MAP_READ | BufferUsage.COPY_DST, label);
    try {
      const { errors } = this.scoped(label, () => {
        const encoder = this.device.createCommandEncoder({ label });
        let at = 0;
        for (let i = 0; i < regions.length; i++) {
          encoder.copyBufferToBuffer(regions[i].buffer, regions[i].offset, read, at, sizes[i]);
          at += sizes[i];
        }
        this.device.queue.submit([encoder.finish()]);
        this.stats.submits++;
      });
      this.stats.readBacks++;
      await Promise.all([read.mapAsync(MapMode.READ, 0, total), errors]);
      const mapped = read.getMappedRange(0, total);
      const out: ArrayBuffer[] = [];
      let at = 0;
      for (let i = 0; i < regions.length; i++) {
        out.push(mapped.slice(at, at + regions[i].size));
        at += sizes[i];
      }
      this.stats.bytesDownloaded += total;
      return out;
    } finally {
      if (read.mapState === "mapped") read.unmap();
      if (read.mapState === "unmapped") this.pool.release(read);
    }
  }

  /**
   * Runs synchronous GPU calls (`record`: buffer creation, recording, submit) inside error scopes
   * pushed just before and popped just after, with no `await` between, so that batches in flight
   * at the same time each see only their own errors: scopes are one stack per device, and a scope
   * held across an `await` (as in {@link GpuContext.guard}) also catches a concurrent batch's
   * errors. `errors` rejects with a {@link GpuBatchError} naming `label` when a scope caught one;
   * an exception thrown by `record` is rethrown after the scopes are popped.
   */
  scoped<T>(label: string, record: () => T): { value: T; errors: Promise<void> } {
    const device = this.device;
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    device.pushErrorScope("internal");
    let value: T | undefined, failure: unknown, failed = false;
    try {
      value = record();
    } catch (e) {
      failure = e;
      failed = true;
    }
    const pops = [device.popErrorScope(), device.popErrorScope(), device.popErrorScope()];
    const errors = Promise.all(pops).then((found) => {
      const e = found.find((x) => x !== null);
      if (e) throw new GpuBatchError(`Cannot run ${label}: GPU error: ${e.message}`, { cause: e });
    }, (cause: unknown) => {
      throw new GpuBatchError(`Cannot run ${label}: ${this.lost ?? "error scopes failed"}`, {
        cause,
      });
    });
    if (failed) {
      errors.catch(() => {});
      throw failure;
    }
    return { value: value as T, errors };
  }

  /**
   * Runs GPU work and turns any GPU failure (lost device, validation, out-of-memory or internal
   * error, uncaptured error) into a {@link GpuBatchError}.
   */
  async guard<T>(label: string, work: () => Promise<T>): Promise<T> {
    if (this.lost) throw new GpuBatchError(`Cannot run ${label}: ${this.lost}`);
    const device = this.device;
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    device.pushErrorScope("internal");
    let result: T | undefined, failure: unknown;
    try {
      result = await work();
    } catch (e) {
      failure = e;
    }
    const errors: (GPUError | null)[] = [];
    for (let i = 0; i < 3; i++) {
      try {
        errors.push(await device.popErrorScope());
      } catch (e) {
        failure ??= e;
      }
    }
    const gpuError = errors.find((e) => e !== null) ?? this.#uncaptured;
    this.#uncaptured = undefined;
    if (gpuError) {
      throw new GpuBatchError(`Cannot run ${label}: GPU error: ${gpuError.message}`, {
        cause: gpuError,
      });
    }
    if (this.lost) throw new GpuBatchError(`Cannot run ${label}: ${this.lost}`);
    if (failure !== undefined) {
      if (failure instanceof GpuBatchError || failure instanceof RangeError) throw failure;
      throw new GpuBatchError(
        `Cannot run ${label}: ${failure instanceof Error ? failure.message : String(failure)}`,
        { cause: failure },
      );
    }
    return result as T;
  }

  /** Releases the pooled buffers and destroys the device. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.pool.clear();
    this.pipelines.clear();
    this.#querySet?.destroy();
    this.device.destroy();
  }
}
