// SIGINT/SIGTERM stop parse-dataset with a checkpoint, a message and exit 130/143, and kill -9
// leaves what --resume finishes to the clean run's bytes (a real child process of the runtime
// running the tests, as test/pipeline/signals_test.ts does for render-dataset).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { spawnCli, waitFor } from "../_support/child_cli.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { withTmp } from "../dataset/_helpers.ts";
import { buildInput } from "../evals/_helpers.ts";

/** An input big enough that the run is still going when the signal arrives. */
function bigInput(dir: string): string {
  const input = join(dir, "big.jsonl");
  writeFileSync(input, Array(150).fill(buildInput().lines.join("\n") + "\n").join(""));
  return input;
}

const FLAGS = ["--backend", "cpu", "--checkpoint-every", "64"];

async function cleanRun(input: string, out: string): Promise<void> {
  const host = memoryHost();
  assert.equal(await main(["parse-dataset", input, "--out", out, ...FLAGS], host), 1, host.err());
}

describe("parse-dataset signals", () => {
  for (const [sig, code, workers] of [["SIGINT", 130, "1"], ["SIGTERM", 143, "2"]] as const) {
    test(
      `${sig} (workers ${workers}): checkpoint, "interrupted after N records", exit ${code}; --resume gives the clean output`,
      { timeout: 180_000 },
      async () => {
        await withTmp(async (dir) => {
          const input = bigInput(dir);
          const out = join(dir, "r.jsonl");
          const run = spawnCli([
            "parse-dataset",
            input,
            "--out",
            out,
            ...FLAGS,
            "--workers",
            workers,
            "--progress-every",
            "0",
          ]);
          await waitFor(() => existsSync(`${out}.checkpoint.json`), 120_000);
          run.child.kill(sig);
          const exit = await run.exited;
          // Deno reports an exit code of 128 + n as "killed by signal n".
          const exitCode = exit.code ?? (exit.signal === sig ? code : null);
          const stderr = run.stderr();
          assert.equal(exitCode, code, stderr);
          assert.match(
            stderr,
            /^parse-dataset: interrupted after \d+ records; run again with --resume to continue\n$/,
          );
          assert.ok(!existsSync(out), "nothing is published");
          assert.ok(existsSync(`${out}.tmp`), "the partial output is kept for --resume");
          assert.ok(!existsSync(`${out}.lock`), "the lock is released");

          const resumed = memoryHost();
          assert.equal(
            await main(["parse-dataset", input, "--out", out, ...FLAGS, "--resume"], resumed),
            1, // the input has unreadable records
            resumed.err(),
          );
          assert.match(resumed.err(), /resumed after record \d+/);
          const clean = join(dir, "clean.jsonl");
          await cleanRun(input, clean);
          assert.ok(readFileSync(out).equals(readFileSync(clean)), "resumed output == clean");
        });
      },
    );
  }

  // .jsonl.gz: the partial gzip member after the last checkpoint must be cut away by --resume.
  for (const ext of [".jsonl", ".jsonl.gz"]) {
    test(`${ext}: SIGKILL after a checkpoint, early, and late: --resume gives the clean output`, {
      timeout: 300_000,
    }, async () => {
      await withTmp(async (dir) => {
        const input = bigInput(dir);
        const clean = join(dir, `clean${ext}`);
        await cleanRun(input, clean);
        const points = [{ afterCheckpoint: true, ms: 0 }, { afterCheckpoint: false, ms: 30 }, {
          afterCheckpoint: false,
          ms: 1500,
        }];
        for (const [k, point] of points.entries()) {
          const out = join(dir, `k${k}${ext}`);
          const run = spawnCli(["parse-dataset", input, "--out", out, ...FLAGS, "--workers", "1"]);
          if (point.afterCheckpoint) {
            await waitFor(() => existsSync(`${out}.checkpoint.json`), 120_000);
          } else await new Promise((r) => setTimeout(r, point.ms));
          run.child.kill("SIGKILL");
          const { code, signal } = await run.exited;
          const killed = signal === "SIGKILL" || code === 137;
          assert.ok(killed || code === 1, `exit ${code} ${signal}`);
          if (point.afterCheckpoint) assert.ok(killed, "killed mid-run");
          const resumed = memoryHost();
          assert.equal(
            await main(["parse-dataset", input, "--out", out, ...FLAGS, "--resume"], resumed),
            1,
            resumed.err(),
          );
          assert.ok(readFileSync(out).equals(readFileSync(clean)), `kill point ${k}`);
          assert.ok(!existsSync(`${out}.lock`), "the stale lock was taken over and released");
          assert.ok(!existsSync(`${out}.checkpoint.json`), "the journal is gone after finishing");
        }
      });
    });
  }
});
