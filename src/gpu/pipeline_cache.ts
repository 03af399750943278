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
 * The prelude (`shaders/_prelude.wgsl`) declares `override WG: u32;`; kernels use
 * `@workgroup_size(WG)`, and `workgroupSize` is the value used both for that constant and for the
 * dispatch maths (see {@link dispatchSize}). `defines` are prepended as WGSL `const` declarations
 * (for array sizes, which cannot be overrides). `uniforms` names the fields of the kernel's
 * uniform block: {@link kernelSource} declares `struct Params` and its binding `p` from them,
 * and {@link packUniforms} writes the host values in the same order, so the two cannot drift.
 */
export interface Kernel<U extends string = string> {
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
  /** Fields (all `u32`) of the uniform block `p`, bound at the `"uniform"` binding. */
  uniforms: readonly U[];
}

/**
 * The WGSL a kernel is compiled from: its defines, its `struct Params` and `p` binding (from
 * `uniforms`), then its code (prelude included).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelSource } from "./pipeline_cache.ts";
 * const src = kernelSource({ name: "k", code: "", bindings: ["rw", "uniform"], workgroupSize: 64,
 *   uniforms: ["n"], defines: { BLOCK: 64 } });
 * assert.equal(src, "const BLOCK: u32 = 64u;\nstruct Params {\n  n: u32,\n}\n" +
 *   "@group(0) @binding(1) var<uniform> p: Params;\n");
 * ```
 */
export function kernelSource(kernel: Kernel): string {
  let header = "";
  for (const [name, value] of Object.entries(kernel.defines ?? {})) {
    header += `const ${name}: u32 = ${value >>> 0}u;\n`;
  }
  const at = kernel.bindings.indexOf("uniform");
  if (kernel.uniforms.length > 0) {
    if (at < 0 || kernel.bindings.lastIndexOf("uniform") !== at) {
      throw new RangeError(
        `Cannot declare the uniforms of "${kernel.name}": needs one uniform binding`,
      );
    }
    header += "struct Params {\n";
    for (const f of kernel.uniforms) header += `  ${f}: u32,\n`;
    header += `}\n@group(0) @binding(${at}) var<uniform> p: Params;\n`;
  }
  return header + kernel.code;
}

/**
 * The uniform block of `kernel` holding `values`, in the declared field order (u32 each, padded
 * to 16 bytes).
 *
 * @throws {RangeError} when a value is missing or not a u32.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packUniforms } from "./pipeline_cache.ts";
 * const k = { name: "k", code: "", bindings: ["uniform"] as const, workgroupSize: 64, uniforms: ["n", "base"] as const };
 * assert.deepEqual([...packUniforms(k, { base: 7, n: 3 })], [3, 7, 0, 0]);
 * ```
 */
export function packUniforms<U extends string>(
  kernel: Kernel<U>,
  values: Readonly<Record<U, number>>,
): Uint32Array {
  const fields = kernel.uniforms;
  const data = new Uint32Array(Math.max(4, Math.ceil(fields.length / 4) * 4));
  for (let i = 0; i < fields.length; i++) {
    const v = values[fields[i]];
    if (!(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
      throw new RangeError(
        `Cannot write uniform ${fields[i]} of "${kernel.name}": ${v} is not a u32`,
      );
    }
    data[i] = v;
  }
  return data;
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
 * const k = cache.get({ name: "noop", code: "override WG: u32 = 64u; @compute @workgroup_size(WG) fn main() {}", bindings: [], workgroupSize: 64, uniforms: [] });
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
    const module = device.createShaderModule({ label: kernel.name, code: kernelSource(kernel) });
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
