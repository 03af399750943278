/**
 * The kernel descriptors of harmony-engine (one per file in `shaders/`), and the multi-level
 * exclusive prefix sum built from two of them.
 *
 * @module
 */

import { SHADERS } from "./_shaders.ts";
import type { GpuContext } from "./context.ts";
import type { Kernel } from "./pipeline_cache.ts";
import { CLASS_BITS } from "../tokenizer/_classes.ts";

/** Pieces longer than this many bytes are encoded on the CPU (see `encode_pieces.wgsl`). */
export const MAX_GPU_PIECE_BYTES = 64;
/** Threads per workgroup of the per-item kernels. */
export const ITEM_WG = 64;
/** Threads per workgroup (= elements per block) of the prefix sum. */
export const SCAN_WG = 256;
/** Threads of the workgroup that merges one long piece (`merge_long.wgsl`). */
export const LONG_WG = 256;

function kernel<const U extends string>(
  name: string,
  bindings: Kernel["bindings"],
  workgroupSize: number,
  uniforms: readonly U[],
  defines?: Record<string, number>,
): Kernel<U> {
  const code = SHADERS[name];
  if (code === undefined) throw new RangeError(`Cannot find shader "${name}": not in shaders/`);
  return { name, code, bindings, workgroupSize, uniforms, defines };
}

const SCAN = ["n"] as const;

/**
 * Kernel descriptors by name. The uniform field names are the one declaration of each kernel's
 * `struct Params` (see `kernelSource`) and of the host's writer (`GpuContext.params`).
 */
export const KERNELS = {
  encodePieces: kernel(
    "encode_pieces",
    ["read", "read", "rw", "rw", "uniform"],
    ITEM_WG,
    [
      "n_pieces",
      "ends_base",
      "meta_base",
      "side_off_base",
      "side_tok_base",
      "tt_mask",
      "tt_base",
      "off_base",
      "bytes_base",
      "br_base",
      "pt_base",
      "pt_mask",
    ],
    { MAX_PIECE_BYTES: MAX_GPU_PIECE_BYTES },
  ),
  scanBlocks: kernel("scan_blocks", ["rw", "rw", "uniform"], SCAN_WG, SCAN, { BLOCK: SCAN_WG }),
  scanAdd: kernel("scan_add", ["rw", "read", "uniform"], SCAN_WG, SCAN, { BLOCK: SCAN_WG }),
  compactTokens: kernel(
    "compact_tokens",
    ["read", "read", "read", "rw", "uniform"],
    ITEM_WG,
    ["n_pieces", "ends_base"],
  ),
  markOffsets: kernel(
    "mark_offsets",
    ["read", "read", "rw", "uniform"],
    ITEM_WG,
    ["n_marks", "marks_base"],
  ),
  findSpecial: kernel(
    "find_special",
    ["read", "read", "rw", "uniform"],
    ITEM_WG,
    ["n_bytes", "st_mask", "off_base", "bytes_base", "max_len", "capacity"],
  ),
  pretokenize: kernel(
    "pretokenize",
    ["read", "read", "rw", "rw", "rw", "uniform"],
    ITEM_WG,
    [
      "phase",
      "n_bytes",
      "n_seg",
      "seg_base",
      "scan_base",
      "preset_base",
      "blocks_base",
      "cap",
      "long_min",
      "long_cap",
      "fill_tail",
    ],
    CLASS_BITS,
  ),
  tokenLengths: kernel(
    "token_lengths",
    ["read", "read", "read", "rw", "rw", "uniform"],
    ITEM_WG,
    ["n", "vocab_size", "off_base", "first_special", "n_spec", "spec_off_base", "capacity"],
  ),
  gatherBytes: kernel(
    "gather_bytes",
    ["read", "read", "read", "read", "rw", "uniform"],
    ITEM_WG,
    [
      "n",
      "vocab_size",
      "off_base",
      "bytes_base",
      "first_special",
      "spec_off_base",
      "spec_bytes_base",
    ],
  ),
  mergeLong: kernel(
    "merge_long",
    ["read", "read", "rw", "rw", "rw", "uniform"],
    LONG_WG,
    [
      "n_pieces",
      "ends_base",
      "n_bytes",
      "count_at",
      "index_base",
      "n_ends",
      "max_len",
      "tt_mask",
      "tt_base",
      "off_base",
      "bytes_base",
      "br_base",
      "pt_base",
      "pt_mask",
    ],
    { LONG_WG },
  ),
  literalSegments: kernel(
    "literal_segments",
    ["read", "read", "rw", "rw", "uniform"],
    ITEM_WG,
    [
      "phase",
      "n_bytes",
      "n_host",
      "host_base",
      "len_base",
      "match_cap",
      "seg_base",
      "scan_base",
      "preset_base",
      "cap",
    ],
  ),
  longDispatch: kernel("long_dispatch", ["read", "rw", "uniform"], ITEM_WG, [
    "count_at",
    "cap",
    "max_x",
  ]),
} as const;

/**
 * Records an in-place exclusive prefix sum of the first `n` u32 of `data` into `pass`: block
 * scans, then (recursively) a scan of the block totals and an add-back. `n` up to 256³ needs 3
 * levels. Buffers it takes from the pool are appended to `release`.
 *
 * @example
 * ```ts
 * import { recordScan } from "./kernels.ts";
 * declare const ctx: import("./context.ts").GpuContext;
 * declare const data: GPUBuffer;
 * const release: GPUBuffer[] = [];
 * ctx.submit("scan", (pass) => recordScan(ctx, pass, data, 1000, release));
 * ```
 */
export function recordScan(
  ctx: GpuContext,
  pass: GPUComputePassEncoder,
  data: GPUBuffer,
  n: number,
  release: GPUBuffer[],
): void {
  if (n <= 0) return;
  const blocks = Math.ceil(n / SCAN_WG);
  const sums = ctx.scratch(blocks * 4, "scan block sums");
  const params = ctx.params(KERNELS.scanBlocks, { n }, "scan params");
  release.push(sums, params);
  ctx.dispatch(pass, KERNELS.scanBlocks, [data, sums, params], blocks * SCAN_WG);
  if (blocks > 1) {
    recordScan(ctx, pass, sums, blocks, release);
    ctx.dispatch(pass, KERNELS.scanAdd, [data, sums, params], n);
  }
}
