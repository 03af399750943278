// The statistics issue #15 asks for (truncation, tool calls with bad JSON arguments, mean
// tokens per channel, dropped spans, repairs, stripped text, per sample index, unreadable
// records) in parse-dataset's --stats JSON and its stderr summary lines, from one small input
// with one record of each kind; and --field names that are Object.prototype properties.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import type { ParseDatasetStats } from "../../src/evals/stats.ts";
import { toks } from "./_helpers.ts";

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "harmony-summary-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const FINAL = toks(
  "<|channel|>",
  "analysis",
  "<|message|>",
  "Think.",
  "<|end|>",
  "<|start|>",
  "assistant",
  "<|channel|>",
  "final",
  "<|message|>",
  "4",
  "<|return|>",
);
// Cut off by the length limit inside the analysis message.
const TRUNCATED = toks("<|channel|>", "analysis", "<|message|>", "Thinking more");
const BAD_CALL = toks(
  "<|channel|>",
  "commentary to=functions.f ",
  "<|constrain|>",
  "json",
  "<|message|>",
  '{"a": ',
  "<|call|>",
);
// A stray <|return|> after <|end|>: dropped by default, repaired by --recover all.
const STRAY = toks(
  "<|channel|>",
  "final",
  "<|message|>",
  "4",
  "<|end|>",
  "<|return|>",
  "<|start|>",
  "assistant",
  "<|channel|>",
  "final",
  "<|message|>",
  "5",
  "<|return|>",
);

const LINES = [
  JSON.stringify({
    request_id: "a",
    outputs: [
      { token_ids: FINAL, finish_reason: "stop" },
      { token_ids: TRUNCATED, finish_reason: "length" },
    ],
  }),
  JSON.stringify({ id: 1, tokens: BAD_CALL }),
  JSON.stringify({ id: 2, text: "analysisThink.assistantfinal4" }),
  JSON.stringify({ id: 3, tokens: STRAY }),
  '{"id": 4, "tokens": [1, 2',
];

async function parse(dir: string, extra: string[] = []) {
  const input = join(dir, "in.jsonl");
  writeFileSync(input, LINES.join("\n") + "\n");
  const out = join(dir, "out.jsonl");
  const host = memoryHost();
  const code = await main(
    ["parse-dataset", input, "--out", out, "--stats", `${out}.json`, "--backend", "cpu", ...extra],
    host,
  );
  const stats = JSON.parse(readFileSync(`${out}.json`, "utf8")) as ParseDatasetStats;
  return { code, err: host.err(), stats, input };
}

describe("parse-dataset statistics and summary lines", () => {
  test("--stats counts truncation, bad tool arguments, tokens per channel, dropped spans, stripped, per sample, unreadable", async () => {
    await withTmp(async (dir) => {
      const { code, stats, input } = await parse(dir);
      assert.equal(code, 1); // record 4 cannot be read
      assert.equal(stats.records, 5);
      assert.equal(stats.samples, 6);
      assert.equal(stats.truncated, 1);
      assert.equal(stats.truncation_rate, 1 / 6);
      assert.equal(stats.bad_arguments.count, 1);
      assert.deepEqual(stats.bad_arguments.examples, [
        { record: 1, file: input, line: 2, recipient: "functions.f", raw: '{"a": ' },
      ]);
      const { analysis, final } = stats.tokens_per_channel;
      assert.ok(analysis.messages >= 2 && analysis.tokens > analysis.messages);
      assert.equal(analysis.mean, analysis.tokens / analysis.messages);
      assert.deepEqual(final, { messages: final.messages, tokens: final.messages, mean: 1 });
      assert.deepEqual(stats.dropped, {
        spans: 1,
        tokens: 1,
        samples: 1,
        reasons: { "unexpected-token": 1 },
      });
      assert.deepEqual(stats.repairs, {});
      assert.equal(stats.stripped, 1);
      assert.equal(stats.unreadable, 1);
      assert.deepEqual(Object.keys(stats.per_sample), ["0", "1"]);
      assert.equal(stats.per_sample["0"].samples, 5);
      assert.deepEqual(stats.per_sample["1"], {
        samples: 1,
        ok: stats.per_sample["1"].ok,
        recovered: stats.per_sample["1"].recovered,
        error: stats.per_sample["1"].error,
        truncated: 1,
      });
      assert.equal(stats.per_sample["0"].error + stats.per_sample["1"].error, stats.status.error);
    });
  });

  test("the stderr summary: one line of counts, then a line per kind of finding", async () => {
    await withTmp(async (dir) => {
      const { err, input } = await parse(dir);
      const lines = err.trimEnd().split("\n");
      assert.match(
        lines[0],
        /^parse-dataset: 5 records, 6 samples \(ok \d+, recovered \d+, error \d+\); stop: .*; truncated 16\.7%; dropped 1 spans \(1 tokens\); stripped text 1; unreadable 1; bad tool arguments 1; .* → .*out\.jsonl$/,
      );
      assert.match(
        lines[1],
        /^ {2}tokens per message: analysis \d+\.\d \(\d+\), final 1\.0 \(\d+\)/,
      );
      assert.equal(lines[2], "  dropped spans: unexpected-token 1 (in 1 samples)");
      assert.equal(
        lines[3],
        `  bad tool arguments: 1, e.g. record 1 (${input}:2) functions.f: "{\\"a\\": "`,
      );
      assert.match(
        lines[4],
        /^ {2}per sample: #0 5 \(ok \d+, recovered \d+, error \d+, truncated 0\); #1 1 \(ok \d+, recovered \d+, error \d+, truncated 1\)$/,
      );
      assert.match(lines[5], /^ {2}error bad-json: 1, e\.g\. record 4 \(.*in\.jsonl:5\): /);
    });
  });

  test("--recover all: the stray stop is a repair, counted and summarised, not a dropped span", async () => {
    await withTmp(async (dir) => {
      const { err, stats } = await parse(dir, ["--recover", "all"]);
      assert.deepEqual(stats.repairs, { "stray-stop": 1 });
      assert.equal(stats.dropped.spans, 0);
      assert.match(err, /\n {2}repairs: stray-stop 1\n/);
      assert.doesNotMatch(err, /dropped/);
    });
  });
});

describe("--field names of Object.prototype properties", () => {
  for (
    const field of ["constructor", "__proto__", "toString", "hasOwnProperty", "constructor.name"]
  ) {
    test(`--field ${field} finds no inherited property: no-completion, exit 1`, async () => {
      await withTmp(async (dir) => {
        const input = join(dir, "in.jsonl");
        writeFileSync(input, JSON.stringify({ id: 1, tokens: FINAL }) + "\n");
        const out = join(dir, "out.jsonl");
        const host = memoryHost();
        const code = await main(
          ["parse-dataset", input, "--out", out, "--field", field, "--backend", "cpu"],
          host,
        );
        assert.equal(code, 1, host.err());
        const line = JSON.parse(readFileSync(out, "utf8"));
        assert.equal(line.status, "error");
        assert.match(
          line.error,
          new RegExp(`^no-completion: .*\\("${field.replace(".", "\\.")}"\\)$`),
        );
      });
    });
  }

  test("an own field with such a name is read like any other", async () => {
    await withTmp(async (dir) => {
      const input = join(dir, "in.jsonl");
      writeFileSync(
        input,
        `{"id": 1, "__proto__": ${JSON.stringify(FINAL)}}\n{"id": 2, "constructor": ${
          JSON.stringify(FINAL)
        }}\n`,
      );
      for (const field of ["__proto__", "constructor"]) {
        const out = join(dir, `${field}.jsonl`);
        const host = memoryHost();
        await main(
          ["parse-dataset", input, "--out", out, "--field", field, "--backend", "cpu"],
          host,
        );
        const [a, b] = readFileSync(out, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
        const [hit, miss] = field === "__proto__" ? [a, b] : [b, a];
        assert.equal(hit.final, "4", field);
        assert.equal(miss.status, "error", field);
      }
    });
  });
});
