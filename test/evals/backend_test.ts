import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine } from "../../src/engine/mod.ts";
import { parseDataset } from "../../src/evals/parse_dataset.ts";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { gpuSkip, requireGpu } from "../gpu/gpu_env.ts";
import { buildInput, tokenizer } from "./_helpers.ts";

async function withInput(fn: (dir: string, input: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "harmony-evals-backend-"));
  try {
    const input = join(dir, "in.jsonl");
    // Its text rows (harmony_outputs) go through the engine's encodeBatch.
    writeFileSync(input, buildInput().lines.join("\n") + "\n");
    await fn(dir, input);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function direct(dir: string, input: string): Promise<string> {
  const out = join(dir, "direct.jsonl");
  await parseDataset({ inputs: [input], out, tokenizer });
  return readFileSync(out, "utf8");
}

describe("parse-dataset on an engine gives the direct CPU path's output byte for byte", () => {
  test("CPU engine, batches of 7 records (batch edges at bad records)", async () => {
    await withInput(async (dir, input) => {
      const engine = await createEngine({ backend: "cpu" });
      try {
        const out = join(dir, "engine.jsonl");
        const { stats } = await parseDataset({
          inputs: [input],
          out,
          tokenizer,
          engine,
          batchSize: 7,
        });
        assert.equal(readFileSync(out, "utf8"), await direct(dir, input));
        assert.ok(stats.status.error > 0 && stats.status.ok > 0);
      } finally {
        engine.destroy();
      }
    });
  });

  test("GPU engine", { skip: gpuSkip }, async () => {
    await withInput(async (dir, input) => {
      const engine = await createEngine({ backend: "gpu", gpu: requireGpu() });
      try {
        const out = join(dir, "gpu.jsonl");
        await parseDataset({ inputs: [input], out, tokenizer, engine, batchSize: 64 });
        assert.equal(readFileSync(out, "utf8"), await direct(dir, input));
      } finally {
        engine.destroy();
      }
    });
  });

  test("CLI --backend gpu and --backend cpu write the same file", { skip: gpuSkip }, async () => {
    await withInput(async (dir, input) => {
      const outs: string[] = [];
      for (const backend of ["cpu", "gpu"]) {
        const host = memoryHost();
        const out = join(dir, `${backend}.jsonl`);
        const stats = join(dir, `${backend}.json`);
        const code = await main(
          ["parse-dataset", input, "--out", out, "--backend", backend, "--stats", stats],
          host,
        );
        // The input has unreadable records: exit 1 (docs/parse-dataset.md, exit codes).
        assert.equal(code, 1, host.err());
        outs.push(readFileSync(out, "utf8"));
        const backendName = JSON.parse(readFileSync(stats, "utf8")).backend as string;
        assert.ok(backendName.startsWith(backend), backendName);
      }
      assert.equal(outs[1], outs[0]);
    });
  });
});
