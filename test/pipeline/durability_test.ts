// render-dataset never loses or corrupts data: each scenario of issue #12 that produced a corrupt
// or unreadable dataset, reproduced here; each either refuses loudly or yields the clean output.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import process from "node:process";
import { join } from "node:path";
import { conversationFromJson } from "../../src/chat/json.ts";
import {
  type RenderBatch,
  renderDataset,
  type RenderDatasetOptions,
} from "../../src/dataset/pipeline.ts";
import { loadTrainingRenderer } from "../../src/dataset/training_renderer.ts";
import { OUTPUT_FORMATS, type OutputFormat } from "../../src/dataset/writers.ts";
import { acquireOutputLock, OutputLockedError } from "../../src/io/output_lock.ts";
import { FIXTURES, withTmp } from "../dataset/_helpers.ts";

const renderBatch = await loadTrainingRenderer();
const GLAIVE = join(FIXTURES, "glaive_excerpt.jsonl");
const MIXED = join(FIXTURES, "mixed.jsonl");

function run(options: Partial<RenderDatasetOptions> & { inputs: string[]; prefix: string }) {
  return renderDataset({ toConversation: conversationFromJson, renderBatch, ...options });
}

/** A renderer that aborts `ctrl` once `after` conversations were rendered. */
function abortingAfter(after: number, ctrl: AbortController): RenderBatch {
  let n = 0;
  return (convs) => {
    n += convs.length;
    if (n >= after) ctrl.abort();
    return renderBatch(convs);
  };
}

/** Copies the fixture into `dir` (tests that change their input must not touch the fixture). */
function copyInput(dir: string, from = GLAIVE): string {
  const p = join(dir, "in.jsonl");
  writeFileSync(p, readFileSync(from));
  return p;
}

function filesOf(dir: string, stem: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith(`${stem}.`)).sort();
}

function assertSameFiles(dir: string, a: string, b: string) {
  const fa = filesOf(dir, a).map((f) => f.slice(a.length));
  const fb = filesOf(dir, b).map((f) => f.slice(b.length));
  assert.deepEqual(fa, fb);
  for (const suffix of fa) {
    if (suffix === ".errors.jsonl") continue; // names the input path only
    assert.ok(
      readFileSync(join(dir, a + suffix)).equals(readFileSync(join(dir, b + suffix))),
      `${a}${suffix} differs from ${b}${suffix}`,
    );
  }
}

const common = { batchSize: 2, checkpointEvery: 4, rowGroupRows: 3 };

describe("one run per output prefix", () => {
  test("a second run on a locked prefix is refused naming the owner; the first is unharmed", {
    timeout: 60_000,
  }, async () => {
    await withTmp(async (dir) => {
      const input = copyInput(dir);
      await run({
        ...common,
        inputs: [input],
        prefix: join(dir, "clean"),
        outputFormat: "megatron",
      });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      let calls = 0;
      const slow: RenderBatch = async (convs) => {
        if (calls++ === 1) {
          started();
          await gate;
        }
        return renderBatch(convs);
      };
      const prefix = join(dir, "t");
      const first = run({ ...common, inputs: [input], prefix, renderBatch: slow });
      await running;
      await assert.rejects(run({ ...common, inputs: [input], prefix }), (e: unknown) => {
        assert.ok(e instanceof OutputLockedError);
        assert.match(
          e.message,
          new RegExp(`^Cannot write .*t: another run holds .*t\\.lock \\(pid ${process.pid} on `),
        );
        return true;
      });
      release();
      const s = await first;
      assert.equal(s.interrupted, false);
      assertSameFiles(dir, "t", "clean");
      assert.ok(!existsSync(`${prefix}.lock`), "the lock is released");
    });
  });

  test("a stale lock (dead pid on this host) is taken over; one from another host is not", {
    timeout: 60_000,
  }, async () => {
    await withTmp(async (dir) => {
      const prefix = join(dir, "t");
      writeFileSync(
        `${prefix}.lock`,
        JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), since: "2020-01-01" }),
      );
      const s = await run({ inputs: [GLAIVE], prefix, outputFormat: "jsonl" });
      assert.equal(s.failed, 0);
      writeFileSync(`${prefix}.lock`, JSON.stringify({ pid: 1, host: "elsewhere", since: "x" }));
      assert.throws(() => acquireOutputLock(prefix), OutputLockedError);
      await assert.rejects(run({ inputs: [GLAIVE], prefix, outputFormat: "jsonl" }), {
        name: "OutputLockedError",
        message: /pid 1 on elsewhere/,
      });
    });
  });
});

describe("a resume trusts nothing it cannot verify", () => {
  test("a fresh run killed early does not leave an old checkpoint behind (no zero-filled output)", {
    timeout: 60_000,
  }, async () => {
    await withTmp(async (dir) => {
      const input = copyInput(dir);
      const prefix = join(dir, "t");
      const clean = join(dir, "clean");
      await run({ ...common, inputs: [input], prefix: clean, outputFormat: "megatron" });
      // Run 1 gets far and is interrupted: it leaves a checkpoint after ~12 records.
      const ctrl = new AbortController();
      await run({
        ...common,
        inputs: [input],
        prefix,
        renderBatch: abortingAfter(12, ctrl),
        signal: ctrl.signal,
      });
      assert.ok(existsSync(`${prefix}.checkpoint.json`));
      // Run 2 starts fresh and dies (an exception, as a kill would) after two records.
      await assert.rejects(
        run({
          ...common,
          inputs: [input],
          prefix,
          onProgress: (p) => {
            if (p.read >= 2) throw new Error("killed");
          },
        }),
        /killed/,
      );
      // Resuming must not combine run 1's checkpoint with run 2's shorter files.
      const s = await run({ ...common, inputs: [input], prefix, resume: true });
      assert.equal(s.interrupted, false);
      assertSameFiles(dir, "t", "clean");
    });
  });

  for (const format of OUTPUT_FORMATS) {
    test(
      `${format}: a temporary file shorter than the checkpoint, or with other bytes, is refused`,
      { timeout: 60_000 },
      async () => {
        await withTmp(async (dir) => {
          const input = copyInput(dir);
          const prefix = join(dir, "t");
          const ctrl = new AbortController();
          const first = await run({
            ...common,
            inputs: [input],
            prefix,
            outputFormat: format,
            renderBatch: abortingAfter(9, ctrl),
            signal: ctrl.signal,
          });
          assert.equal(first.interrupted, true);
          const victim = first.files[0];
          const size = statSync(victim).size;
          const bytes = readFileSync(victim);
          truncateSync(victim, size - 3);
          await assert.rejects(
            run({ ...common, inputs: [input], prefix, outputFormat: format, resume: true }),
            {
              name: "RangeError",
              message: new RegExp(
                `^Cannot resume .*: .*${victim.split("/").pop()!.replaceAll(".", "\\.")} has ${
                  size - 3
                } bytes, the checkpoint recorded ${size}$`,
              ),
            },
          );
          bytes[bytes.length - 2] ^= 0xff;
          writeFileSync(victim, bytes);
          await assert.rejects(
            run({ ...common, inputs: [input], prefix, outputFormat: format, resume: true }),
            { name: "RangeError", message: /does not hold the bytes the checkpoint recorded$/ },
          );
        });
      },
    );
  }

  test(
    "an input changed between the run and its resume is refused (size, or content at the same size and mtime)",
    { timeout: 60_000 },
    async () => {
      await withTmp(async (dir) => {
        const input = copyInput(dir);
        // Whole seconds, which every runtime's utimes() sets exactly.
        const mtime = new Date(1_700_000_000_000);
        utimesSync(input, mtime, mtime);
        const prefix = join(dir, "t");
        const ctrl = new AbortController();
        await run({
          ...common,
          inputs: [input],
          prefix,
          renderBatch: abortingAfter(9, ctrl),
          signal: ctrl.signal,
        });
        const original = readFileSync(input);
        writeFileSync(input, Buffer.concat([original, Buffer.from("\n")]));
        await assert.rejects(run({ ...common, inputs: [input], prefix, resume: true }), {
          message: /^Cannot resume .*: input 1 \(.*in\.jsonl\) was \d+ bytes, now \d+$/,
        });
        const edited = Buffer.from(original);
        edited[edited.length - 5] = edited[edited.length - 5] === 0x41 ? 0x42 : 0x41;
        writeFileSync(input, edited);
        utimesSync(input, mtime, mtime);
        await assert.rejects(run({ ...common, inputs: [input], prefix, resume: true }), {
          message: /^Cannot resume .*: input 1 \(.*\) has other content than at the checkpoint$/,
        });
      });
    },
  );

  test("an input shrinking while the run reads it fails the run; nothing is published", {
    timeout: 60_000,
  }, async () => {
    await withTmp(async (dir) => {
      const input = copyInput(dir);
      const prefix = join(dir, "t");
      let cut = false;
      const shrinking: RenderBatch = (convs) => {
        if (!cut) {
          cut = true;
          truncateSync(input, statSync(input).size >> 1);
        }
        return renderBatch(convs);
      };
      await assert.rejects(run({ ...common, inputs: [input], prefix, renderBatch: shrinking }), {
        message: /^Cannot render .*t: input .*in\.jsonl was \d+ bytes, now \d+ while it was read$/,
      });
      assert.ok(!existsSync(`${prefix}.bin`));
      assert.ok(!existsSync(`${prefix}.idx`));
    });
  });
});

describe("finalization is journaled", () => {
  for (const format of OUTPUT_FORMATS) {
    test(`${format}: a run killed after each rename of its finalization is completed by --resume`, {
      timeout: 60_000,
    }, async () => {
      await withTmp(async (dir) => {
        const input = copyInput(dir, MIXED);
        await run({ ...common, inputs: [input], prefix: join(dir, "clean"), outputFormat: format });
        const total = filesOf(dir, "clean").length;
        for (let k = 1; k < total; k++) {
          const stem = `t${k}`;
          const prefix = join(dir, stem);
          let renamed = 0;
          await assert.rejects(
            run({
              ...common,
              inputs: [input],
              prefix,
              outputFormat: format as OutputFormat,
              onFinalizeRename: () => {
                if (++renamed === k) throw new Error("killed");
              },
            }),
            /killed/,
          );
          const s = await run({
            ...common,
            inputs: [input],
            prefix,
            outputFormat: format,
            resume: true,
          });
          assert.equal(s.interrupted, false);
          assert.equal(s.written + s.failed, 7);
          assertSameFiles(dir, stem, "clean");
        }
      });
    });
  }
});
