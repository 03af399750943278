// render-dataset --workers N: the output (every format, the errors file, the checkpoint of an
// interrupted run) is byte-identical for every N, and a run may resume with another N.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { conversationFromJson } from "../../src/chat/json.ts";
import { renderDataset, type RenderDatasetOptions } from "../../src/dataset/pipeline.ts";
import { loadTrainingRenderer } from "../../src/dataset/training_renderer.ts";
import { OUTPUT_FORMATS } from "../../src/dataset/writers.ts";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { FIXTURES, withTmp } from "../dataset/_helpers.ts";

const renderBatch = await loadTrainingRenderer();
const INPUTS = [join(FIXTURES, "mixed.jsonl"), join(FIXTURES, "glaive_excerpt.jsonl")];

function run(options: Partial<RenderDatasetOptions> & { prefix: string }) {
  return renderDataset({
    inputs: INPUTS,
    toConversation: conversationFromJson,
    renderBatch,
    ...options,
  });
}

function assertSameBytes(dir: string, a: string, b: string) {
  const names = (stem: string) =>
    readdirSync(dir).filter((f) => f.startsWith(`${stem}.`)).map((f) => f.slice(stem.length))
      .sort();
  assert.deepEqual(names(a), names(b));
  for (const suffix of names(a)) {
    assert.ok(
      readFileSync(join(dir, a + suffix)).equals(readFileSync(join(dir, b + suffix))),
      `${a}${suffix} differs from ${b}${suffix}`,
    );
  }
}

describe("worker threads", () => {
  for (const format of OUTPUT_FORMATS) {
    test(`${format}: 1, 2 and 3 workers write the same bytes (outputs and errors file)`, {
      timeout: 120_000,
    }, async () => {
      await withTmp(async (dir) => {
        const common = { outputFormat: format, batchSize: 3, checkpointEvery: 5, rowGroupRows: 4 };
        const base = await run({ ...common, prefix: join(dir, "w1") });
        for (const workers of [2, 3]) {
          const s = await run({ ...common, prefix: join(dir, `w${workers}`), workers });
          for (const k of ["read", "written", "failed", "tokens", "trainedTokens"] as const) {
            assert.equal(s[k], base[k], `${k} with ${workers} workers`);
          }
          // The errors file names the inputs, not the prefix: identical too.
          assertSameBytes(dir, `w${workers}`, "w1");
        }
      });
    });
  }

  test("the journal is the same for every N; an interrupted run resumes with another N", {
    timeout: 120_000,
  }, async () => {
    await withTmp(async (dir) => {
      const common = { outputFormat: "megatron" as const, batchSize: 2, checkpointEvery: 4 };
      await run({ ...common, prefix: join(dir, "clean") });
      // A crash in finalization leaves the last (finalizing) checkpoint: compare it across N.
      const journals: string[] = [];
      for (const workers of [1, 2]) {
        const prefix = join(dir, `f${workers}`);
        await assert.rejects(
          run({
            ...common,
            prefix,
            workers,
            onFinalizeRename: () => {
              throw new Error("killed");
            },
          }),
          /killed/,
        );
        journals.push(
          readFileSync(`${prefix}.checkpoint.json`, "utf8").replaceAll(prefix, "PREFIX"),
        );
      }
      assert.equal(journals[0], journals[1]);
      // An abort at any point resumes with the other worker count to the clean bytes.
      for (const workers of [1, 2]) {
        const ctrl = new AbortController();
        const prefix = join(dir, `k${workers}`);
        const s = await run({
          ...common,
          prefix,
          workers,
          signal: ctrl.signal,
          onProgress: (p) => {
            if (p.read >= 9) ctrl.abort();
          },
        });
        assert.equal(s.interrupted, true);
        const r = await run({ ...common, prefix, workers: 3 - workers, resume: true });
        assert.equal(r.interrupted, false);
        assert.ok(r.resumedFrom > 0);
        assertSameBytes(dir, `k${workers}`, "clean");
      }
    });
  });

  test("CLI --workers 2 writes what --workers 1 writes; --workers 0 is a usage error", {
    timeout: 120_000,
  }, async () => {
    await withTmp(async (dir) => {
      for (const n of ["1", "2"]) {
        const host = memoryHost();
        const code = await main(
          [
            "render-dataset",
            ...INPUTS,
            "--out",
            join(dir, `c${n}`),
            "--workers",
            n,
            "--backend",
            "cpu",
          ],
          host,
        );
        assert.equal(code, 1, host.err());
        if (n === "2") assert.match(host.err(), /, 2 workers, cpu[,→ ]/);
      }
      assertSameBytes(dir, "c2", "c1");
      const host = memoryHost();
      assert.equal(
        await main(["render-dataset", ...INPUTS, "--out", join(dir, "z"), "--workers", "0"], host),
        2,
      );
    });
  });
});
