import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { formatStats, StatsCollector } from "../../src/evals/stats.ts";

const where = (record: number) => ({ record, file: "a.jsonl", line: record + 1 });

describe("StatsCollector", () => {
  test("counts by status, stop, channel and recipient; first example per reason", () => {
    const s = new StatsCollector();
    s.add(
      {
        status: "ok",
        stop: "call",
        messages: [{ channel: "analysis" }, { channel: "commentary" }, {}],
        tool_calls: [{ recipient: "functions.f" }],
      },
      10,
      where(0),
    );
    s.add(
      {
        status: "error",
        stop: "none",
        messages: [],
        tool_calls: [],
        reason: "eos-in-header",
        error: "first",
      },
      3,
      where(1),
    );
    s.add(
      {
        status: "error",
        stop: "none",
        messages: [],
        tool_calls: [],
        reason: "eos-in-header",
        error: "second",
      },
      4,
      where(2),
    );
    s.add(
      {
        status: "recovered",
        stop: "return",
        messages: [{ channel: "final" }],
        tool_calls: [],
        reason: "eos-in-header",
        error: "r",
      },
      5,
      where(3),
    );
    const r = s.result(2, 8, "1/2");
    assert.equal(r.records, 4);
    assert.equal(r.tokens, 22);
    assert.equal(r.messages, 4);
    assert.deepEqual(r.status, { ok: 1, recovered: 1, error: 2 });
    assert.deepEqual(r.stop, { return: 1, call: 1, end: 0, none: 2 });
    assert.deepEqual(r.channels, { "(none)": 1, analysis: 1, commentary: 1, final: 1 });
    assert.deepEqual(r.recipients, { "functions.f": 1 });
    assert.deepEqual(r.errors, [{
      reason: "eos-in-header",
      count: 2,
      example: { record: 1, file: "a.jsonl", line: 2, error: "first" },
    }]);
    assert.equal(r.recovered[0].count, 1);
    assert.equal(r.records_per_second, 2);
    assert.equal(r.tokens_per_second, 11);
    assert.equal(r.read, 8);
    assert.equal(r.shard, "1/2");
  });

  test("recipients are capped at 1000 names; the rest count under (other)", () => {
    const s = new StatsCollector();
    for (let i = 0; i < 1005; i++) {
      s.add(
        { status: "ok", stop: "call", messages: [], tool_calls: [{ recipient: `f${i}` }] },
        1,
        where(i),
      );
    }
    s.add(
      { status: "ok", stop: "call", messages: [], tool_calls: [{ recipient: "f0" }] },
      1,
      where(9),
    );
    const r = s.result(1, 1006, "0/1");
    assert.equal(Object.keys(r.recipients).length, 1001);
    assert.equal(r.recipients["(other)"], 5);
    assert.equal(r.recipients.f0, 2);
    assert.equal(Object.values(r.recipients).reduce((a, b) => a + b, 0), r.tool_calls);
  });

  test("at most 20 reasons are listed; (other) sums the rest", () => {
    const s = new StatsCollector();
    for (let i = 0; i < 25; i++) {
      for (let k = 0; k <= i; k++) {
        s.add(
          { status: "error", stop: "none", messages: [], tool_calls: [], reason: `r${i}` },
          0,
          where(i),
        );
      }
    }
    const r = s.result(1, 0, "0/1");
    assert.equal(r.errors.length, 20);
    assert.equal(r.errors[0].reason, "r24");
    assert.equal(r.errors[19].reason, "(other)");
    assert.equal(r.errors.reduce((a, e) => a + e.count, 0), r.status.error);
  });
});

describe("formatStats()", () => {
  test("one summary line plus a line per frequent error reason", () => {
    const s = new StatsCollector();
    s.add(
      {
        status: "error",
        stop: "none",
        messages: [],
        tool_calls: [],
        reason: "bad-json",
        error: "bad-json: Cannot parse record: x",
      },
      0,
      where(4),
    );
    const text = formatStats({ ...s.result(1, 1, "0/1"), backend: "cpu" }, "out.jsonl");
    const lines = text.trimEnd().split("\n");
    assert.equal(lines.length, 2);
    assert.match(
      lines[0],
      /^parse-dataset: 1 records \(ok 0, recovered 0, error 1\); stop: .*none 1;/,
    );
    assert.match(lines[0], /\(cpu\); 1\.0s → out\.jsonl$/);
    assert.equal(
      lines[1],
      "  error bad-json: 1, e.g. record 4 (a.jsonl:5): bad-json: Cannot parse record: x",
    );
  });
});
