/**
 * A pool of GPU buffers keyed by (size class, usage), so repeated batches reuse their storage
 * instead of allocating. Sizes are rounded up to a size class (multiple of 16, then to the next of
 * 4 steps per power of two: 1, 1.25, 1.5, 1.75 × 2^k), which bounds waste at 25% while letting
 * batches of similar size share buffers.
 *
 * Buffers go back to the pool right after the submit that used them: all work runs on one queue,
 * so a later `writeBuffer` or dispatch on a reused buffer is ordered after the earlier use.
 * Mappable buffers must be unmapped before release.
 *
 * @module
 */

/** Rounds a byte size up to its size class (at least 16, a multiple of 16). *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { sizeClass } from "./buffer_pool.ts";
 * strictEqual(sizeClass(1025), 1280);
 * ```
 */
export function sizeClass(size: number): number {
  const s = Math.max(16, Math.ceil(size / 16) * 16);
  if (s <= 256) return s;
  const p = 2 ** Math.floor(Math.log2(s));
  const step = p / 4;
  return Math.ceil(s / step) * step;
}

/**
 * Reusable GPU buffers, at most `maxBytes` held idle (default 256 MiB; older buffers are destroyed
 * beyond that).
 *
 * @example
 * ```ts
 * import { BufferPool } from "./buffer_pool.ts";
 * import { BufferUsage } from "./_flags.ts";
 * declare const device: GPUDevice;
 * const pool = new BufferPool(device);
 * const b = pool.acquire(1000, BufferUsage.STORAGE, "scratch");
 * pool.release(b);
 * pool.clear();
 * ```
 */
export class BufferPool {
  #device: GPUDevice;
  #free = new Map<string, GPUBuffer[]>();
  #idleBytes = 0;
  #maxBytes: number;
  /** Buffers created so far (statistics). */
  created = 0;
  /** Acquisitions served from the pool (statistics). */
  reused = 0;

  /** Creates an empty pool for `device`. */
  constructor(device: GPUDevice, maxBytes = 256 * 1024 * 1024) {
    this.#device = device;
    this.#maxBytes = maxBytes;
  }

  /** A buffer of at least `size` bytes with exactly `usage`; `label` names it in GPU errors. */
  acquire(size: number, usage: number, label: string): GPUBuffer {
    const cls = sizeClass(size);
    const list = this.#free.get(`${cls}:${usage}`);
    const b = list?.pop();
    if (b) {
      this.#idleBytes -= b.size;
      this.reused++;
      return b;
    }
    this.created++;
    return this.#device.createBuffer({ size: cls, usage, label: `${label} (${cls} B)` });
  }

  /** Returns a buffer to the pool (it must be unmapped). */
  release(buffer: GPUBuffer): void {
    if (buffer.size > this.#maxBytes) {
      buffer.destroy();
      return;
    }
    const key = `${buffer.size}:${buffer.usage}`;
    let list = this.#free.get(key);
    if (!list) this.#free.set(key, list = []);
    list.push(buffer);
    this.#idleBytes += buffer.size;
    if (this.#idleBytes > this.#maxBytes) this.#trim();
  }

  /** Destroys the idle buffers until the idle total is at most half the maximum. */
  #trim(): void {
    for (const [key, list] of this.#free) {
      while (list.length > 0 && this.#idleBytes > this.#maxBytes / 2) {
        const b = list.shift()!;
        this.#idleBytes -= b.size;
        b.destroy();
      }
      if (list.length === 0) this.#free.delete(key);
      if (this.#idleBytes <= this.#maxBytes / 2) return;
    }
  }

  /** Bytes held idle in the pool. */
  get idleBytes(): number {
    return this.#idleBytes;
  }

  /** Destroys every idle buffer. */
  clear(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#idleBytes = 0;
  }
}
