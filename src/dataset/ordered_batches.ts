/**
 * The batches a dataset job has in flight, written back in the order they were read, with the
 * journal's checkpoints riding on them. Both `render-dataset` (`pipeline.ts`) and `parse-dataset`
 * (`src/evals/parse_dataset.ts`) hand batches to their workers (or engine) through one of these.
 *
 * Rules:
 * - batches are written oldest first, whatever order their work finishes in;
 * - at most `maxInFlight` are in flight: {@link OrderedBatches.settle} writes the oldest until
 *   there is room;
 * - {@link OrderedBatches.settle} yields one turn of the event loop, not only of the microtask
 *   queue, so a SIGINT/SIGTERM handler (which aborts the job's signal) and the progress timer run
 *   between batches even when every batch finishes synchronously (one thread, input already in
 *   memory); before, a signal could wait for the end of the job and end the process after it had
 *   published its output;
 * - a checkpoint at the current read position ({@link OrderedBatches.markAfterLast}) is taken right
 *   after the last batch submitted so far is written (at once when none is in flight), so it
 *   always names exactly the last written record, while later batches keep the workers busy.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { OrderedBatches } from "./ordered_batches.ts";
 * const log: string[] = [];
 * const batches = new OrderedBatches<string, number>(2, async (b) => void log.push(b), (m) => {
 *   log.push(`checkpoint ${m}`);
 * });
 * batches.add("a");
 * batches.markAfterLast(1);
 * batches.add("b");
 * await batches.settle();
 * await batches.drain();
 * deepStrictEqual(log, ["a", "checkpoint 1", "b"]);
 * ```
 *
 * @module
 */

import { setImmediate } from "node:timers";

/** Resolves on the next turn of the event loop, after pending timers and signal handlers. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Batches in flight, written in order; `B` is a batch, `M` a checkpoint mark. */
export class OrderedBatches<B, M> {
  readonly #queue: Array<{ batch: B; mark?: M }> = [];
  readonly #maxInFlight: number;
  readonly #write: (batch: B) => Promise<void>;
  readonly #checkpoint: (mark: M) => void;

  /**
   * @param maxInFlight batches allowed in flight before {@link OrderedBatches.settle} writes.
   * @param write writes one batch's results (it awaits the batch's work).
   * @param checkpoint takes a checkpoint at a mark.
   */
  constructor(
    maxInFlight: number,
    write: (batch: B) => Promise<void>,
    checkpoint: (mark: M) => void,
  ) {
    this.#maxInFlight = Math.max(1, maxInFlight);
    this.#write = write;
    this.#checkpoint = checkpoint;
  }

  /** Batches in flight. */
  get size(): number {
    return this.#queue.length;
  }

  /** Adds a submitted batch (its work already started). */
  add(batch: B): void {
    this.#queue.push({ batch });
  }

  /** Takes the checkpoint `mark` once every batch added so far is written. */
  markAfterLast(mark: M): void {
    const last = this.#queue.at(-1);
    if (last) last.mark = mark;
    else this.#checkpoint(mark);
  }

  /** Writes the oldest batch, then its checkpoint if it carries one. */
  async writeOldest(): Promise<void> {
    const entry = this.#queue.shift();
    if (entry === undefined) return;
    await this.#write(entry.batch);
    if (entry.mark !== undefined) this.#checkpoint(entry.mark);
  }

  /**
   * Writes the oldest batches until fewer than `maxInFlight` are in flight, then yields one turn
   * of the event loop (see the rules above).
   */
  async settle(): Promise<void> {
    while (this.#queue.length >= this.#maxInFlight) await this.writeOldest();
    await nextTurn();
  }

  /** Writes every batch in flight. */
  async drain(): Promise<void> {
    while (this.#queue.length > 0) await this.writeOldest();
  }
}
