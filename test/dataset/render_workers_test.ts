// The packed wire format of render-dataset's worker threads (render_workers.ts): what crosses the
// thread boundary unpacks to exactly the records and outcomes that went in.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  packOutcomes,
  packRecords,
  unpackOutcomes,
  unpackRecords,
} from "../../src/dataset/render_workers.ts";
import type { RawRecord, RecordOutcome } from "../../src/dataset/record_batch.ts";

test("packRecords joins plain lines into one string; unpack gives them back (astral, empty)", () => {
  const batch: RawRecord[] = [{ text: '{"a":"😀"}' }, { text: "" }, { text: '{"b":"日本"}' }];
  const packed = packRecords(batch);
  assert.ok("texts" in packed);
  assert.equal(packed.texts, batch.map((r) => r.text).join(""));
  assert.deepEqual(unpackRecords(packed), batch);
  assert.deepEqual(unpackRecords(packRecords([])), []);
});

test("packRecords sends a batch with a Parquet row or an unreadable line as it is", () => {
  for (
    const odd of [{ value: { messages: [] } }, { error: "invalid UTF-8 at byte 3" }] as RawRecord[]
  ) {
    const batch: RawRecord[] = [{ text: "{}" }, odd];
    const packed = packRecords(batch);
    assert.ok("records" in packed);
    assert.deepEqual(unpackRecords(packed), batch);
  }
});

test("packOutcomes: one token and one mask array; failures, empty records and analysis kept", () => {
  const outcomes: RecordOutcome[] = [
    { reason: "Cannot read record: bad JSON" },
    { tokens: Uint32Array.of(200006, 1428), mask: Uint8Array.of(0, 1), trained: 1 },
    { tokens: new Uint32Array(0), mask: new Uint8Array(0), trained: 0 },
    {
      tokens: Uint32Array.of(7, 8, 9),
      mask: Uint8Array.of(1, 1, 0),
      trained: 2,
      analysis: { dropped: 2, kept: 1 },
    },
    { reason: "Cannot render record: x" },
  ];
  const packed = packOutcomes(outcomes);
  assert.deepEqual([...packed.tokens], [200006, 1428, 7, 8, 9]);
  assert.deepEqual([...packed.mask], [0, 1, 1, 1, 0]);
  const back = unpackOutcomes(structuredClone(packed));
  assert.deepEqual(back, outcomes);
});
