import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { ByteWriter, parquetWrite } from "hyparquet-writer";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { parseDataset, shardOutputPath } from "../../src/evals/parse_dataset.ts";
import type { ParseDatasetStats } from "../../src/evals/stats.ts";
import { buildInput, completionsOf, conversations, enc, tokenizer } from "./_helpers.ts";

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "harmony-evals-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface OutLine {
  id?: number;
  messages: unknown[];
  final: string | null;
  analysis: string | null;
  tool_calls: { recipient: string }[];
  stop: string;
  status: string;
  error?: string;
  [k: string]: unknown;
}

function readOut(path: string): OutLine[] {
  const bytes = readFileSync(path);
  const text = path.endsWith(".gz")
    ? new TextDecoder().decode(gunzipSync(bytes))
    : bytes.toString();
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

/** Runs the CLI; `--backend cpu` unless the test names a backend (auto probes for a GPU). */
async function cli(args: string[], env: Record<string, string> = {}) {
  const host = memoryHost("", env);
  const backend = args.includes("--backend") ? [] : ["--backend", "cpu"];
  const code = await main(["parse-dataset", ...args, ...backend], host);
  return { code, err: host.err(), out: host.out() };
}

function checkStatsAddUp(stats: ParseDatasetStats, out: OutLine[]): void {
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  assert.equal(stats.records, out.length);
  assert.equal(sum(stats.status), stats.records);
  assert.equal(sum(stats.stop), stats.records);
  assert.equal(sum(stats.channels), stats.messages);
  assert.equal(sum(stats.recipients), stats.tool_calls);
  assert.equal(stats.errors.reduce((a, r) => a + r.count, 0), stats.status.error);
  assert.equal(stats.recovered.reduce((a, r) => a + r.count, 0), stats.status.recovered);
  // And they match the output lines.
  for (const s of ["ok", "recovered", "error"] as const) {
    assert.equal(stats.status[s], out.filter((l) => l.status === s).length, s);
  }
  for (const s of ["return", "call", "end", "none"] as const) {
    assert.equal(stats.stop[s], out.filter((l) => l.stop === s).length, s);
  }
  assert.equal(stats.messages, out.reduce((a, l) => a + l.messages.length, 0));
  assert.equal(stats.tool_calls, out.reduce((a, l) => a + l.tool_calls.length, 0));
}

describe("harmony parse-dataset", () => {
  test("one output line per input record, in order, bad records in the middle included", async () => {
    await withTmp(async (dir) => {
      const { lines, bad, badKinds } = buildInput();
      const input = join(dir, "in.jsonl");
      writeFileSync(input, lines.join("\n") + "\n\n");
      const outPath = join(dir, "out", "res.jsonl");
      const r = await cli([
        input,
        "--out",
        outPath,
        "--stats",
        join(dir, "stats.json"),
        "--backend",
        "auto",
      ]);
      // Records that cannot be read are error lines, and the exit code says so (as render-dataset).
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /^parse-dataset: \d+ records \(ok \d+/);
      assert.match(r.err, new RegExp(`; unreadable ${bad.size};`));
      assert.equal(r.out, "");
      const out = readOut(outPath);
      assert.equal(out.length, lines.length);
      for (let k = 0; k < lines.length; k++) {
        if (bad.has(k)) {
          assert.equal(out[k].status, "error");
          assert.ok(out[k].error!.includes(`record ${k} (${input}:${k + 1})`), out[k].error ?? "");
          assert.deepEqual(out[k].messages, []);
          if (out[k].error!.startsWith("bad-json")) assert.equal(out[k].id, undefined);
          else assert.equal(out[k].id, k);
        } else {
          assert.equal(out[k].id, k, `line ${k}`);
          const input = JSON.parse(lines[k]);
          for (const key of Object.keys(input)) {
            if (["tokens", "completion_tokens", "output_ids", "text"].includes(key)) {
              assert.equal(key in out[k], false);
            } else assert.deepEqual(out[k][key], input[key]);
          }
        }
      }
      assert.equal(existsSync(outPath + ".tmp"), false);
      const stats = JSON.parse(readFileSync(join(dir, "stats.json"), "utf8")) as ParseDatasetStats;
      checkStatsAddUp(stats, out);
      assert.ok(stats.status.ok > 20);
      assert.ok(stats.stop.call > 0 && stats.stop.return > 0);
      assert.ok(stats.channels.final > 0 && stats.channels.commentary > 0);
      assert.ok(Object.keys(stats.recipients).some((r) => r.startsWith("functions.")));
      // Every kind of unreadable record is counted under its reason.
      for (const [kind, count] of Object.entries(badKinds)) {
        assert.equal(stats.errors.find((e) => e.reason === kind)?.count, count, kind);
      }
      const badJson = stats.errors.find((e) => e.reason === "bad-json")!;
      assert.ok(bad.has(badJson.example.record));
      assert.equal(badJson.example.line, badJson.example.record + 1);
      assert.ok(stats.tokens > 0 && stats.tokens_per_second > 0 && stats.records_per_second > 0);
    });
  });

  test("gzip input gives the same output; .gz output is gzip", async () => {
    await withTmp(async (dir) => {
      const { lines } = buildInput();
      const plain = join(dir, "in.jsonl");
      const gz = join(dir, "in.jsonl.gz");
      writeFileSync(plain, lines.join("\n"));
      writeFileSync(gz, gzipSync(lines.join("\n")));
      assert.equal((await cli([plain, "--out", join(dir, "a.jsonl")])).code, 1); // bad records
      assert.equal((await cli([gz, "--out", join(dir, "b.jsonl.gz")])).code, 1);
      const a = readOut(join(dir, "a.jsonl"));
      const b = readOut(join(dir, "b.jsonl.gz"));
      assert.equal(a.length, lines.length);
      // Only the file name in error texts differs.
      const norm = (l: OutLine) => ({ ...l, error: l.error?.replace(/\(.*?:(\d+)\)/, "($1)") });
      assert.deepEqual(b.map(norm), a.map(norm));
    });
  });

  test("--field NAME with --role none reads text completions that start with <|start|>", async () => {
    await withTmp(async (dir) => {
      const text =
        "<|start|>assistant<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final<|message|>4<|return|>";
      const input = join(dir, "in.jsonl");
      writeFileSync(
        input,
        [
          JSON.stringify({ q: 1, response: text, text: "carried, not parsed" }),
          JSON.stringify({ q: 2, response: enc(text) }),
          JSON.stringify({ q: 3, text: text }),
        ].join("\n"),
      );
      const out = join(dir, "o.jsonl");
      const r = await cli([input, "--out", out, "--field", "response", "--role", "none"]);
      assert.equal(r.code, 1, r.err); // record 2 has no response field
      const rows = readOut(out);
      assert.equal(rows[0].final, "4");
      assert.equal(rows[0].analysis, "Think.");
      assert.equal(rows[0].text, "carried, not parsed");
      assert.equal(rows[1].final, "4");
      assert.equal(rows[2].status, "error");
      assert.match(rows[2].error!, /^no-completion: record 2 .*\("response"\)/);
    });
  });

  test("--shard i/n is contiguous: the shard outputs in order are the unsharded output", async () => {
    await withTmp(async (dir) => {
      const { lines } = buildInput();
      const input = join(dir, "in.jsonl");
      writeFileSync(input, lines.join("\n"));
      const whole = await cli([input, "--out", join(dir, "w.jsonl")]);
      assert.ok(whole.code === 0 || whole.code === 1, whole.err);
      let joined = "";
      for (const i of [0, 1, 2]) {
        const r = await cli([input, "--out", join(dir, "r.jsonl"), "--shard", `${i}/3`]);
        const rows = readOut(join(dir, `r.shard-0000${i}-of-00003.jsonl`));
        const unreadable = rows.some((row) =>
          /^(bad-json|no-completion|token-out-of-range)/.test(row.error ?? "")
        );
        assert.equal(r.code, unreadable ? 1 : 0, r.err);
        joined += readFileSync(join(dir, `r.shard-0000${i}-of-00003.jsonl`), "utf8");
      }
      assert.equal(joined, readFileSync(join(dir, "w.jsonl"), "utf8"));
      assert.equal(existsSync(join(dir, "r.jsonl")), false);
    });
  });

  test("Slurm array variables choose the shard when --shard is absent", async () => {
    await withTmp(async (dir) => {
      const input = join(dir, "in.jsonl");
      writeFileSync(input, [1, 2, 3, 4].map((id) => JSON.stringify({ id, text: "x" })).join("\n"));
      const r = await cli([input, "--out", join(dir, "r.jsonl")], {
        SLURM_ARRAY_TASK_ID: "1",
        SLURM_ARRAY_TASK_COUNT: "2",
      });
      assert.equal(r.code, 0, r.err);
      // Four lines of one length: shard 1 of 2 owns the second half of the bytes.
      assert.deepEqual(readOut(join(dir, "r.shard-00001-of-00002.jsonl")).map((l) => l.id), [3, 4]);
      assert.equal(shardOutputPath("x.json", { index: 0, count: 1 }), "x.json");
      assert.equal(shardOutputPath("x", { index: 2, count: 3 }), "x.shard-00002-of-00003");
    });
  });

  test("Parquet input: token list column and bigint ids", async () => {
    await withTmp(async (dir) => {
      const built = conversations().slice(0, 4).flatMap(completionsOf);
      const writer = new ByteWriter();
      parquetWrite({
        writer,
        columnData: [
          { name: "id", data: built.map((_, i) => BigInt(i) + 10n ** 18n) },
          { name: "output_ids", data: built.map((b) => b.tokens) },
        ],
        schema: [
          { name: "root", num_children: 2 },
          { name: "id", type: "INT64", repetition_type: "REQUIRED" },
          {
            name: "output_ids",
            repetition_type: "REQUIRED",
            converted_type: "LIST",
            num_children: 1,
          },
          { name: "list", repetition_type: "REPEATED", num_children: 1 },
          { name: "element", type: "INT32", repetition_type: "REQUIRED" },
        ],
        rowGroupSize: 3,
      });
      const pq = join(dir, "in.parquet");
      writeFileSync(pq, writer.getBytes());
      const out = join(dir, "o.jsonl");
      const { stats } = await parseDataset({ inputs: [pq], out, tokenizer });
      const text = readFileSync(out, "utf8").split("\n").filter(Boolean);
      assert.equal(text.length, built.length);
      text.forEach((l, i) => {
        assert.ok(l.startsWith(`{"id":${10n ** 18n + BigInt(i)},"messages":`), l.slice(0, 60));
        const row = JSON.parse(l) as OutLine;
        assert.equal(row.final, built[i].final);
        assert.equal(row.status, "ok");
      });
      checkStatsAddUp(stats, text.map((l) => JSON.parse(l)));
    });
  });

  test("usage errors: --out missing, bad --shard; a missing input leaves no output", async () => {
    await withTmp(async (dir) => {
      const input = join(dir, "in.jsonl");
      writeFileSync(input, '{"text": "x"}\n');
      const a = await cli([input]);
      assert.equal(a.code, 2);
      assert.match(a.err, /--out FILE is required/);
      const b = await cli([input, "--out", join(dir, "o.jsonl"), "--shard", "3/2"]);
      assert.equal(b.code, 2);
      assert.match(b.err, /Cannot use shard 3\/2/);
      const c = await cli([join(dir, "missing.jsonl"), "--out", join(dir, "o.jsonl")]);
      assert.equal(c.code, 2);
      assert.match(c.err, /Cannot read input ".*missing\.jsonl": no such file/);
      assert.deepEqual(readdirSync(dir), ["in.jsonl"]);
    });
  });
});
