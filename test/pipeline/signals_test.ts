// SIGINT/SIGTERM stop render-dataset with a checkpoint, a message and exit 130/143 (a real child
// process of the runtime running the tests); a locked output is refused with exit 3.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { spawnCli, waitFor } from "../_support/child_cli.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { acquireOutputLock } from "../../src/io/output_lock.ts";
import { FIXTURES, withTmp } from "../dataset/_helpers.ts";

const GLAIVE = join(FIXTURES, "glaive_excerpt.jsonl");

/** `render-dataset INPUT --out PREFIX FLAGS` in a child process, one thread, no progress lines. */
function startRender(input: string, prefix: string, flags: readonly string[]) {
  return spawnCli([
    "render-dataset",
    input,
    "--out",
    prefix,
    ...flags,
    "--workers",
    "1",
    "--progress-every",
    "0",
  ]);
}

describe("signals", () => {
  for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    test(
      `${sig}: checkpoint, "interrupted after N records", exit ${code}; --resume gives the clean output`,
      {
        timeout: 180_000,
      },
      async () => {
        await withTmp(async (dir) => {
          const input = join(dir, "big.jsonl");
          // Big enough that the run is still going when the signal arrives right after its first
          // checkpoint (about 3 s of work on a fast machine).
          writeFileSync(input, Buffer.concat(Array(200).fill(readFileSync(GLAIVE))));
          const flags = ["--output-format", "bin", "--backend", "cpu", "--checkpoint-every", "32"];
          const prefix = join(dir, "t");
          const run = startRender(input, prefix, flags);
          await waitFor(() => existsSync(`${prefix}.checkpoint.json`), 120_000);
          run.child.kill(sig);
          const exit = await run.exited;
          // Deno reports an exit code of 128 + n as "killed by signal n".
          const exitCode = exit.code ?? (exit.signal === sig ? code : null);
          const stderr = run.stderr();
          assert.equal(exitCode, code, stderr);
          assert.match(
            stderr,
            /^render-dataset: interrupted after \d+ records; run again with --resume to continue\n$/,
          );
          assert.ok(!existsSync(`${prefix}.bin`), "nothing is published");
          assert.ok(!existsSync(`${prefix}.lock`), "the lock is released");

          const resumed = memoryHost();
          assert.equal(
            await main(["render-dataset", input, "--out", prefix, ...flags, "--resume"], resumed),
            0,
            resumed.err(),
          );
          assert.match(resumed.err(), /resumed after record \d+/);
          const clean = join(dir, "clean");
          assert.equal(
            await main(["render-dataset", input, "--out", clean, ...flags], memoryHost()),
            0,
          );
          for (const suffix of [".bin", ".loss_mask.bin", ".idx"]) {
            assert.ok(readFileSync(prefix + suffix).equals(readFileSync(clean + suffix)), suffix);
          }
        });
      },
    );
  }
});

test("render-dataset on a locked prefix exits 3 naming the lock; the lock holder's files are untouched", async () => {
  await withTmp(async (dir) => {
    const prefix = join(dir, "t");
    const lock = acquireOutputLock(prefix);
    try {
      const host = memoryHost();
      const code = await main(
        ["render-dataset", GLAIVE, "--out", prefix, "--backend", "cpu"],
        host,
      );
      assert.equal(code, 3);
      assert.match(
        host.err(),
        /^harmony render-dataset: Cannot write .*t: another run holds .*t\.lock \(pid \d+ on .*\); if no such run is alive, remove .*t\.lock\n$/,
      );
      assert.ok(!existsSync(`${prefix}.bin.tmp`));
    } finally {
      lock.release();
    }
  });
});

// kill -9 gives the run no chance to clean up: whatever it left (temp files, a checkpoint or none,
// a stale lock), `--resume` must finish it to exactly the clean run's bytes.
describe("kill -9 at any point", () => {
  // Parquet: checkpoints every 64 records fall inside row groups (4096 rows), so each checkpoint
  // carries the rows not yet in a row group; a kill must lose none and duplicate none.
  const formats = [
    ["megatron", [".bin", ".idx", ".loss_mask.bin", ".loss_mask.idx"]],
    ["parquet", [".parquet"]],
  ] as const;
  for (const [format, suffixes] of formats) {
    test(
      `${format}: SIGKILL after a checkpoint, early, and late: --resume gives the clean output`,
      {
        timeout: 300_000,
      },
      async () => {
        await withTmp(async (dir) => {
          const input = join(dir, "big.jsonl");
          writeFileSync(input, Buffer.concat(Array(200).fill(readFileSync(GLAIVE))));
          const flags = ["--output-format", format, "--backend", "cpu", "--checkpoint-every", "64"];
          const clean = join(dir, "clean");
          assert.equal(
            await main(["render-dataset", input, "--out", clean, ...flags], memoryHost()),
            0,
          );
          // When to kill: as soon as the first checkpoint exists, right after start (before any
          // checkpoint, possibly before any output), and a while into the run.
          const points = [{ afterCheckpoint: true, ms: 0 }, { afterCheckpoint: false, ms: 30 }, {
            afterCheckpoint: false,
            ms: 1500,
          }];
          for (const [k, point] of points.entries()) {
            const prefix = join(dir, `k${k}`);
            const run = startRender(input, prefix, flags);
            if (point.afterCheckpoint) {
              await waitFor(() => existsSync(`${prefix}.checkpoint.json`), 120_000);
            } else await new Promise((r) => setTimeout(r, point.ms));
            run.child.kill("SIGKILL");
            const { code, signal } = await run.exited;
            // Either the kill landed, or the run had already finished cleanly.
            const killed = signal === "SIGKILL" || code === 137;
            assert.ok(killed || code === 0, `exit ${code} ${signal}`);
            // After a checkpoint the run still had most of its records ahead: the kill landed mid-run.
            if (point.afterCheckpoint) assert.ok(killed, "killed mid-run");
            const resumed = memoryHost();
            assert.equal(
              await main(["render-dataset", input, "--out", prefix, ...flags, "--resume"], resumed),
              0,
              resumed.err(),
            );
            for (const suffix of suffixes) {
              assert.ok(
                readFileSync(prefix + suffix).equals(readFileSync(clean + suffix)),
                `kill point ${k}: ${suffix}`,
              );
            }
            assert.ok(!existsSync(`${prefix}.lock`), "the stale lock was taken over and released");
            assert.ok(
              !existsSync(`${prefix}.checkpoint.json`),
              "the journal is gone after finishing",
            );
          }
        });
      },
    );
  }
});
