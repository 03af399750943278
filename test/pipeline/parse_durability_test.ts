// parse-dataset has render-dataset's guarantees (issue #12): one run per output (lock), a
// verified --resume whose output and statistics equal a clean run's, a journaled final rename,
// worker threads with byte-identical results for every count, and log progress.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { parseDataset, type ParseDatasetOptions } from "../../src/evals/parse_dataset.ts";
import type { ParseDatasetStats } from "../../src/evals/stats.ts";
import { acquireOutputLock, OutputLockedError } from "../../src/io/output_lock.ts";
import { buildInput, tokenizer } from "../evals/_helpers.ts";

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "harmony-parse-durable-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The corpus-built eval input (ids, text, bad records, tool calls) written to `dir`. */
function writeInput(dir: string, copies = 1): string {
  const { lines } = buildInput();
  const input = join(dir, "in.jsonl");
  writeFileSync(input, Array(copies).fill(lines.join("\n") + "\n").join(""));
  return input;
}

type Options = Partial<ParseDatasetOptions> & { inputs: string[]; out: string };
const run = (o: Options) => parseDataset({ tokenizer, batchSize: 5, checkpointEvery: 8, ...o });

/** Aborts `ctrl` once `after` samples were written. */
function abortAfter(after: number, ctrl: AbortController) {
  return (p: { records: number }) => {
    if (p.records >= after) ctrl.abort();
  };
}

/** Statistics without what depends on time or on the machine. */
function timeless(s: ParseDatasetStats): Partial<ParseDatasetStats> {
  const {
    seconds: _s,
    records_per_second: _r,
    samples_per_second: _p,
    tokens_per_second: _t,
    backend: _b,
    ...rest
  } = s;
  return rest;
}

const same = (a: string, b: string, what: string) =>
  assert.ok(readFileSync(a).equals(readFileSync(b)), `${what}: ${a} differs from ${b}`);

describe("parse-dataset: one run per output", () => {
  test("a second run on a locked output is refused (exit 3) naming the lock; the holder's file is untouched", async () => {
    await withTmp(async (dir) => {
      const input = writeInput(dir);
      const out = join(dir, "r.jsonl");
      const lock = acquireOutputLock(out);
      try {
        writeFileSync(`${out}.tmp`, "the holder's partial output\n");
        await assert.rejects(run({ inputs: [input], out }), OutputLockedError);
        const host = memoryHost();
        const code = await main(["parse-dataset", input, "--out", out, "--backend", "cpu"], host);
        assert.equal(code, 3, host.err());
        assert.match(
          host.err(),
          /^harmony parse-dataset: Cannot write .*r\.jsonl: another run holds .*r\.jsonl\.lock \(pid \d+ on .*\); if no such run is alive, remove .*r\.jsonl\.lock\n$/,
        );
        assert.equal(readFileSync(`${out}.tmp`, "utf8"), "the holder's partial output\n");
        assert.equal(existsSync(out), false);
      } finally {
        lock.release();
      }
      await run({ inputs: [input], out });
      assert.equal(existsSync(`${out}.lock`), false, "a finished run releases its lock");
    });
  });
});

/** Whole seconds, which every runtime's utimes() sets exactly. */
const INPUT_MTIME = new Date(1_700_000_000_000);

describe("parse-dataset --resume", () => {
  for (const [first, second] of [[1, 1], [2, 1], [1, 3]]) {
    test(
      `an interrupted run (workers ${first}) resumed (workers ${second}) gives the clean run's bytes and statistics`,
      {
        timeout: 120_000,
      },
      async () => {
        await withTmp(async (dir) => {
          const input = writeInput(dir);
          const clean = join(dir, "clean.jsonl");
          const cleanRun = await run({ inputs: [input], out: clean });
          const out = join(dir, "r.jsonl");
          const ctrl = new AbortController();
          const part = await run({
            inputs: [input],
            out,
            workers: first,
            signal: ctrl.signal,
            onProgress: abortAfter(20, ctrl),
          });
          assert.equal(part.interrupted, true);
          assert.equal(part.file, `${out}.tmp`);
          assert.ok(existsSync(`${out}.checkpoint.json`));
          assert.equal(existsSync(out), false, "nothing is published");
          assert.equal(existsSync(`${out}.lock`), false, "the lock is released");
          const resumed = await run({ inputs: [input], out, workers: second, resume: true });
          assert.equal(resumed.interrupted, false);
          assert.ok(resumed.resumedFrom > 0 && resumed.resumedFrom < cleanRun.stats.read);
          same(out, clean, "output");
          assert.deepEqual(timeless(resumed.stats), timeless(cleanRun.stats));
          assert.equal(existsSync(`${out}.checkpoint.json`), false);
          assert.equal(existsSync(`${out}.tmp`), false);
        });
      },
    );
  }

  test("gzip output: interrupted and resumed is a gzip stream with the clean run's content", async () => {
    await withTmp(async (dir) => {
      const input = writeInput(dir);
      const clean = join(dir, "clean.jsonl.gz");
      await run({ inputs: [input], out: clean });
      const out = join(dir, "r.jsonl.gz");
      const ctrl = new AbortController();
      const part = await run({
        inputs: [input],
        out,
        signal: ctrl.signal,
        onProgress: abortAfter(20, ctrl),
      });
      assert.equal(part.interrupted, true);
      assert.ok(existsSync(`${out}.checkpoint.json`));
      const r = await run({ inputs: [input], out, resume: true });
      assert.ok(r.resumedFrom > 0);
      const { gunzipSync } = await import("node:zlib");
      assert.equal(
        gunzipSync(readFileSync(out)).toString(),
        gunzipSync(readFileSync(clean)).toString(),
      );
    });
  });

  test("the CLI: --stats of a resumed run equals a clean run's; the summary says where it resumed", async () => {
    await withTmp(async (dir) => {
      const input = writeInput(dir);
      const flags = ["--backend", "cpu", "--checkpoint-every", "8", "--progress-every", "0"];
      const cli = async (args: string[]) => {
        const host = memoryHost();
        const code = await main(["parse-dataset", input, ...args, ...flags], host);
        return { code, err: host.err() };
      };
      const clean = join(dir, "clean.jsonl");
      assert.equal((await cli(["--out", clean, "--stats", `${clean}.json`])).code, 1);
      const out = join(dir, "r.jsonl");
      const ctrl = new AbortController();
      await run({ inputs: [input], out, signal: ctrl.signal, onProgress: abortAfter(20, ctrl) });
      const r = await cli(["--out", out, "--stats", `${out}.json`, "--resume"]);
      assert.equal(r.code, 1, r.err); // the input has unreadable records, as the clean run
      assert.match(r.err, /; resumed after record \d+ → .*r\.jsonl\n/);
      same(out, clean, "output");
      const stats = (p: string) => timeless(JSON.parse(readFileSync(p, "utf8")));
      assert.deepEqual(stats(`${out}.json`), stats(`${clean}.json`));
    });
  });

  test("without a checkpoint, --resume starts from the beginning", async () => {
    await withTmp(async (dir) => {
      const input = writeInput(dir);
      const clean = join(dir, "clean.jsonl");
      await run({ inputs: [input], out: clean });
      const out = join(dir, "r.jsonl");
      const r = await run({ inputs: [input], out, resume: true });
      assert.equal(r.resumedFrom, 0);
      same(out, clean, "output");
    });
  });

  test("a fresh run removes the old checkpoint first: a later --resume cannot trust stale counts", async () => {
    await withTmp(async (dir) => {
      const input = writeInput(dir);
      const clean = join(dir, "clean.jsonl");
      await run({ inputs: [input], out: clean });
      const out = join(dir, "r.jsonl");
      const ctrl = new AbortController();
      await run({ inputs: [input], out, signal: ctrl.signal, onProgress: abortAfter(30, ctrl) });
      assert.ok(existsSync(`${out}.checkpoint.json`));
      // A fresh run that dies before its first checkpoint (it truncated the temporary output).
      await assert.rejects(
        run({
          inputs: [input],
          out,
          checkpointEvery: 10_000,
          onProgress: () => {
            throw new Error("killed");
          },
        }),
        /killed/,
      );
      assert.equal(existsSync(`${out}.checkpoint.json`), false, "the old journal is gone");
      const r = await run({ inputs: [input], out, resume: true });
      assert.equal(r.resumedFrom, 0);
      same(out, clean, "output");
    });
  });

  for (
    const [what, damage, message] of [
      [
        "a truncated temporary output",
        (out: string) => truncateSync(`${out}.tmp`, 10),
        /^Cannot resume .*r\.jsonl: .*r\.jsonl\.tmp has 10 bytes, the checkpoint recorded \d+$/,
      ],
      [
        "a temporary output with other bytes",
        (out: string) => {
          const b = readFileSync(`${out}.tmp`);
          b[b.length - 2] ^= 1;
          writeFileSync(`${out}.tmp`, b);
        },
        /^Cannot resume .*r\.jsonl: .*r\.jsonl\.tmp does not hold the bytes the checkpoint recorded$/,
      ],
      [
        "a missing temporary output",
        (out: string) => rmSync(`${out}.tmp`),
        /^Cannot resume .*r\.jsonl: .*r\.jsonl\.tmp is gone$/,
      ],
      [
        "an input that grew",
        (_out: string, input: string) => appendFileSync(input, '{"tokens": [1]}\n'),
        /^Cannot resume .*r\.jsonl: input 1 \(.*in\.jsonl\) was \d+ bytes, now \d+$/,
      ],
      [
        "an input with other content at the same size and mtime",
        (_out: string, input: string) => {
          const b = readFileSync(input);
          const at = b.lastIndexOf(0x31); // a digit "1" in the last block
          b[at] = 0x32;
          writeFileSync(input, b);
          utimesSync(input, INPUT_MTIME, INPUT_MTIME);
        },
        /^Cannot resume .*r\.jsonl: input 1 \(.*in\.jsonl\) has other content than at the checkpoint$/,
      ],
      [
        "other settings",
        undefined,
        /^Cannot resume .*r\.jsonl: setting "recover" was "first", now "all"$/,
      ],
    ] as const
  ) {
    test(`--resume refuses ${what}`, async () => {
      await withTmp(async (dir) => {
        const input = writeInput(dir);
        utimesSync(input, INPUT_MTIME, INPUT_MTIME);
        const out = join(dir, "r.jsonl");
        const ctrl = new AbortController();
        await run({ inputs: [input], out, signal: ctrl.signal, onProgress: abortAfter(30, ctrl) });
        damage?.(out, input);
        await assert.rejects(
          run({ inputs: [input], out, resume: true, recover: damage ? "first" : "all" }),
          (e: Error) => e instanceof RangeError && message.test(e.message),
        );
        assert.equal(existsSync(out), false);
        assert.equal(existsSync(`${out}.lock`), false);
      });
    });
  }

  test("killed right after the final rename: --resume completes the journaled finalization", async () => {
    await withTmp(async (dir) => {
      const input = writeInput(dir);
      const clean = join(dir, "clean.jsonl");
      const cleanRun = await run({ inputs: [input], out: clean });
      const out = join(dir, "r.jsonl");
      await assert.rejects(
        run({
          inputs: [input],
          out,
          onFinalizeRename: () => {
            throw new Error("killed");
          },
        }),
        /killed/,
      );
      assert.ok(existsSync(`${out}.checkpoint.json`), "the finalizing checkpoint is kept");
      const r = await run({ inputs: [input], out, resume: true });
      same(out, clean, "output");
      assert.deepEqual(timeless(r.stats), timeless(cleanRun.stats));
      assert.equal(existsSync(`${out}.checkpoint.json`), false);
      assert.equal(existsSync(`${out}.tmp`), false);
    });
  });

  test("--resume with a FIFO input is refused with exit 2 before reading", async () => {
    await withTmp(async (dir) => {
      const fifo = join(dir, "in.fifo");
      assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
      const host = memoryHost();
      const code = await main(
        ["parse-dataset", fifo, "--out", join(dir, "r.jsonl"), "--resume", "--backend", "cpu"],
        host,
      );
      assert.equal(code, 2, host.err());
      assert.match(host.err(), /Cannot resume from ".*": it is a pipe, which cannot be re-read/);
    });
  });
});

describe("parse-dataset --workers", () => {
  test("output, statistics and error lines are byte-identical for 1, 2 and 3 workers", {
    timeout: 120_000,
  }, async () => {
    await withTmp(async (dir) => {
      const input = writeInput(dir, 2);
      const runs = [];
      for (const workers of [1, 2, 3]) {
        const out = join(dir, `w${workers}.jsonl`);
        runs.push({ out, r: await run({ inputs: [input], out, workers, batchSize: 3 }) });
      }
      for (const { out, r } of runs.slice(1)) {
        same(out, runs[0].out, "output");
        assert.deepEqual(timeless(r.stats), timeless(runs[0].r.stats));
      }
      assert.ok(runs[0].r.stats.unreadable > 0 && runs[0].r.stats.status.error > 0);
    });
  });

  test("the CLI: --workers 2 writes what --workers 1 writes; --backend gpu would force one", async () => {
    await withTmp(async (dir) => {
      const input = writeInput(dir);
      const outs = [];
      for (const w of ["1", "2"]) {
        const out = join(dir, `c${w}.jsonl`);
        const host = memoryHost();
        const code = await main(
          [
            "parse-dataset",
            input,
            "--out",
            out,
            "--backend",
            "cpu",
            "--workers",
            w,
            "--stats",
            `${out}.json`,
          ],
          host,
        );
        assert.equal(code, 1, host.err());
        outs.push(out);
        const backend = JSON.parse(readFileSync(`${out}.json`, "utf8")).backend as string;
        assert.equal(backend, w === "1" ? "cpu" : "2 workers, cpu");
      }
      same(outs[1], outs[0], "output");
      const bad = memoryHost();
      assert.equal(
        await main(["parse-dataset", input, "--out", outs[0], "--workers", "0"], bad),
        2,
      );
      assert.match(bad.err(), /--workers takes a positive integer/);
    });
  });
});

describe("parse-dataset progress in logs", () => {
  test("stderr that is not a terminal gets plain progress lines at --progress-every; 0 turns them off", async () => {
    await withTmp(async (dir) => {
      const input = writeInput(dir, 2);
      const args = (every: string) => [
        "parse-dataset",
        input,
        "--out",
        join(dir, `p${every}.jsonl`),
        "--backend",
        "cpu",
        "--checkpoint-every",
        "16",
        "--progress-every",
        every,
      ];
      // 1 ms: every batch written after the first millisecond prints a line.
      const logged = memoryHost();
      await main(args("0.001"), logged);
      const lines = logged.err().split("\n");
      assert.ok(lines.length > 2, logged.err());
      assert.match(
        lines[0],
        /^[\d,]+ records · \d+ failed · [\d.kM]+ tokens · [\d.kM]+ rec\/s · [\d.kM]+ tok\/s · [\d.]+s · [\d.]+%/,
      );
      assert.doesNotMatch(logged.err(), /\r/);
      const quiet = memoryHost();
      await main(args("0"), quiet);
      assert.match(quiet.err(), /^parse-dataset: /);
    });
  });
});
