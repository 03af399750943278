import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { conversationFromJson } from "../../src/chat/json.ts";
import { renderDataset } from "../../src/dataset/pipeline.ts";
import { loadTrainingRenderer } from "../../src/dataset/training_renderer.ts";
import { createWriter, OUTPUT_FORMATS } from "../../src/dataset/writers.ts";
import {
  decodeMegatronIndex,
  encodeMegatronIndex,
  MegatronDType,
  openMegatronDataset,
} from "../../src/dataset/megatron.ts";
import { BIN_HEADER_BYTES, openBinDataset } from "../../src/dataset/bin_format.ts";
import { mergeDatasets, prefixesOf } from "../../src/dataset/merge.ts";
import { expectedRow, FIXTURES, nonBlankLines, readBack, withTmp } from "./_helpers.ts";

const renderBatch = await loadTrainingRenderer();
const GLAIVE = join(FIXTURES, "glaive_excerpt.jsonl");

describe("every output format round-trips", () => {
  for (const format of OUTPUT_FORMATS) {
    test(`${format}: read back equals renderConversationForTraining + span masks`, async () => {
      await withTmp(async (dir) => {
        const prefix = join(dir, "out");
        const summary = await renderDataset({
          inputs: [GLAIVE],
          prefix,
          outputFormat: format,
          toConversation: conversationFromJson,
          renderBatch,
          batchSize: 5,
          rowGroupRows: 8, // several Parquet row groups
        });
        const lines = nonBlankLines(GLAIVE);
        assert.equal(summary.failed, 0);
        assert.equal(summary.written, lines.length);
        const rows = await readBack(format, prefix);
        assert.equal(rows.length, lines.length);
        let tokens = 0;
        for (let i = 0; i < lines.length; i++) {
          assert.deepEqual(rows[i], await expectedRow(lines[i]), `record ${i}`);
          tokens += rows[i].tokens.length;
        }
        assert.equal(summary.tokens, tokens);
      });
    });
  }

  test("--train-on final masks only final-channel messages", async () => {
    await withTmp(async (dir) => {
      const prefix = join(dir, "out");
      await renderDataset({
        inputs: [GLAIVE],
        prefix,
        outputFormat: "jsonl",
        trainOn: "final",
        toConversation: conversationFromJson,
        renderBatch,
      });
      const rows = await readBack("jsonl", prefix);
      const lines = nonBlankLines(GLAIVE);
      for (let i = 0; i < lines.length; i++) {
        assert.deepEqual(rows[i], await expectedRow(lines[i], "final"), `record ${i}`);
      }
      // Tool calls are trained under "assistant" but not under "final".
      const all = await expectedRow(lines[0], "assistant");
      const sum = (m: number[]) => m.reduce((a, b) => a + b, 0);
      assert.ok(sum(all.mask) > sum(rows[0].mask));
    });
  });
});

describe("Megatron indexed dataset layout", () => {
  test(".idx bytes are Megatron-LM's layout (header, version, dtype, counts, arrays)", async () => {
    await withTmp((dir) => {
      const prefix = join(dir, "m");
      const w = createWriter("megatron", prefix);
      w.write(Uint32Array.of(200006, 1428, 7), Uint8Array.of(0, 1, 1));
      w.write(Uint32Array.of(5, 201087), Uint8Array.of(1, 0));
      w.finish();
      const le = (n: number, bytes: number) => {
        const out: number[] = [];
        for (let i = 0; i < bytes; i++) out.push(Math.floor(n / 2 ** (8 * i)) % 256);
        return out;
      };
      const header = [0x4d, 0x4d, 0x49, 0x44, 0x49, 0x44, 0x58, 0, 0, ...le(1, 8)];
      const tail = (dtype: number, size: number) => [
        ...header,
        dtype,
        ...le(2, 8), // sequence count
        ...le(3, 8), // document index count (documents + 1)
        ...le(3, 4),
        ...le(2, 4), // int32 lengths
        ...le(0, 8),
        ...le(3 * size, 8), // int64 byte pointers
        ...le(0, 8),
        ...le(1, 8),
        ...le(2, 8), // int64 document indices
      ];
      assert.deepEqual([...readFileSync(`${prefix}.idx`)], tail(4, 4));
      assert.deepEqual([...readFileSync(`${prefix}.loss_mask.idx`)], tail(1, 1));
      assert.deepEqual(
        [...readFileSync(`${prefix}.bin`)],
        [...le(200006, 4), ...le(1428, 4), ...le(7, 4), ...le(5, 4), ...le(201087, 4)],
      );
      assert.deepEqual([...readFileSync(`${prefix}.loss_mask.bin`)], [0, 1, 1, 1, 0]);
      const ds = openMegatronDataset(prefix);
      assert.deepEqual([...ds.get(1)], [5, 201087]);
      ds.close();
    });
  });

  test("encodeMegatronIndex() and decodeMegatronIndex() agree", () => {
    const idx = decodeMegatronIndex(
      encodeMegatronIndex(MegatronDType.int32, Int32Array.of(4, 0, 9)),
    );
    assert.deepEqual([...idx.sequenceLengths], [4, 0, 9]);
    assert.deepEqual([...idx.sequencePointers], [0n, 16n, 16n]);
    assert.deepEqual([...idx.documentIndices], [0n, 1n, 2n, 3n]);
  });

  test("decodeMegatronIndex() throws SyntaxError on a bad magic", () => {
    const bytes = encodeMegatronIndex(MegatronDType.int32, Int32Array.of(1));
    bytes[0] = 0;
    assert.throws(() => decodeMegatronIndex(bytes), {
      name: "SyntaxError",
      message: "Cannot read Megatron index: bad magic (expected MMIDIDX)",
    });
  });
});

describe("bin format", () => {
  test("header holds llm.c's magic/version and the counts; the index the offsets", async () => {
    await withTmp((dir) => {
      const prefix = join(dir, "b");
      const w = createWriter("bin", prefix);
      w.write(Uint32Array.of(1, 2, 3), Uint8Array.of(0, 0, 1));
      w.write(Uint32Array.of(4), Uint8Array.of(1));
      w.finish();
      const head = new Int32Array(readFileSync(`${prefix}.bin`).buffer.slice(0, BIN_HEADER_BYTES));
      assert.deepEqual([...head.subarray(0, 8)], [20240801, 7, 4, 0, 4, 0, 2, 0]);
      const ds = openBinDataset(prefix);
      assert.deepEqual([...ds.offsets], [0n, 3n, 4n]);
      assert.deepEqual([...ds.get(0).tokens], [1, 2, 3]);
      assert.deepEqual([...ds.get(1).mask], [1]);
      ds.close();
    });
  });
});

describe("merge", () => {
  for (const format of ["megatron", "bin"] as const) {
    test(`${format}: merging shard outputs gives their records in order`, async () => {
      await withTmp(async (dir) => {
        const lines = nonBlankLines(GLAIVE);
        const a = join(dir, "a.jsonl");
        const b = join(dir, "b.jsonl");
        writeFileSync(a, lines.slice(0, 7).join("\n"));
        writeFileSync(b, lines.slice(7).join("\n"));
        for (const [input, p] of [[a, "pa"], [b, "pb"]]) {
          await renderDataset({
            inputs: [input],
            prefix: join(dir, p),
            outputFormat: format,
            toConversation: conversationFromJson,
            renderBatch,
          });
        }
        const files = format === "megatron"
          ? ["pa.bin", "pa.idx", "pa.loss_mask.bin", "pa.loss_mask.idx", "pb.bin", "pb.idx"]
          : ["pa.bin", "pa.idx", "pa.loss_mask.bin", "pb.bin", "pb.idx", "pb.loss_mask.bin"];
        const prefixes = prefixesOf(files.map((f) => join(dir, f)));
        assert.deepEqual(prefixes, [join(dir, "pa"), join(dir, "pb")]);
        const s = await mergeDatasets(prefixes, join(dir, "all"));
        assert.equal(s.records, lines.length);
        const rows = await readBack(format, join(dir, "all"));
        assert.equal(rows.length, lines.length);
        for (let i = 0; i < lines.length; i++) {
          assert.deepEqual(rows[i], await expectedRow(lines[i]), `record ${i}`);
        }
      });
    });
  }

  test("refuses to merge a Megatron dataset with a bin dataset", async () => {
    await withTmp(async (dir) => {
      const m = createWriter("megatron", join(dir, "m"));
      m.write(Uint32Array.of(1), Uint8Array.of(1));
      m.finish();
      const b = createWriter("bin", join(dir, "b"));
      b.write(Uint32Array.of(1), Uint8Array.of(1));
      b.finish();
      await assert.rejects(() => mergeDatasets([join(dir, "m"), join(dir, "b")], join(dir, "x")), {
        name: "SyntaxError",
        message: /^Cannot merge .*b: it is bin, .*m is megatron$/,
      });
    });
  });
});
