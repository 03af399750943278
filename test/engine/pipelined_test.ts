import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { conversationFromJson } from "../../src/chat/json.ts";
import { type RenderBatch, renderDataset } from "../../src/dataset/pipeline.ts";
import { loadTrainingRenderer } from "../../src/dataset/training_renderer.ts";
import { type Backend, CpuBackend } from "../../src/engine/mod.ts";
import { parseDataset } from "../../src/evals/parse_dataset.ts";
import { buildInput, tokenizer } from "../evals/_helpers.ts";

/** Resolves `value` on a later macrotask, logging when the call starts and ends. */
function later<T>(log: string[], name: string, value: () => T): Promise<T> {
  log.push(`start ${name}`);
  return new Promise((resolve, reject) =>
    setTimeout(() => {
      log.push(`end ${name}`);
      try {
        resolve(value());
      } catch (e) {
        reject(e);
      }
    }, 0)
  );
}

/** The CPU backend with every batch asynchronous (as on a GPU), its calls logged. */
function slowBackend(log: string[]): Backend {
  const cpu = new CpuBackend(tokenizer);
  let n = 0;
  return {
    kind: "cpu",
    encodeBatch: (texts, options) => later(log, `${n++}`, () => cpu.encodeBatch(texts, options)),
    parseBatch: (c, options) => later(log, `${n++}`, () => cpu.parseBatch(c, options)),
    lastStats: () => cpu.lastStats(),
    destroy: () => cpu.destroy(),
  };
}

/** Whether some call started while an earlier one was still running. */
function overlapped(log: string[]): boolean {
  let open = 0;
  for (const e of log) {
    if (e.startsWith("start")) {
      if (open > 0) return true;
      open++;
    } else open--;
  }
  return false;
}

/** At most `max` calls were running at once. */
function maxOpen(log: string[]): number {
  let open = 0, max = 0;
  for (const e of log) {
    open += e.startsWith("start") ? 1 : -1;
    max = Math.max(max, open);
  }
  return max;
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "harmony-pipelined-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("parse-dataset hands batch k+1 to the engine before batch k finishes, output unchanged", async () => {
  await withTmp(async (dir) => {
    const input = join(dir, "in.jsonl");
    writeFileSync(input, buildInput().lines.join("\n") + "\n");
    const plain = join(dir, "plain.jsonl"), piped = join(dir, "piped.jsonl");
    await parseDataset({ inputs: [input], out: plain, tokenizer, batchSize: 4 });
    const log: string[] = [];
    await parseDataset({
      inputs: [input],
      out: piped,
      tokenizer,
      batchSize: 4,
      engine: slowBackend(log),
    });
    assert.equal(readFileSync(piped, "utf8"), readFileSync(plain, "utf8"));
    assert.ok(overlapped(log), `no overlap: ${log.slice(0, 8).join(", ")}`);
    assert.ok(maxOpen(log) <= 2, `more than one batch ahead: ${maxOpen(log)}`);
  });
});

test("render-dataset on one thread hands batch k+1 to the renderer before batch k finishes, output unchanged", async () => {
  const renderBatch = await loadTrainingRenderer();
  const log: string[] = [];
  let n = 0;
  const slow: RenderBatch = async (conversations) => {
    const r = await renderBatch(conversations);
    return later(log, `${n++}`, () => r);
  };
  await withTmp(async (dir) => {
    const input = join(dir, "in.jsonl");
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) {
      lines.push(JSON.stringify({
        messages: [{ role: "user", content: `question ${i}` }, {
          role: "assistant",
          content: `answer ${i} `.repeat(i % 5 + 1),
        }],
      }));
    }
    writeFileSync(input, lines.join("\n") + "\n");
    const common = {
      inputs: [input],
      toConversation: conversationFromJson,
      outputFormat: "jsonl" as const,
      batchSize: 4,
      workers: 1,
    };
    await renderDataset({ ...common, prefix: join(dir, "plain"), renderBatch });
    await renderDataset({ ...common, prefix: join(dir, "piped"), renderBatch: slow });
    assert.equal(
      readFileSync(join(dir, "piped.jsonl"), "utf8"),
      readFileSync(join(dir, "plain.jsonl"), "utf8"),
    );
    assert.ok(overlapped(log), `no overlap: ${log.slice(0, 8).join(", ")}`);
    assert.ok(maxOpen(log) <= 2, `more than one batch ahead: ${maxOpen(log)}`);
  });
});
