import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ownsUnit,
  parseShard,
  resolveShard,
  shardPrefix,
  shardRange,
} from "../../src/dataset/shard.ts";
import { formatDuration, Progress } from "../../src/dataset/progress.ts";
import { fillLossMask } from "../../src/dataset/loss_mask.ts";
import { AppendFile } from "../../src/io/durable_file.ts";
import { detectInputKind } from "../../src/dataset/readers.ts";
import { withTmp } from "./_helpers.ts";

describe("shards", () => {
  test("parseShard() reads i/n and rejects an index not below the count", () => {
    assert.deepEqual(parseShard("3/8"), { index: 3, count: 8 });
    const bad: Array<[string, RegExp]> = [
      ["8/8", /^Cannot use shard 8\/8: index must be below count$/],
      ["1", /^Cannot read shard "1": expected i\/n$/],
      ["a/2", /^Cannot read shard: index "a" is not an integer$/],
      ["0/0", /^Cannot use shard 0\/0/],
    ];
    for (const [text, re] of bad) {
      assert.throws(() => parseShard(text), { name: "RangeError", message: re });
    }
  });

  test("resolveShard(): --shard wins, then Slurm, then JOB_COMPLETION_INDEX with a count", () => {
    const env = (vars: Record<string, string>) => (k: string) => vars[k];
    assert.deepEqual(resolveShard({}, env({})), { index: 0, count: 1 });
    assert.deepEqual(
      resolveShard(
        { shard: "1/2" },
        env({ SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_COUNT: "9" }),
      ),
      { index: 1, count: 2 },
    );
    assert.deepEqual(
      resolveShard({}, env({ SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_COUNT: "9" })),
      { index: 5, count: 9 },
    );
    assert.deepEqual(
      resolveShard({ shardCount: "4" }, env({ JOB_COMPLETION_INDEX: "3" })),
      { index: 3, count: 4 },
    );
    assert.throws(() => resolveShard({ shardCount: "4" }, env({})), { name: "RangeError" });
  });

  test("resolveShard(): a stepped Slurm array (--array=0-4:2) maps task (id − min) / step of (max − min) / step + 1", () => {
    const env = (vars: Record<string, string>) => (k: string) => vars[k];
    const array = (id: number, min: number, max: number, step: number) =>
      env({
        SLURM_ARRAY_TASK_ID: String(id),
        SLURM_ARRAY_TASK_MIN: String(min),
        SLURM_ARRAY_TASK_MAX: String(max),
        SLURM_ARRAY_TASK_STEP: String(step),
        SLURM_ARRAY_TASK_COUNT: String((max - min) / step + 1),
      });
    assert.deepEqual([0, 2, 4].map((id) => resolveShard({}, array(id, 0, 4, 2))), [
      { index: 0, count: 3 },
      { index: 1, count: 3 },
      { index: 2, count: 3 },
    ]);
    assert.deepEqual([3, 6, 9].map((id) => resolveShard({}, array(id, 3, 9, 3))), [
      { index: 0, count: 3 },
      { index: 1, count: 3 },
      { index: 2, count: 3 },
    ]);
    assert.deepEqual(resolveShard({ shardCount: "6" }, array(4, 0, 4, 2)), { index: 2, count: 6 });
    // A plain range without STEP/MAX (older Slurm) is as before.
    assert.deepEqual(
      resolveShard(
        {},
        env({ SLURM_ARRAY_TASK_ID: "7", SLURM_ARRAY_TASK_MIN: "5", SLURM_ARRAY_TASK_COUNT: "3" }),
      ),
      { index: 2, count: 3 },
    );
    // A list array (--array=1,2,7) is not a stepped range: refused, not mis-numbered.
    assert.throws(
      () =>
        resolveShard(
          {},
          env({
            SLURM_ARRAY_TASK_ID: "7",
            SLURM_ARRAY_TASK_MIN: "1",
            SLURM_ARRAY_TASK_MAX: "7",
            SLURM_ARRAY_TASK_STEP: "1",
            SLURM_ARRAY_TASK_COUNT: "3",
          }),
        ),
      {
        name: "RangeError",
        message: /^Cannot use Slurm array 1-7:1: 3 tasks is not a contiguous range/,
      },
    );
  });

  test("shardRange() cuts [0, total) into n contiguous ranges; ownsUnit() by first byte; shardPrefix()", () => {
    for (const total of [0, 1, 7, 100, 2 ** 40 + 3]) {
      for (let n = 1; n <= 5; n++) {
        let at = 0;
        for (let i = 0; i < n; i++) {
          const r = shardRange(total, { index: i, count: n });
          assert.equal(r.start, at, `${total} ${i}/${n}`);
          assert.ok(r.end >= r.start && r.end - r.start <= Math.ceil(total / n));
          at = r.end;
        }
        assert.equal(at, total);
      }
    }
    assert.deepEqual([0, 1, 2, 3, 4, 5].filter((p) => ownsUnit(p, { start: 2, end: 4 })), [2, 3]);
    assert.equal(shardPrefix("d/t", { index: 0, count: 1 }), "d/t");
    assert.equal(shardPrefix("d/t", { index: 3, count: 8 }), "d/t.shard-00003-of-00008");
  });
});

describe("progress", () => {
  test("not a terminal: a plain line every logEveryMs (none before the first interval); 0 is off", () => {
    const out: string[] = [];
    let now = 0;
    const sink = { write: (t: string) => void out.push(t), isTTY: false };
    const p = new Progress(sink, { totalBytes: 10, logEveryMs: 10_000, now: () => now });
    now = 5_000;
    p.update({ records: 1, failed: 0, tokens: 5, bytes: 5 });
    assert.deepEqual(out, []);
    now = 10_000;
    p.update({ records: 2000, failed: 0, tokens: 40_000, bytes: 5, resumedRecords: 1000 });
    now = 15_000;
    p.update({ records: 2500, failed: 0, tokens: 50_000, bytes: 5 });
    p.end();
    assert.deepEqual(out, [
      "2,000 records · 0 failed · 40.0k tokens · 100 rec/s · 4000 tok/s · 10s · 50.0% · ETA 10s\n",
    ]);
    const quiet: string[] = [];
    const q = new Progress({ write: (t) => void quiet.push(t), isTTY: false }, {
      totalBytes: 0,
      logEveryMs: 0,
      now: () => now,
    });
    now = 1e9;
    q.update({ records: 1, failed: 0, tokens: 1, bytes: 1 });
    assert.deepEqual(quiet, []);
  });

  test("redraws one line on a terminal, at most once per interval, with percent and ETA", () => {
    const out: string[] = [];
    let now = 0;
    const p = new Progress({ write: (t) => void out.push(t), isTTY: true }, {
      totalBytes: 1000,
      intervalMs: 200,
      now: () => now,
    });
    now = 10_000;
    p.update({ records: 1500, failed: 2, tokens: 300_000, bytes: 250 });
    now = 10_100;
    p.update({ records: 1600, failed: 2, tokens: 310_000, bytes: 260 });
    assert.equal(out.length, 1);
    assert.equal(
      out[0],
      "\r\x1b[2K1,500 records · 2 failed · 300.0k tokens · 150 rec/s · 30.0k tok/s · 10s · 25.0% · ETA 30s",
    );
    p.end();
    assert.equal(out[1], "\r\x1b[2K");
  });

  test("formatDuration()", () => {
    assert.deepEqual([0.42, 12, 185, 3725].map(formatDuration), [
      "0.4s",
      "12s",
      "3m05s",
      "1h02m",
    ]);
  });
});

describe("fillLossMask()", () => {
  const spans = [
    { role: "system", sampledStart: 1, end: 4 },
    { role: "assistant", channel: "analysis", sampledStart: 5, end: 7 },
    {
      role: "assistant",
      channel: "commentary",
      recipient: "functions.f",
      sampledStart: 8,
      end: 10,
    },
    { role: "tool", channel: "commentary", sampledStart: 11, end: 12 },
    { role: "assistant", channel: "final", sampledStart: 13, end: 15 },
  ];
  test("assistant: every assistant message from its sampled start through its stop token", () => {
    const m = new Uint8Array(15);
    assert.equal(fillLossMask(m, spans, "assistant"), 6);
    assert.deepEqual([...m], [0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1]);
  });
  test("final: only final-channel messages", () => {
    const m = new Uint8Array(15).fill(1);
    assert.equal(fillLossMask(m, spans, "final"), 2);
    assert.deepEqual([...m], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  });
  test("throws RangeError on a span past the tokens", () => {
    assert.throws(
      () => fillLossMask(new Uint8Array(3), [{ role: "assistant", sampledStart: 1, end: 4 }]),
      {
        name: "RangeError",
        message: "Cannot mask span 0: [1, 4) is outside 3 tokens",
      },
    );
  });
});

describe("AppendFile", () => {
  test("buffers, counts bytes, writes large chunks through, and reopens truncated", async () => {
    await withTmp((dir) => {
      const path = join(dir, "f");
      const f = new AppendFile(path);
      f.writeText("abc");
      const big = new Uint8Array((1 << 20) + 5).fill(120);
      f.write(big);
      f.writeText("z");
      assert.equal(f.length, 3 + big.length + 1);
      f.close();
      const all = readFileSync(path);
      assert.equal(all.length, 3 + big.length + 1);
      assert.equal(all.subarray(0, 3).toString(), "abc");
      assert.equal(all[all.length - 1], 122);
      const g = new AppendFile(path, 2);
      g.writeText("Q");
      g.close();
      assert.equal(readFileSync(path, "utf8"), "abQ");
    });
  });
});

test("detectInputKind() tells gzip, Parquet and JSONL from the first bytes", () => {
  assert.equal(detectInputKind(Uint8Array.of(0x1f, 0x8b, 8, 0)), "jsonl.gz");
  assert.equal(detectInputKind(new TextEncoder().encode("PAR1")), "parquet");
  assert.equal(detectInputKind(new TextEncoder().encode('{"m')), "jsonl");
  assert.equal(detectInputKind(new Uint8Array(0)), "jsonl");
});
