// Seeded fuzzing of every JSONL command and of render-dataset/parse-dataset with random bytes
// and random JSON: a bounded number of cases (no time limit), replayable from the seed. Each run
// must give one output line per input line (JSONL commands), exit 0 or 1, and no stack trace.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { mulberry32 } from "../_support/random.ts";
import { withTmp } from "../dataset/_helpers.ts";

const SEED = 0x11c0ffee;
const CASES = 40;

function randomJson(rand: () => number, depth = 0): string {
  const k = Math.floor(rand() * (depth > 3 ? 5 : 8));
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  switch (k) {
    case 0:
      return pick(["null", "true", "-1", "1.5", "1e99999", "201089", "4294967296", "200006"]);
    case 1:
      return JSON.stringify(pick(["hi", "<|start|>", "__proto__", "\u0000", "\ud800", "é😀"]));
    case 2:
      return String(Math.floor(rand() * 201100));
    case 3:
      return pick(['"text"', '"tokens"', '"messages"', "[]", "{}"]);
    case 4:
      return JSON.stringify(pick(["user", "assistant", "final", "analysis"]));
    case 5:
    case 6: {
      const n = Math.floor(rand() * 4);
      const keys = ["text", "tokens", "messages", "role", "content", "channel", "__proto__", "1"];
      const parts = [];
      for (let i = 0; i < n; i++) {
        parts.push(`${JSON.stringify(pick(keys))}:${randomJson(rand, depth + 1)}`);
      }
      return `{${parts.join(",")}}`;
    }
    default: {
      const n = Math.floor(rand() * 5);
      const parts = [];
      for (let i = 0; i < n; i++) parts.push(randomJson(rand, depth + 1));
      return `[${parts.join(",")}]`;
    }
  }
}

/** One fuzz input: random JSON lines, some cut or with random bytes spliced in. */
function randomInput(rand: () => number): Uint8Array {
  const out: number[] = [];
  const lines = 1 + Math.floor(rand() * 6);
  for (let l = 0; l < lines; l++) {
    const bytes = new TextEncoder().encode(randomJson(rand));
    const cut = rand() < 0.2 ? Math.floor(rand() * bytes.length) : bytes.length;
    for (let i = 0; i < cut; i++) {
      out.push(rand() < 0.02 ? Math.floor(rand() * 256) : bytes[i]);
    }
    if (l < lines - 1 || rand() < 0.7) out.push(10);
  }
  return Uint8Array.from(out);
}

function countLines(input: Uint8Array): number {
  if (input.length === 0) return 0;
  let n = 0;
  for (const b of input) if (b === 10) n++;
  return input[input.length - 1] === 10 ? n : n + 1;
}

const COMMANDS = [["encode", "--jsonl"], ["decode", "--jsonl"], ["render"], ["parse"], [
  "parse",
  "--role",
  "assistant",
  "--trace",
]];

test(`seeded fuzz (seed ${SEED}, ${CASES} inputs): JSONL commands keep one line per line`, async () => {
  const rand = mulberry32(SEED);
  for (let c = 0; c < CASES; c++) {
    const input = randomInput(rand);
    for (const args of COMMANDS) {
      const host = memoryHost(input);
      const code = await main(args, host);
      const what = `case ${c}, ${args.join(" ")}`;
      assert.ok(code === 0 || code === 1, `${what}: exit ${code} ${host.err()}`);
      const lines = host.out().split("\n");
      lines.pop();
      assert.equal(lines.length, countLines(input), what);
      for (const [i, l] of lines.entries()) {
        const v = JSON.parse(l) as { error?: string };
        if (v.error !== undefined) {
          assert.ok(v.error.startsWith(`line ${i + 1}: `), `${what}: ${v.error}`);
          assert.doesNotMatch(v.error, /\n\s+at |Maximum call stack/, what);
        }
      }
    }
  }
});

test(`seeded fuzz (seed ${SEED}): render-dataset and parse-dataset report, never crash`, async () => {
  const rand = mulberry32(SEED + 1);
  await withTmp(async (dir) => {
    for (let c = 0; c < 10; c++) {
      const input = join(dir, `in${c}.jsonl`);
      writeFileSync(input, randomInput(rand));
      for (const cmd of ["render-dataset", "parse-dataset"]) {
        const host = memoryHost();
        const out = join(dir, cmd === "render-dataset" ? `r${c}` : `p${c}.jsonl`);
        const code = await main([cmd, input, "--out", out, "--backend", "cpu"], host);
        assert.ok(code === 0 || code === 1, `case ${c} ${cmd}: exit ${code}: ${host.err()}`);
        assert.doesNotMatch(host.err(), /\n\s+at /);
        if (cmd === "parse-dataset") {
          for (const l of readFileSync(out, "utf8").trimEnd().split("\n").filter((x) => x)) {
            JSON.parse(l);
          }
        }
      }
    }
  });
});
