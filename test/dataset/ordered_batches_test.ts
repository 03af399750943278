// OrderedBatches (src/dataset/ordered_batches.ts): the in-flight queue of render-dataset and
// parse-dataset. Order and checkpoints are covered by its doc example and the pipeline tests;
// here, that a job whose batches finish synchronously still gives the event loop a turn per
// batch, so a SIGINT/SIGTERM handler runs while the job can still checkpoint and stop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { OrderedBatches } from "../../src/dataset/ordered_batches.ts";

test("settle gives timers and signal handlers a turn between batches that finish at once", async () => {
  let fired = false;
  setTimeout(() => (fired = true), 0);
  const written: number[] = [];
  const queue = new OrderedBatches<number, number>(1, (b) => {
    written.push(b);
    return Promise.resolve();
  }, () => {});
  let batches = 0;
  // Without a turn of the event loop per batch, the timer never runs inside this loop.
  while (!fired && batches < 20_000) {
    queue.add(batches++);
    await queue.settle();
  }
  assert.ok(fired, `the timer ran between batches (after ${batches})`);
  assert.deepEqual(written, Array.from({ length: batches }, (_, i) => i));
});
