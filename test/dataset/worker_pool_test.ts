// The worker pool moves typed arrays across the thread boundary instead of copying them
// (issue #12): a batch's arrays are transferred both ways, views into a larger buffer are copied.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  transferables,
  WORKER_YOUNG_GENERATION_MB,
  WorkerPool,
} from "../../src/dataset/worker_pool.ts";
import {
  type PackedOutcomes,
  type PackedRecords,
  packRecords,
  unpackOutcomes,
} from "../../src/dataset/render_workers.ts";

test("transferables() lists whole-buffer typed arrays once, not views, strings or empty arrays", () => {
  const tokens = new Uint32Array(8);
  const mask = new Uint8Array(8);
  const list = transferables({
    tokens,
    mask,
    again: tokens,
    view: new Uint8Array(new ArrayBuffer(16), 4, 4),
    empty: new Uint32Array(0),
    text: "abc",
  });
  assert.deepEqual(list, [tokens.buffer, mask.buffer]);
  assert.deepEqual(transferables("text"), []);
  assert.deepEqual(transferables(null), []);
});

test("WorkerPool.run() transfers the input's arrays to the worker and gets its arrays back", async () => {
  const pool = new WorkerPool<PackedRecords, PackedOutcomes>(
    new URL("../../src/dataset/render_worker.ts", import.meta.url),
    { inputFormat: "auto", defaults: {}, trainOn: "assistant", analysis: "reference" },
    1,
  );
  try {
    const line =
      '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}';
    const packed = packRecords([{ text: line }, { text: line }]);
    assert.ok("lengths" in packed);
    const lengths = packed.lengths;
    const out = await pool.run(packed);
    assert.equal(lengths.byteLength, 0, "the input's lengths were moved, not copied");
    const [a, b] = unpackOutcomes(out);
    assert.ok(a.reason === undefined && b.reason === undefined);
    assert.ok(a.tokens.length > 0);
    assert.deepEqual([...a.tokens], [...b.tokens]);
  } finally {
    await pool.close();
  }
});

test("WorkerPool workers run with a bounded young generation (Deno's grew to ~100 MB each)", async () => {
  const pool = new WorkerPool<null, string>(
    new URL("./_limits_worker.ts", import.meta.url),
    {},
    1,
  );
  try {
    const limits = JSON.parse(await pool.run(null)) as { maxYoungGenerationSizeMb?: number };
    // Bun reports no limits (and ignores them); Deno and Node report what the worker got (Deno
    // nothing when none was set).
    if (!("Bun" in globalThis)) {
      assert.equal(limits.maxYoungGenerationSizeMb, WORKER_YOUNG_GENERATION_MB);
    }
  } finally {
    await pool.close();
  }
});
