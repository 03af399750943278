import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ByteWriter, parquetWrite } from "hyparquet-writer";
import { conversationFromJson } from "../../src/chat/json.ts";
import {
  type RenderBatch,
  renderDataset,
  type RenderDatasetOptions,
} from "../../src/dataset/pipeline.ts";
import { loadTrainingRenderer } from "../../src/dataset/training_renderer.ts";
import { OUTPUT_FORMATS } from "../../src/dataset/writers.ts";
import { readRecords } from "../../src/dataset/readers.ts";
import {
  CORPUS_CONVERSATION_RECORDS,
  CORPUS_CONVERSATIONS,
  expectedRow,
  FIXTURES,
  nonBlankLines,
  readBack,
  withTmp,
} from "./_helpers.ts";

const renderBatch = await loadTrainingRenderer();
const MIXED = join(FIXTURES, "mixed.jsonl");
const GLAIVE = join(FIXTURES, "glaive_excerpt.jsonl");

function run(options: Partial<RenderDatasetOptions> & { inputs: string[]; prefix: string }) {
  return renderDataset({ toConversation: conversationFromJson, renderBatch, ...options });
}

describe("errors are reported and the rest rendered", () => {
  test("a corrupt line in the middle of a file, an unknown role: two error lines, five records", async () => {
    await withTmp(async (dir) => {
      const prefix = join(dir, "out");
      const s = await run({ inputs: [MIXED], prefix, outputFormat: "jsonl" });
      assert.equal(s.read, 7);
      assert.equal(s.written, 5);
      assert.equal(s.failed, 2);
      assert.equal(s.read, s.written + s.failed + s.otherShards);
      const errors = readFileSync(`${prefix}.errors.jsonl`, "utf8").trimEnd().split("\n").map((l) =>
        JSON.parse(l)
      );
      const text = readFileSync(MIXED, "utf8");
      const lineOffset = (n: number) => text.split("\n").slice(0, n - 1).join("\n").length + 1;
      assert.equal(errors.length, 2);
      assert.deepEqual(
        { ...errors[0], reason: errors[0].reason.slice(0, 20) },
        {
          record: 3,
          file: MIXED,
          line: 5,
          byte_offset: Buffer.byteLength(text.slice(0, lineOffset(5))),
          reason: "Cannot parse record:",
        },
      );
      assert.equal(errors[1].record, 5);
      assert.equal(errors[1].line, 7);
      assert.match(
        errors[1].reason,
        /^Cannot map record at \$\.messages\[1\]\.role: unknown role "wizard"$/,
      );
      const good = nonBlankLines(MIXED).filter((_, i) => i !== 3 && i !== 5);
      const rows = await readBack("jsonl", prefix);
      assert.equal(rows.length, good.length);
      for (let i = 0; i < good.length; i++) assert.deepEqual(rows[i], await expectedRow(good[i]));
    });
  });

  test("a render failure is one error line; the batch's other records are written", async () => {
    await withTmp(async (dir) => {
      const failing: RenderBatch = async (convs) => {
        const out = await renderBatch(convs);
        return out.map((r, i) => (convs[i].messages.length === 4 ? new Error("boom") : r));
      };
      const s = await run({
        inputs: [MIXED],
        prefix: join(dir, "o"),
        outputFormat: "bin",
        renderBatch: failing,
      });
      const errors = readFileSync(join(dir, "o.errors.jsonl"), "utf8").trimEnd().split("\n");
      assert.equal(s.failed, errors.length);
      assert.ok(errors.some((l) => JSON.parse(l).reason === "Cannot render record: boom"));
      assert.equal(s.written + s.failed, 7);
    });
  });
});

test("a renderer that throws for a batch is retried record by record", async () => {
  await withTmp(async (dir) => {
    const throwing: RenderBatch = (convs) => {
      if (convs.some((c) => c.messages.length === 4)) throw new RangeError("bad batch");
      return renderBatch(convs);
    };
    const s = await run({
      inputs: [MIXED],
      prefix: join(dir, "o"),
      outputFormat: "jsonl",
      renderBatch: throwing,
    });
    const errors = readFileSync(join(dir, "o.errors.jsonl"), "utf8").trimEnd().split("\n").map((
      l,
    ) => JSON.parse(l));
    const bad = errors.filter((e) => e.reason === "Cannot render record: bad batch");
    // Records 0 and 2 have four messages (with the system message added); the others render.
    assert.deepEqual(bad.map((e) => e.record), [0, 2]);
    assert.equal(s.written, 3);
    assert.equal(s.failed, 4);
  });
});

describe("inputs", () => {
  test("gzip input (two gzip members) gives the same records as the plain file", async () => {
    await withTmp(async (dir) => {
      const text = readFileSync(GLAIVE);
      const half = text.indexOf(10, text.length >> 1) + 1;
      const gz = join(dir, "in.jsonl.gz");
      writeFileSync(
        gz,
        Buffer.concat([gzipSync(text.subarray(0, half)), gzipSync(text.subarray(half))]),
      );
      await run({ inputs: [gz], prefix: join(dir, "z"), outputFormat: "jsonl" });
      await run({ inputs: [GLAIVE], prefix: join(dir, "p"), outputFormat: "jsonl" });
      assert.equal(
        readFileSync(join(dir, "z.jsonl"), "utf8"),
        readFileSync(join(dir, "p.jsonl"), "utf8"),
      );
    });
  });

  test("Parquet input with a messages list<struct> column is read row group by row group", async () => {
    await withTmp(async (dir) => {
      const lines = nonBlankLines(join(FIXTURES, "multilingual_excerpt.jsonl"));
      const records = lines.map((l) =>
        JSON.parse(l) as { messages: Array<{ role: string; content: string }> }
      );
      const writer = new ByteWriter();
      parquetWrite({
        writer,
        columnData: [{ name: "messages", data: records.map((r) => r.messages) }],
        schema: [
          { name: "root", num_children: 1 },
          {
            name: "messages",
            repetition_type: "REQUIRED",
            converted_type: "LIST",
            num_children: 1,
          },
          { name: "list", repetition_type: "REPEATED", num_children: 1 },
          { name: "element", repetition_type: "REQUIRED", num_children: 2 },
          { name: "role", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
          {
            name: "content",
            type: "BYTE_ARRAY",
            converted_type: "UTF8",
            repetition_type: "OPTIONAL",
          },
        ],
        rowGroupSize: 4,
      });
      const pq = join(dir, "in.parquet");
      writeFileSync(pq, writer.getBytes());
      const seen = [];
      for await (const r of readRecords([pq])) seen.push(r.line);
      assert.deepEqual(seen, lines.map((_, i) => i + 1));
      // Resume inside the second row group.
      const tail = [];
      for await (
        const r of readRecords([pq], { start: { records: 5, fileIndex: 0, line: 5, offset: 0 } })
      ) {
        tail.push(r.index);
      }
      assert.deepEqual(tail, lines.slice(5).map((_, i) => i + 5));
      const s = await run({ inputs: [pq], prefix: join(dir, "o"), outputFormat: "jsonl" });
      assert.equal(s.failed, 0);
      const rows = await readBack("jsonl", join(dir, "o"));
      for (let i = 0; i < lines.length; i++) {
        assert.deepEqual(rows[i], await expectedRow(JSON.stringify(records[i])), `row ${i}`);
      }
    });
  });

  test("records are numbered across files; a plain JSONL resume seeks to its byte offset", async () => {
    const all = [];
    for await (const r of readRecords([MIXED, GLAIVE])) all.push(r);
    assert.equal(all.length, 7 + nonBlankLines(GLAIVE).length);
    assert.deepEqual(all.slice(6, 8).map((r) => [r.index, r.fileIndex, r.line]), [[6, 0, 8], [
      7,
      1,
      1,
    ]]);
    const at = all[9];
    const rest = [];
    for await (
      const r of readRecords([MIXED, GLAIVE], {
        start: {
          records: at.index + 1,
          fileIndex: at.fileIndex,
          line: at.line,
          offset: at.byteOffset,
        },
      })
    ) rest.push(r);
    assert.deepEqual(rest, all.slice(10));
  });
});

describe("sharding", () => {
  test("shards i/3 are contiguous: in shard order their rows and errors are the unsharded run's", async () => {
    await withTmp(async (dir) => {
      const whole = await run({
        inputs: [MIXED, GLAIVE],
        prefix: join(dir, "w"),
        outputFormat: "jsonl",
      });
      let rows = "";
      let errors = "";
      let read = 0;
      for (let i = 0; i < 3; i++) {
        const s = await run({
          inputs: [MIXED, GLAIVE],
          prefix: join(dir, `s${i}`),
          outputFormat: "jsonl",
          shard: { index: i, count: 3 },
        });
        assert.equal(s.otherShards, 0);
        assert.equal(s.read, s.written + s.failed);
        read += s.read;
        rows += readFileSync(join(dir, `s${i}.jsonl`), "utf8");
        errors += readFileSync(join(dir, `s${i}.errors.jsonl`), "utf8");
      }
      assert.equal(read, whole.read);
      assert.equal(rows, readFileSync(join(dir, "w.jsonl"), "utf8"));
      assert.equal(errors, readFileSync(join(dir, "w.errors.jsonl"), "utf8"));
    });
  });
});

describe("resume", () => {
  for (const format of OUTPUT_FORMATS) {
    test(`${format}: a run interrupted after 13 records resumes to the uninterrupted output`, async () => {
      await withTmp(async (dir) => {
        const inputs = [MIXED, GLAIVE];
        const common = {
          inputs,
          outputFormat: format,
          batchSize: 2,
          checkpointEvery: 4,
          rowGroupRows: 3,
        };
        // The clean run takes no checkpoint before its end: the output must not depend on where
        // the interrupted run's checkpoints fell (Parquet row groups included).
        const clean = await run({
          ...common,
          checkpointEvery: 1 << 30,
          prefix: join(dir, "clean"),
        });

        const ctrl = new AbortController();
        let rendered = 0;
        const killing: RenderBatch = (convs) => {
          rendered += convs.length;
          if (rendered >= 13) ctrl.abort();
          return renderBatch(convs);
        };
        const prefix = join(dir, "killed");
        const first = await run({ ...common, prefix, renderBatch: killing, signal: ctrl.signal });
        assert.equal(first.interrupted, true);
        assert.ok(existsSync(`${prefix}.checkpoint.json`));
        assert.ok(!existsSync(`${prefix}.errors.jsonl`), "nothing is renamed before completion");

        const second = await run({ ...common, prefix, resume: true });
        assert.equal(second.interrupted, false);
        // An abort drains the batches in flight and checkpoints where reading stopped.
        assert.ok(second.resumedFrom > 0, `resumed from ${second.resumedFrom}`);
        assert.equal(second.resumedFrom, first.read);
        for (const k of ["read", "written", "failed", "tokens", "trainedTokens"] as const) {
          assert.equal(second[k], clean[k], k);
        }
        assert.deepEqual(
          await readBack(format, prefix),
          await readBack(format, join(dir, "clean")),
        );
        // Parquet too: rows not yet in a row group ride in the checkpoint, so the interrupt
        // does not cut a row group of its own.
        for (let i = 0; i < clean.files.length; i++) {
          assert.ok(
            readFileSync(second.files[i]).equals(readFileSync(clean.files[i])),
            second.files[i],
          );
        }
        assert.equal(
          readFileSync(`${prefix}.errors.jsonl`, "utf8").replaceAll("killed", ""),
          readFileSync(join(dir, "clean.errors.jsonl"), "utf8").replaceAll("clean", ""),
        );
        const left = readdirSync(dir).filter((f) =>
          f.startsWith("killed") && /tmp|checkpoint/.test(f)
        );
        assert.deepEqual(left, []);
      });
    });
  }

  test("refuses to resume with other settings", async () => {
    await withTmp(async (dir) => {
      const ctrl = new AbortController();
      let n = 0;
      const killing: RenderBatch = (convs) => {
        if (++n === 3) ctrl.abort();
        return renderBatch(convs);
      };
      const prefix = join(dir, "o");
      const base = { inputs: [GLAIVE], prefix, batchSize: 1, checkpointEvery: 1 };
      await run({ ...base, outputFormat: "jsonl", renderBatch: killing, signal: ctrl.signal });
      assert.ok(existsSync(`${prefix}.checkpoint.json`));
      await assert.rejects(run({ ...base, outputFormat: "bin", resume: true }), {
        name: "RangeError",
        message: /^Cannot resume .*: setting "format" was "jsonl", now "bin"$/,
      });
    });
  });
});

describe("the corpus (../shared, or its bundled excerpts)", () => {
  test("every conversations/*.jsonl record renders", { timeout: 120_000 }, async () => {
    await withTmp(async (dir) => {
      const files = readdirSync(CORPUS_CONVERSATIONS).filter((f) => f.endsWith(".jsonl")).sort()
        .map((f) => join(CORPUS_CONVERSATIONS, f));
      const s = await run({
        inputs: files,
        prefix: join(dir, "corpus"),
        outputFormat: "bin",
        batchSize: 256,
      });
      assert.equal(readFileSync(join(dir, "corpus.errors.jsonl"), "utf8"), "");
      assert.equal(s.failed, 0);
      assert.equal(s.written, s.read);
      assert.ok(s.read > CORPUS_CONVERSATION_RECORDS);
    });
  });
});
