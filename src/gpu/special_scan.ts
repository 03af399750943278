/**
 * Finding special-token literals (`<|start|>`, `<|reserved_200123|>`, …) in UTF-8 text, on the GPU
 * (`find_special.wgsl`) and on the CPU (the same rule, the reference and fallback).
 *
 * Output: a `Uint32Array` of `(byte position, special index)` pairs sorted by position, every
 * occurrence of every literal. Choosing among them (allowed or not, leftmost-first when they
 * overlap) is the caller's job; with delimited literals (see `SpecialTables.delimited`) they
 * never overlap.
 *
 * @module
 */

import { BufferUsage } from "./_flags.ts";
import type { GpuContext } from "./context.ts";
import { GpuBatchError } from "./errors.ts";
import { KERNELS } from "./kernels.ts";
import type { SpecialTables } from "./tables.ts";
import { hashBytes } from "../tokenizer/vocabulary.ts";

/** The special index of the literal `text[s, e)`, or -1 (the lookup `find_special.wgsl` does). *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { specialIndexOf } from "./special_scan.ts";
 * import { buildSpecialTables } from "./tables.ts";
 * import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
 * strictEqual(specialIndexOf(buildSpecialTables(harmonySpecialTokens()), new TextEncoder().encode("<|end|>"), 0, 7), 9);
 * ```
 */
export function specialIndexOf(t: SpecialTables, text: Uint8Array, s: number, e: number): number {
  const h = hashBytes(text, s, e);
  const w = t.words, mask = t.stMask, len = e - s;
  let slot = h & mask;
  for (let probe = 0; probe <= mask; probe++) {
    const s1 = w[2 * slot + 1];
    if (s1 === 0) return -1;
    if (w[2 * slot] === h) {
      const lit = t.literalBytes[s1 - 1];
      if (lit.length === len) {
        let k = 0;
        while (k < len && lit[k] === text[s + k]) k++;
        if (k === len) return s1 - 1;
      }
    }
    slot = (slot + 1) & mask;
  }
  return -1;
}

/**
 * Every special-token literal in `text`, on the CPU: `(position, index)` pairs sorted by
 * position. Requires delimited literals (`tables.delimited`).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { findSpecialsCpu } from "./special_scan.ts";
 * import { buildSpecialTables } from "./tables.ts";
 * import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
 * const t = buildSpecialTables(harmonySpecialTokens());
 * deepStrictEqual(findSpecialsCpu(t, new TextEncoder().encode("a<|end|>")), new Uint32Array([1, 9]));
 * ```
 */
export function findSpecialsCpu(tables: SpecialTables, text: Uint8Array): Uint32Array {
  const out: number[] = [];
  const n = text.length, max = tables.maxLength;
  for (let i = text.indexOf(0x3c); i >= 0 && i + 1 < n; i = text.indexOf(0x3c, i + 1)) {
    if (text[i + 1] !== 0x7c) continue;
    let end = 0;
    for (let q = i + 2; q + 1 < n && q + 2 - i <= max; q++) {
      if (text[q] === 0x7c && text[q + 1] === 0x3e) {
        end = q + 2;
        break;
      }
    }
    if (end === 0) continue;
    const k = specialIndexOf(tables, text, i, end);
    if (k >= 0) out.push(i, k);
  }
  return Uint32Array.from(out);
}

/**
 * Sorts `(position, index)` pairs by position, in place (the kernel appends them unordered).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sortPairs } from "./special_scan.ts";
 * assert.deepEqual([...sortPairs(new Uint32Array([9, 1, 2, 0]))], [2, 0, 9, 1]);
 * ```
 */
export function sortPairs(pairs: Uint32Array): Uint32Array {
  const n = pairs.length / 2;
  const keys = new Float64Array(n);
  for (let j = 0; j < n; j++) keys[j] = pairs[2 * j] * 4294967296 + pairs[2 * j + 1];
  keys.sort();
  for (let j = 0; j < n; j++) {
    pairs[2 * j] = Math.floor(keys[j] / 4294967296);
    pairs[2 * j + 1] = keys[j] % 4294967296;
  }
  return pairs;
}

/**
 * Finds special-token literals on the GPU; the special tables are uploaded once.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { GpuSpecialScanner } from "./special_scan.ts";
 * import { buildSpecialTables } from "./tables.ts";
 * import { GpuContext } from "./context.ts";
 * import { findGpu } from "./runtime.ts";
 * import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
 * const ctx = await GpuContext.create((await findGpu())!);
 * const scanner = new GpuSpecialScanner(ctx, buildSpecialTables(harmonySpecialTokens()));
 * deepStrictEqual(await scanner.run(new TextEncoder().encode("a<|end|>")), new Uint32Array([1, 9]));
 * ctx.destroy();
 * ```
 */
export class GpuSpecialScanner {
  /** The context it runs on. */
  readonly ctx: GpuContext;
  /** The special tables. */
  readonly tables: SpecialTables;
  #buffer: GPUBuffer | undefined;

  /**
   * Creates a scanner over `tables` (uploaded on first use).
   *
   * @throws {RangeError} when the literals are not delimited (`<|…|>`).
   */
  constructor(ctx: GpuContext, tables: SpecialTables) {
    if (!tables.delimited) {
      throw new RangeError("Cannot scan special tokens on the GPU: literals are not all <|…|>");
    }
    this.ctx = ctx;
    this.tables = tables;
  }

  /** The special-table buffer (uploaded on first use). */
  buffer(): GPUBuffer {
    if (!this.#buffer) {
      const w = this.tables.words;
      const b = this.ctx.device.createBuffer({
        label: "special tables",
        size: w.byteLength,
        usage: BufferUsage.STORAGE | BufferUsage.COPY_DST,
      });
      this.ctx.write(b, w);
      this.#buffer = b;
    }
    return this.#buffer;
  }

  /** Every literal in `text` (`4 * text.length` must fit a storage binding). */
  async run(text: Uint8Array): Promise<Uint32Array> {
    const ctx = this.ctx, t = this.tables;
    if (text.length < 2) return new Uint32Array(0);
    const capacity = Math.floor(text.length / 4) + 16;
    const release: GPUBuffer[] = [];
    try {
      const input = ctx.upload(text, "special scan text");
      const matches = ctx.scratch(4 * (1 + 2 * capacity), "special matches");
      const params = ctx.params(KERNELS.findSpecial, {
        n_bytes: text.length,
        st_mask: t.stMask,
        off_base: t.offBase,
        bytes_base: t.bytesBase,
        max_len: t.maxLength,
        capacity,
      }, "special scan params");
      release.push(input, matches, params);
      ctx.write(matches, new Uint32Array(1));
      const specials = this.buffer();
      const timing = ctx.submit("find special tokens", (pass) => {
        ctx.dispatch(pass, KERNELS.findSpecial, [input, specials, matches, params], text.length);
      });
      // Small texts: count and all slots in one round trip; large ones: the count first.
      const whole = 4 * (1 + 2 * capacity) <= 1 << 20;
      const head = new Uint32Array(
        await ctx.readBack(matches, 0, whole ? 4 * (1 + 2 * capacity) : 4, "special matches read"),
      );
      const count = head[0];
      await timing;
      if (count > capacity) {
        throw new GpuBatchError(`Cannot scan special tokens: ${count} matches exceed ${capacity}`);
      }
      if (count === 0) return new Uint32Array(0);
      const pairs = whole
        ? head.slice(1, 1 + 2 * count)
        : new Uint32Array(await ctx.readBack(matches, 4, 8 * count, "special matches read"));
      return sortPairs(pairs);
    } finally {
      for (const b of release) ctx.pool.release(b);
    }
  }

  /** Frees the special-table buffer. */
  destroy(): void {
    this.#buffer?.destroy();
    this.#buffer = undefined;
  }
}
