// Checkpoints do not idle the engine (issue #12): the batches after a checkpoint position are read
// and handed out before the checkpoint is taken, and the checkpoint (taken once the batch ending
// at that position is written) still names exactly the last written record, so a run that
// crashes right after it resumes to the clean run's bytes. Both pipelines, one thread and two.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { conversationFromJson } from "../../src/chat/json.ts";
import { renderDataset, type RenderDatasetOptions } from "../../src/dataset/pipeline.ts";
import { loadTrainingRenderer } from "../../src/dataset/training_renderer.ts";
import { parseDataset, type ParseDatasetOptions } from "../../src/evals/parse_dataset.ts";
import { FIXTURES, withTmp } from "../dataset/_helpers.ts";
import { buildInput, tokenizer } from "../evals/_helpers.ts";

const renderBatch = await loadTrainingRenderer();
const GLAIVE = join(FIXTURES, "glaive_excerpt.jsonl");

function render(options: Partial<RenderDatasetOptions> & { inputs: string[]; prefix: string }) {
  return renderDataset({
    toConversation: conversationFromJson,
    renderBatch,
    batchSize: 4,
    checkpointEvery: 4,
    ...options,
  });
}

function parse(options: Partial<ParseDatasetOptions> & { inputs: string[]; out: string }) {
  return parseDataset({ tokenizer, batchSize: 4, checkpointEvery: 4, ...options });
}

/** Every file of `dir` named `stem.*`, by suffix, with its bytes. */
function filesOf(dir: string, stem: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of readdirSync(dir).filter((f) => f.startsWith(`${stem}.`)).sort()) {
    out.set(f.slice(stem.length), readFileSync(join(dir, f)));
  }
  return out;
}

/** Throws from the `n`-th progress call (a crash: no final checkpoint, files left as they are). */
function crashAt(n: number) {
  let calls = 0;
  return () => {
    if (++calls === n) throw new Error("simulated crash");
  };
}

describe("render-dataset checkpoints", () => {
  test("the batch after a checkpoint position is read before the checkpointed batch is written", async () => {
    await withTmp(async (dir) => {
      const reads: number[] = [];
      await render({
        inputs: [GLAIVE],
        prefix: join(dir, "a"),
        onProgress: (p) => reads.push(p.read),
      });
      // One thread keeps one batch ahead: batch 1 (records 1-4, a checkpoint) is written while
      // batch 2 is in flight; a drain at the checkpoint would write it with 4 records read.
      assert.equal(reads[0], 8);
    });
  });

  for (const workers of [1, 2]) {
    test(`workers ${workers}: a crash after an overlapped checkpoint resumes to the clean bytes`, {
      timeout: 120_000,
    }, async () => {
      await withTmp(async (dir) => {
        const input = join(dir, "in.jsonl");
        writeFileSync(input, readFileSync(GLAIVE));
        await render({ inputs: [input], prefix: join(dir, "clean"), workers });
        const prefix = join(dir, "r");
        await assert.rejects(
          render({ inputs: [input], prefix, workers, onProgress: crashAt(3) }),
          /simulated crash/,
        );
        const cp = JSON.parse(readFileSync(`${prefix}.checkpoint.json`, "utf8"));
        assert.equal(cp.position.records, cp.counts.read, "the journal's position is its count");
        assert.equal(cp.counts.read, cp.counts.written + cp.counts.failed + cp.counts.skipped);
        assert.ok(cp.counts.read > 0 && cp.counts.read < 21, `checkpoint at ${cp.counts.read}`);
        rmSync(`${prefix}.lock`, { force: true });
        const resumed = await render({
          inputs: [input],
          prefix,
          workers: 3 - workers,
          resume: true,
        });
        assert.equal(resumed.resumedFrom, cp.counts.read);
        assert.deepEqual(filesOf(dir, "r"), filesOf(dir, "clean"));
      });
    });
  }
});

describe("parse-dataset checkpoints", () => {
  test("the batch after a checkpoint position is read before the checkpointed batch is written", async () => {
    await withTmp(async (dir) => {
      const input = join(dir, "in.jsonl");
      writeFileSync(input, buildInput().lines.join("\n") + "\n");
      const reads: number[] = [];
      await parse({
        inputs: [input],
        out: join(dir, "a.jsonl"),
        onProgress: (p) => reads.push(p.read),
      });
      assert.equal(reads[0], 8);
    });
  });

  for (const workers of [1, 2]) {
    test(`workers ${workers}: a crash after an overlapped checkpoint resumes to the clean bytes`, {
      timeout: 120_000,
    }, async () => {
      await withTmp(async (dir) => {
        const input = join(dir, "in.jsonl");
        writeFileSync(input, buildInput().lines.join("\n") + "\n");
        const clean = join(dir, "clean.jsonl");
        await parse({ inputs: [input], out: clean, workers });
        const out = join(dir, "r.jsonl");
        await assert.rejects(
          parse({ inputs: [input], out, workers, onProgress: crashAt(3) }),
          /simulated crash/,
        );
        const cp = JSON.parse(readFileSync(`${out}.checkpoint.json`, "utf8"));
        assert.equal(cp.position.records, cp.progress.read, "the journal's position is its count");
        assert.equal(cp.stats.records, cp.progress.read, "the statistics cover the same records");
        rmSync(`${out}.lock`, { force: true });
        const resumed = await parse({ inputs: [input], out, workers: 3 - workers, resume: true });
        assert.equal(resumed.resumedFrom, cp.progress.read);
        assert.ok(existsSync(out));
        assert.ok(readFileSync(out).equals(readFileSync(clean)), "resumed output differs");
      });
    });
  }
});
