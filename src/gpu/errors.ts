/**
 * Errors of the GPU layer.
 *
 * @module
 */

/**
 * No usable GPU: the runtime has no WebGPU, no adapter was found, or the device could not be
 * created. Thrown when the GPU backend is forced (`backend: "gpu"`).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { GpuUnavailableError } from "./errors.ts";
 * const e = new GpuUnavailableError("Cannot use the GPU backend: no WebGPU adapter was found");
 * strictEqual(e instanceof Error, true);
 * ```
 */
export class GpuUnavailableError extends Error {
  /** Stable code for callers and the CLI. */
  readonly code = "gpu-unavailable";
  /** Creates the error; `cause` is the underlying failure, if any. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "GpuUnavailableError";
  }
}

/**
 * The only adapter is a software rasterizer and the caller asked for hardware
 * (`GpuContextOptions.requireHardware`, the engine's `auto` mode).
 */
export class SoftwareAdapterError extends GpuUnavailableError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "SoftwareAdapterError";
  }
}

/**
 * A GPU failure in the middle of a batch (device lost, validation or out-of-memory error). The
 * engine catches it and finishes the batch on the CPU.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { GpuBatchError } from "./errors.ts";
 * strictEqual(new GpuBatchError("Cannot run encode_pieces: device lost").name, "GpuBatchError");
 * ```
 */
export class GpuBatchError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "GpuBatchError";
  }
}
