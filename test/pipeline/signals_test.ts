// SIGINT/SIGTERM stop render-dataset with a checkpoint, a message and exit 130/143 (a real child
// process of the runtime running the tests); a locked output is refused with exit 3.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { acquireOutputLock } from "../../src/io/output_lock.ts";
import { FIXTURES, withTmp } from "../dataset/_helpers.ts";

const CLI = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));
const GLAIVE = join(FIXTURES, "glaive_excerpt.jsonl");
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

function spawnCli(args: string[]) {
  const argv = isDeno ? ["run", "-A", CLI, ...args] : [CLI, ...args];
  return spawn(process.execPath, argv, { stdio: ["ignore", "ignore", "pipe"] });
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
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
          const child = spawnCli([
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
          let stderr = "";
          child.stderr!.on("data", (d: Uint8Array) => (stderr += new TextDecoder().decode(d)));
          // Deno reports an exit code of 128 + n as "killed by signal n".
          const exited = new Promise<number | null>((r) =>
            child.on("exit", (c, s) => r(c ?? (s === sig ? code : null)))
          );
          await waitFor(() => existsSync(`${prefix}.checkpoint.json`), 120_000);
          child.kill(sig);
          const exitCode = await exited;
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
