import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { FIXTURES, nonBlankLines, readBack, withTmp } from "../dataset/_helpers.ts";

const GLAIVE = join(FIXTURES, "glaive_excerpt.jsonl");
const fifoSupported = spawnSync("mkfifo", ["--version"]).status === 0;
if (!fifoSupported) console.log("skipping pipe tests: mkfifo is not available here");

/** Makes a FIFO at `path` and a child process (`cat`) that writes `source` into it. */
function fifoFrom(source: string, path: string): Promise<number | null> {
  const made = spawnSync("mkfifo", [path]);
  assert.equal(made.status, 0, String(made.stderr));
  const writer = spawn("sh", ["-c", 'cat "$1" > "$2"', "sh", source, path], { stdio: "ignore" });
  return new Promise((resolve) => writer.on("exit", (code) => resolve(code)));
}

describe("render-dataset from inputs that cannot be seeked", { skip: !fifoSupported }, () => {
  for (const gz of [false, true]) {
    test(`a FIFO of ${gz ? "gzip " : ""}JSONL renders like the file${gz ? "" : " (no ESPIPE)"}`, async () => {
      await withTmp(async (dir) => {
        let source = GLAIVE;
        if (gz) {
          source = join(dir, "in.jsonl.gz");
          const z = spawnSync("sh", ["-c", 'gzip -c "$1" > "$2"', "sh", GLAIVE, source]);
          assert.equal(z.status, 0);
        }
        const fifo = join(dir, "in.fifo");
        const writer = fifoFrom(source, fifo);
        const host = memoryHost();
        const args = ["render-dataset", fifo, "--out", join(dir, "p"), "--output-format", "bin"];
        const code = await main([...args, "--workers", "1"], host);
        assert.equal(code, 0, host.err());
        assert.equal(await writer, 0);
        const file = memoryHost();
        const fileArgs = [
          "render-dataset",
          GLAIVE,
          "--out",
          join(dir, "f"),
          "--output-format",
          "bin",
        ];
        assert.equal(await main([...fileArgs, "--workers", "1"], file), 0, file.err());
        assert.equal((await readBack("bin", join(dir, "p"))).length, nonBlankLines(GLAIVE).length);
        for (const ext of [".bin", ".idx", ".loss_mask.bin"]) {
          assert.deepEqual(
            readFileSync(join(dir, "p" + ext)),
            readFileSync(join(dir, "f" + ext)),
            ext,
          );
        }
      });
    });
  }

  test("--resume with a FIFO input is refused with exit 2 before reading", async () => {
    await withTmp(async (dir) => {
      const fifo = join(dir, "in.fifo");
      assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
      const host = memoryHost();
      const code = await main(["render-dataset", fifo, "--out", join(dir, "p"), "--resume"], host);
      assert.equal(code, 2, host.err());
      assert.match(host.err(), /Cannot resume from ".*": it is a pipe, which cannot be re-read/);
    });
  });
});
