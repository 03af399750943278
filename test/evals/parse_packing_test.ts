// parse-dataset --workers N sends batches packed (issue #12): records in as one string and a few
// typed arrays, samples out as one string of lines, typed arrays and the statistics' inputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  packEvalRecords,
  packSamples,
  type ParsedSample,
  parseRecords,
  type RawEvalRecord,
  unpackEvalRecords,
  unpackSamples,
} from "../../src/evals/parse_batch.ts";
import { CpuBackend } from "../../src/engine/cpu_backend.ts";
import { buildInput, tokenizer } from "./_helpers.ts";

test("packEvalRecords joins lines into one string across files; unpack gives them back (astral, empty)", () => {
  const batch: RawEvalRecord[] = [
    { index: 0, file: "a.jsonl", line: 1, text: '{"text":"😀 x"}' },
    { index: 1, file: "a.jsonl", line: 2, text: "" },
    { index: 2, file: "b.jsonl", line: 1, text: '{"text":"é"}' },
  ];
  const packed = packEvalRecords(batch);
  assert.ok("texts" in packed);
  assert.deepEqual(packed.files, ["a.jsonl", "b.jsonl"]);
  assert.deepEqual(unpackEvalRecords(packed), batch);
});

test("packEvalRecords sends a batch with a Parquet row or an unreadable line as it is", () => {
  const batch: RawEvalRecord[] = [
    { index: 0, file: "a.jsonl", line: 1, text: "{}" },
    { index: 1, file: "a.jsonl", line: 2, error: "invalid UTF-8" },
  ];
  assert.deepEqual(packEvalRecords(batch), { records: batch });
});

test("packSamples/unpackSamples keep every sample of the corpus input (several per record, errors)", async () => {
  const lines = buildInput().lines;
  const records: RawEvalRecord[] = lines.map((text, i) => ({
    index: 10 + i,
    file: "in.jsonl",
    line: 11 + i,
    text,
  }));
  const samples: ParsedSample[] = await parseRecords(records, {
    tokenizer,
    engine: new CpuBackend(tokenizer),
    role: "assistant",
  });
  assert.ok(samples.some((s) => s.stats.status === "error"));
  assert.deepEqual(unpackSamples(packSamples(samples, records), records), samples);
});

test("packSamples throws RangeError for a sample whose record is not in the batch", () => {
  const where = { record: 3, file: "a.jsonl", line: 4 };
  const stats = { status: "ok" as const, stop: "none" as const, messages: [], tool_calls: [] };
  assert.throws(
    () =>
      packSamples([{ line: "{}", where, stats, tokens: 0 }], [{ index: 0, file: "a", line: 1 }]),
    { name: "RangeError", message: "Cannot pack sample 0: record 3 is not in the batch" },
  );
});
