/**
 * Kernel descriptors and the per-device pipeline cache (pattern of the tfjs and onnxruntime-web
 * WebGPU backends): a kernel names its WGSL, its bindings and its workgroup size; pipelines are
 * compiled once per device per (kernel, constants) and reused.
 *
 * @module
 */

import { ShaderStage } from "./_flags.ts";

/** How a kernel binds one buffer: read-only storage, read-write storage, or a uniform block. */
export type BindingKind = "read" | "rw" | "uniform";

/**
 * A compute kernel: one WGSL file with one `main` entry point.
 *
 * The WGSL declares `override WG: u32;` and `@workgroup_size(WG)`; `workgroupSize` is the value
 * used both for that constant and for the dispatch maths (see {@link dispatchSize}). `defines`
 * are prepended as WGSL `const` declarations (for array sizes, which cannot be overrides).
 */
export interface Kernel {
  /** Kernel name (labels, cache key). */
  name: string;
  /** WGSL source. */
  code: string;
  /** Bindings of group 0, in binding order. */
  bindings: readonly BindingKind[];
  /** Threads per workgroup (the `WG` override). */
  workgroupSize: number;
  /** Extra `const NAME: u32 = value;` declarations prepended to the source. */
  defines?: Readonly<Record<string, number>>;
}

/** A compiled kernel: its pipeline and bind-group layout. */
export interface CompiledKernel {
  /** The kernel it was compiled from. */
  kernel: Kernel;
  /** The compute pipeline. */
  pipeline: GPUComputePipeline;
  /** The explicit layout of bind group 0. */
  layout: GPUBindGroupLayout;
}

/**
 * The workgroup grid for `threads` threads of `workgroupSize`, folded into two dimensions when the
 * count of workgroups exceeds `maxPerDimension`. Shaders recover the linear thread index as
 * `(wid.y * nwg.x + wid.x) * WG + lid.x` and must guard it against the thread count.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { dispatchSize } from "./pipeline_cache.ts";
 * deepStrictEqual(dispatchSize(1_000_000, 64, 65535), [15625, 1]);
 * deepStrictEqual(dispatchSize(10_000_000, 64, 65535), [65535, 3]);
 * ```
 */
export function dispatchSize(
  threads: number,
  workgroupSize: number,
  maxPerDimension: number,
): [number, number] {
  const groups = Math.max(1, Math.ceil(threads / workgroupSize));
  if (groups <= maxPerDimension) return [groups, 1];
  const y = Math.ceil(groups / maxPerDimension);
  if (y > maxPerDimension) {
    throw new RangeError(
      `Cannot dispatch ${threads} threads: more than ${maxPerDimension}² workgroups`,
    );
  }
  return [maxPerDimension, y];
}

/**
 * Compiled pipelines of one device, by kernel name and constants.
 *
 * @example
 * ```ts
 * import { PipelineCache } from "./pipeline_cache.ts";
 * declare const device: GPUDevice;
 * const cache = new PipelineCache(device);
 * const k = cache.get({ name: "noop", code: "override WG: u32 = 64u; @compute @workgroup_size(WG) fn main() {}", bindings: [], workgroupSize: 64 });
 * ```
 */
export class PipelineCache {
  #device: GPUDevice;
  #cache = new Map<string, CompiledKernel>();

  /** Creates an empty cache for `device`. */
  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** The compiled kernel, compiling it on first use. */
  get(kernel: Kernel): CompiledKernel {
    const key = `${kernel.name}|${kernel.workgroupSize}|${JSON.stringify(kernel.defines ?? {})}`;
    let c = this.#cache.get(key);
    if (c) return c;
    const device = this.#device;
    const layout = device.createBindGroupLayout({
      label: `${kernel.name} layout`,
      entries: kernel.bindings.map((kind, binding) => ({
        binding,
        visibility: ShaderStage.COMPUTE,
        buffer: {
          type: kind === "read" ? "read-only-storage" : kind === "rw" ? "storage" : "uniform",
        },
      })),
    });
    let header = "";
    for (const [name, value] of Object.entries(kernel.defines ?? {})) {
      header += `const ${name}: u32 = ${value >>> 0}u;\n`;
    }
    const module = device.createShaderModule({ label: kernel.name, code: header + kernel.code });
    const pipeline = device.createComputePipeline({
      label: kernel.name,
      layout: device.createPipelineLayout({
        label: `${kernel.name} pipeline layout`,
        bindGroupLayouts: [layout],
      }),
      compute: { module, entryPoint: "main", constants: { WG: kernel.workgroupSize } },
    });
    c = { kernel, pipeline, layout };
    this.#cache.set(key, c);
    return c;
  }

  /** Number of compiled pipelines. */
  get size(): number {
    return this.#cache.size;
  }

  /** Forgets every pipeline. */
  clear(): void {
    this.#cache.clear();
  }
}
