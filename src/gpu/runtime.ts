/**
 * The per-runtime WebGPU adapter: finds a `GPU` object (the entry point of WebGPU) for the
 * current runtime, so the rest of the GPU code takes it as a parameter instead of reaching for it.
 *
 * - Deno and browsers: the built-in `navigator.gpu`.
 * - Bun: the `webgpu` npm package (Dawn), imported lazily on first use, so CPU-only programs never
 *   load it.
 *
 * @module
 */

/** Shape of the `webgpu` npm package's entry (Dawn bindings). */
interface DawnModule {
  create(options: string[]): GPU;
  globals: Record<string, unknown>;
}

let bunGpu: Promise<GPU | undefined> | undefined;

/**
 * Returns the runtime's `GPU` object, or `undefined` when the runtime has no WebGPU (this does
 * not request an adapter: a `GPU` object may still have no adapter).
 *
 * In Bun the `webgpu` package is imported on the first call (and its WebGPU globals such as
 * `GPUBufferUsage` installed); later calls return the same object.
 *
 * @example
 * ```ts
 * import { findGpu } from "./runtime.ts";
 * const gpu = await findGpu();
 * import { ok } from "node:assert/strict";
 * ok(gpu === undefined || typeof gpu.requestAdapter === "function");
 * ```
 */
export function findGpu(): Promise<GPU | undefined> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return Promise.resolve(nav.gpu);
  if (typeof (globalThis as { Bun?: unknown }).Bun === "undefined") {
    return Promise.resolve(undefined);
  }
  return bunGpu ??= (async () => {
    let mod: DawnModule;
    try {
      // A variable specifier keeps bundlers and `deno check` from resolving Dawn eagerly.
      const name = "webgpu";
      mod = await import(name) as DawnModule;
    } catch {
      return undefined;
    }
    const g = globalThis as Record<string, unknown>;
    for (const [k, v] of Object.entries(mod.globals)) if (!(k in g)) g[k] = v;
    return mod.create([]);
  })();
}
