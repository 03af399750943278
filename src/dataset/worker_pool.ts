/**
 * A fixed pool of `node:worker_threads` workers (Deno, Bun and Node alike) running one module;
 * each task goes to the worker with the fewest tasks in flight, and each answer comes back to
 * the promise of its task. A worker that crashes rejects its tasks and fails the pool (a
 * dataset job must stop, not skip records). Used by `render-dataset` and `parse-dataset`.
 *
 * Protocol: the worker gets `workerData` at start and messages `{ id, input }`; it answers
 * `{ id, output }` or `{ id, error }` (a message string). Typed arrays that are direct fields of
 * an input or output and own their whole buffer ({@link transferables}) are moved, not copied:
 * the sender must not use them after `run` or after its handler returned them.
 *
 * @module
 */

import { Worker } from "node:worker_threads";

/**
 * The buffers of `value`'s own fields that are typed arrays spanning their whole (non-shared)
 * `ArrayBuffer`: what a message can transfer instead of copying. A view into a larger buffer is
 * left to be copied (transferring would detach data the sender still holds).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { transferables } from "./worker_pool.ts";
 * const tokens = new Uint32Array(4);
 * const list = transferables({ tokens, part: tokens.subarray(1), text: "a" });
 * strictEqual(list.length, 1);
 * strictEqual(list[0], tokens.buffer);
 * ```
 */
export function transferables(value: unknown): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  if (typeof value !== "object" || value === null) return out;
  for (const v of Object.values(value)) {
    if (!ArrayBuffer.isView(v) || !(v.buffer instanceof ArrayBuffer)) continue;
    if (v.byteOffset !== 0 || v.byteLength !== v.buffer.byteLength) continue;
    if (v.byteLength > 0 && !out.includes(v.buffer)) out.push(v.buffer);
  }
  return out;
}

/**
 * The young-generation size (MiB) each worker's V8 heap may grow to. Without a limit Deno lets
 * every worker's heap grow to ~100 MB of mostly garbage (17 MB live, measured with `gc()`):
 * `parse-dataset --workers 2` peaked at 605 MB against 335 MB for one thread. With 16 MiB (a third
 * of Node's default for workers) it peaks at ~510 MB (render-dataset --workers 2: 403-418 → 369-391
 * MB) at the same CPU time (medians of 3 interleaved runs, 100k completions, load 3-4.5). Bun
 * ignores the limit.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { WORKER_YOUNG_GENERATION_MB } from "./worker_pool.ts";
 * ok(WORKER_YOUNG_GENERATION_MB >= 8);
 * ```
 */
export const WORKER_YOUNG_GENERATION_MB = 16;

interface Slot {
  worker: Worker;
  busy: number;
}

/**
 * A pool of workers.
 *
 * @example
 * ```ts ignore
 * import { WorkerPool } from "./worker_pool.ts";
 * const pool = new WorkerPool<string[], number[]>(new URL("./w.ts", import.meta.url), {}, 2);
 * await pool.run(["a", "b"]);
 * await pool.close();
 * ```
 */
export class WorkerPool<I, O> {
  #slots: Slot[] = [];
  #next = 0;
  #pending = new Map<number, { resolve(o: O): void; reject(e: Error): void; slot: Slot }>();
  #failed: Error | undefined;

  /** Starts `size` workers of `module` with `workerData`. */
  constructor(module: URL, workerData: unknown, size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(module, {
        workerData,
        resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      });
      const slot: Slot = { worker, busy: 0 };
      worker.on("message", (m: { id: number; output?: O; error?: string }) => {
        const p = this.#pending.get(m.id);
        if (!p) return;
        this.#pending.delete(m.id);
        slot.busy--;
        if (m.error !== undefined) p.reject(new Error(m.error));
        else p.resolve(m.output as O);
      });
      worker.on("error", (e: unknown) => this.#fail(e));
      worker.on("exit", (code: number) => {
        if (this.#pending.size > 0) this.#fail(new Error(`worker exited with code ${code}`));
      });
      this.#slots.push(slot);
    }
  }

  #fail(e: unknown): void {
    const err = new Error(
      `Cannot continue: a worker thread failed: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
    this.#failed ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /**
   * Runs one task; resolves with the worker's output. The typed arrays of `input` that
   * {@link transferables} lists are moved to the worker (detached here).
   */
  run(input: I): Promise<O> {
    if (this.#failed) return Promise.reject(this.#failed);
    let slot = this.#slots[0];
    for (const s of this.#slots) if (s.busy < slot.busy) slot = s;
    const id = this.#next++;
    slot.busy++;
    return new Promise<O>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, slot });
      slot.worker.postMessage({ id, input }, transferables(input));
    });
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    const slots = this.#slots;
    this.#slots = [];
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}

/**
 * The worker side: answers each `{ id, input }` with `handle(input)`, after `init(workerData)`
 * resolved once. Call it at the top of a worker module. The output's typed arrays that
 * {@link transferables} lists are moved to the main thread: return fresh arrays.
 *
 * @example
 * ```ts ignore
 * import { serveWorker } from "./worker_pool.ts";
 * serveWorker(async (data) => (input: string[]) => input.length);
 * ```
 */
export async function serveWorker<I, O>(
  init: (workerData: unknown) => Promise<(input: I) => Promise<O> | O>,
): Promise<void> {
  const { parentPort, workerData } = await import("node:worker_threads");
  if (!parentPort) return;
  const port = parentPort;
  const ready = init(workerData);
  port.on("message", async (m: { id: number; input: I }) => {
    try {
      const handle = await ready;
      const output = await handle(m.input);
      port.postMessage({ id: m.id, output }, transferables(output));
    } catch (e) {
      port.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) });
    }
  });
}
