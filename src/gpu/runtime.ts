/**
 * The per-runtime WebGPU adapter: finds a `GPU` object (the entry point of WebGPU) for the
 * current runtime, so the rest of the GPU code takes it as a parameter instead of reaching for it.
 *
 * - Deno and browsers: the built-in `navigator.gpu`.
 * - Bun and Node: the optional `webgpu` npm package (Dawn), imported lazily on first use, so
 *   CPU-only programs never load it. When it is not installed, {@link loadGpu} throws a
 *   {@link GpuUnavailableError} saying so and how to install it.
 *
 * Dawn prints limit warnings straight to file descriptor 2 when an adapter is requested
 * (`Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced …`); they are not
 * errors and say nothing a user can act on. In Bun the loader captures descriptor 2 around
 * `requestAdapter` (libc `dup`/`dup2` through `bun:ffi`) and replays everything except those
 * lines, unless `verbose`. (Node has no FFI: there the lines pass through.)
 *
 * @module
 */

import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { GpuUnavailableError } from "./errors.ts";

/** Shape of the `webgpu` npm package's entry (Dawn bindings). */
interface DawnModule {
  create(options: string[]): GPU;
  globals: Record<string, unknown>;
}

/** Options of {@link loadGpu} and {@link findGpu}. */
export interface LoadGpuOptions {
  /** Let Dawn's informational warnings through to stderr. Default: false. */
  verbose?: boolean;
}

/** Dawn's lines that are informational, not problems (filtered unless verbose). */
const DAWN_NOISE = /^Warning: max\w+ artificially reduced from \d+ to \d+.*$/;

/**
 * Removes Dawn's informational warning lines from captured stderr text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { filterDawnNoise } from "./runtime.ts";
 * const text = "Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\nreal problem\n";
 * assert.equal(filterDawnNoise(text), "real problem\n");
 * ```
 */
export function filterDawnNoise(text: string): string {
  return text.split("\n").filter((l) => !DAWN_NOISE.test(l)).join("\n").replace(/^\n+/, "");
}

let loaded: Promise<GPU> | undefined;

/**
 * Returns the runtime's `GPU` object (this does not request an adapter: a `GPU` object may still
 * have no adapter). In Bun and Node the `webgpu` package is imported on the first call (and its
 * WebGPU globals such as `GPUBufferUsage` installed); later calls return the same object.
 *
 * @throws {GpuUnavailableError} when the runtime has no WebGPU: names the missing package and
 * the command that installs it.
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { loadGpu } from "./runtime.ts";
 * import { GpuUnavailableError } from "./errors.ts";
 * try {
 *   const gpu = await loadGpu();
 *   ok(typeof gpu.requestAdapter === "function");
 * } catch (e) {
 *   ok(e instanceof GpuUnavailableError, String(e)); // no WebGPU here: a clear error, never a crash
 * }
 * ```
 */
export function loadGpu(options: LoadGpuOptions = {}): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return Promise.resolve(nav.gpu);
  const g = globalThis as Record<string, unknown>;
  const node = typeof (g.process as { versions?: { node?: string } } | undefined)?.versions?.node;
  if (g.Deno !== undefined || (g.Bun === undefined && node !== "string")) {
    return Promise.reject(
      new GpuUnavailableError("Cannot use the GPU: this runtime has no WebGPU (navigator.gpu)"),
    );
  }
  return loaded ??= (async () => {
    let mod: DawnModule;
    try {
      // A variable specifier keeps bundlers and `deno check` from resolving Dawn eagerly.
      const name = "webgpu";
      mod = await import(name) as DawnModule;
    } catch (cause) {
      loaded = undefined;
      throw new GpuUnavailableError(
        "Cannot use the GPU: the optional package `webgpu` (Dawn) is not installed; " +
          "install it with `npm install webgpu`",
        { cause },
      );
    }
    for (const [k, v] of Object.entries(mod.globals)) if (!(k in g)) g[k] = v;
    const gpu = mod.create([]);
    return options.verbose || typeof g.Bun === "undefined" ? gpu : quietAdapters(gpu);
  })();
}

/**
 * {@link loadGpu}, or `undefined` when the runtime has no WebGPU.
 *
 * @example
 * ```ts
 * import { findGpu } from "./runtime.ts";
 * const gpu = await findGpu();
 * import { ok } from "node:assert/strict";
 * ok(gpu === undefined || typeof gpu.requestAdapter === "function");
 * ```
 */
export function findGpu(options: LoadGpuOptions = {}): Promise<GPU | undefined> {
  return loadGpu(options).catch((e) => {
    if (e instanceof GpuUnavailableError) return undefined;
    throw e;
  });
}

/** libc's descriptor calls, through `bun:ffi` (undefined when unavailable). */
interface Libc {
  dup(fd: number): number;
  dup2(fd: number, to: number): number;
  close(fd: number): number;
}

async function openLibc(): Promise<Libc | undefined> {
  if (process.platform === "win32") return undefined;
  try {
    const name = "bun:ffi";
    const ffi = await import(name) as {
      dlopen(path: string, symbols: Record<string, unknown>): {
        symbols: Record<string, (...a: number[]) => number>;
      };
      FFIType: Record<string, unknown>;
    };
    const i32 = ffi.FFIType.i32;
    const lib = ffi.dlopen(process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6", {
      dup: { args: [i32], returns: i32 },
      dup2: { args: [i32, i32], returns: i32 },
      close: { args: [i32], returns: i32 },
    });
    const s = lib.symbols;
    return { dup: (fd) => s.dup(fd), dup2: (a, b) => s.dup2(a, b), close: (fd) => s.close(fd) };
  } catch {
    return undefined;
  }
}

/** `gpu` whose `requestAdapter` runs with descriptor 2 captured and replayed minus Dawn's noise. */
function quietAdapters(gpu: GPU): GPU {
  const request = gpu.requestAdapter.bind(gpu);
  let libc: Promise<Libc | undefined> | undefined;
  const quiet = async (options?: GPURequestAdapterOptions) => {
    const c = await (libc ??= openLibc());
    if (!c) return await request(options);
    const { openSync, closeSync } = await import("node:fs");
    const path = join(tmpdir(), `harmony-dawn-${process.pid}-${Date.now()}.log`);
    const file = openSync(path, "w+");
    const saved = c.dup(2);
    if (saved < 0) {
      closeSync(file);
      rmSync(path, { force: true });
      return await request(options);
    }
    c.dup2(file, 2);
    try {
      return await request(options);
    } finally {
      c.dup2(saved, 2);
      c.close(saved);
      closeSync(file);
      const rest = filterDawnNoise(readFileSync(path, "utf8"));
      rmSync(path, { force: true });
      if (rest.length > 0) process.stderr.write(rest);
    }
  };
  return new Proxy(gpu, {
    get(target, prop) {
      if (prop === "requestAdapter") return quiet;
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
