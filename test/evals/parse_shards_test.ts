// Contiguous shards of parse-dataset: merge of all shards is byte for byte the unsharded output,
// whose error texts name the global record and line and whose --emit ids carry the record index.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { parseDataset, type ParseDatasetOptions } from "../../src/evals/parse_dataset.ts";
import { mergeDatasets } from "../../src/dataset/merge.ts";
import { shardTag } from "../../src/dataset/shard.ts";
import { STATS_TIMING_FIELDS, StatsCollector, type StatsInput } from "../../src/evals/stats.ts";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { buildInput, tokenizer } from "./_helpers.ts";

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "harmony-shards-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const enc = new TextEncoder();

/** The eval lines over three files: BOM + CRLF + blank lines, gzip, and plain without a final newline. */
function writeInputs(dir: string, lines: string[]): string[] {
  const third = Math.floor(lines.length / 3);
  const a = join(dir, "a.jsonl");
  const crlf = lines.slice(0, third).flatMap((l, i) => i % 4 === 1 ? [l, " "] : [l]);
  writeFileSync(a, new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode(crlf.join("\r\n") + "\r\n\n")]));
  const b = join(dir, "b.jsonl.gz");
  writeFileSync(b, gzipSync(enc.encode(lines.slice(third, 2 * third).join("\n") + "\n")));
  const c = join(dir, "c.jsonl");
  writeFileSync(c, "\n" + lines.slice(2 * third).join("\n"));
  return [a, b, c];
}

async function shardsMerged(
  dir: string,
  name: string,
  n: number,
  options: Omit<ParseDatasetOptions, "out" | "tokenizer" | "shard">,
): Promise<{ merged: string; records: number }> {
  const prefixes: string[] = [];
  let records = 0;
  for (let i = 0; i < n; i++) {
    const shard = { index: i, count: n };
    const prefix = join(dir, `${name}${shardTag(shard)}`);
    const { stats } = await parseDataset({ ...options, tokenizer, shard, out: `${prefix}.jsonl` });
    records += stats.records;
    prefixes.push(prefix);
  }
  const out = join(dir, `${name}-merged`);
  await mergeDatasets(prefixes, out);
  return { merged: readFileSync(`${out}.jsonl`, "utf8"), records };
}

describe("parse-dataset: contiguous shards", () => {
  for (const emit of [undefined, ["openai", "responses"] as const]) {
    test(
      `n = 1..5 shards merge byte-identical to the unsharded output${
        emit ? " with --emit openai,responses" : ""
      }`,
      { timeout: 120_000 },
      async () => {
        await withTmp(async (dir) => {
          const { lines, bad } = buildInput();
          assert.ok(bad.size >= 3);
          const inputs = writeInputs(dir, lines);
          const options = { inputs, emit: emit ? [...emit] : undefined, batchSize: 5 };
          const { stats } = await parseDataset({
            ...options,
            tokenizer,
            out: join(dir, "whole.jsonl"),
          });
          const whole = readFileSync(join(dir, "whole.jsonl"), "utf8");
          assert.match(whole, /"error":"[a-z-]+: record \d+ \([^)]*:\d+\)/);
          for (let n = 1; n <= 5; n++) {
            const r = await shardsMerged(dir, `s${n}`, n, options);
            assert.equal(r.merged, whole, `${n} shards`);
            assert.equal(r.records, stats.records);
          }
        });
      },
    );
  }

  test(
    ".jsonl.gz: n = 1..4 shards merge byte-identical to the unsharded gzip output, checkpoints too",
    {
      timeout: 180_000,
    },
    async () => {
      await withTmp(async (dir) => {
        const { lines } = buildInput();
        const multi = lines.map((l, i) => {
          const m = /"(?:tokens|completion_tokens|output_ids)":(\[[^\]]*\])/.exec(l);
          if (m === null) return i % 2 === 0 ? l : `{"id": ${i}, "outputs": 7}`;
          return `{"id":${i},"outputs":[{"t":${m[1]}},{"t":${m[1]}}]}`;
        });
        const cases: Array<[string, string[], Partial<ParseDatasetOptions>]> = [
          ["one member per run", lines, {}],
          // Each checkpoint ends a gzip member: the merge ends its members at the same records.
          ["checkpoints every 7 records", lines, { checkpointEvery: 7 }],
          ["two samples per record, checkpoints every 3", multi, {
            checkpointEvery: 3,
            field: "outputs[*].t",
          }],
        ];
        for (const [what, input, extra] of cases) {
          const sub = join(dir, String(cases.findIndex((c) => c[0] === what)));
          mkdirSync(sub);
          const options = { ...extra, inputs: writeInputs(sub, input), batchSize: 5 };
          await parseDataset({ ...options, tokenizer, out: join(sub, "whole.jsonl.gz") });
          const whole = readFileSync(join(sub, "whole.jsonl.gz"));
          if (extra.checkpointEvery) assert.ok(members(whole) > 2, `${what}: several gzip members`);
          // One shard is the unsharded run (no manifest): only with one member per run.
          for (let n = extra.checkpointEvery ? 2 : 1; n <= 4; n++) {
            const prefixes: string[] = [];
            for (let i = 0; i < n; i++) {
              const shard = { index: i, count: n };
              const prefix = join(sub, `g${n}${shardTag(shard)}`);
              await parseDataset({ ...options, tokenizer, shard, out: `${prefix}.jsonl.gz` });
              prefixes.push(prefix);
            }
            const m = await mergeDatasets(prefixes, join(sub, `m${n}`));
            assert.equal(m.format, "jsonl.gz");
            const merged = readFileSync(join(sub, `m${n}.jsonl.gz`));
            assert.ok(
              gunzipSync(merged).equals(gunzipSync(whole)),
              `${what}, ${n} shards: content`,
            );
            assert.ok(
              merged.equals(whole),
              `${what}, ${n} shards: ${merged.length} vs ${whole.length} bytes`,
            );
          }
        }
      });
    },
  );

  test(".jsonl.gz: a truncated gzip shard is refused, naming it, and nothing is written", {
    timeout: 120_000,
  }, async () => {
    await withTmp(async (dir) => {
      const { lines } = buildInput();
      const inputs = writeInputs(dir, lines);
      const prefixes: string[] = [];
      for (let i = 0; i < 3; i++) {
        const shard = { index: i, count: 3 };
        const prefix = join(dir, `g${shardTag(shard)}`);
        await parseDataset({ inputs, tokenizer, shard, out: `${prefix}.jsonl.gz` });
        prefixes.push(prefix);
      }
      const victim = `${prefixes[1]}.jsonl.gz`;
      truncateSync(victim, statSync(victim).size - 5);
      await assert.rejects(mergeDatasets(prefixes, join(dir, "m")), {
        name: "SyntaxError",
        message:
          /^Cannot merge .*g\.shard-00001-of-00003: it is truncated or inconsistent \(.*g\.shard-00001-of-00003\.jsonl\.gz is \d+ bytes, its manifest says \d+\)$/,
      });
      // Without a manifest (an unsharded file) the gzip stream itself tells.
      const lone = join(dir, "lone");
      await parseDataset({ inputs, tokenizer, out: `${lone}.jsonl.gz` });
      truncateSync(`${lone}.jsonl.gz`, statSync(`${lone}.jsonl.gz`).size - 5);
      await assert.rejects(mergeDatasets([lone], join(dir, "m")), {
        name: "SyntaxError",
        message:
          /^Cannot merge .*lone: it is truncated or inconsistent \(.*lone\.jsonl\.gz is not a whole gzip stream/,
      });
      assert.equal(existsSync(join(dir, "m.jsonl.gz")), false);
      assert.equal(existsSync(join(dir, "m.jsonl.gz.tmp")), false);
      // Cut at a member boundary (checkpoints every 5 records end members), or a plain JSONL
      // shard cut at a line: whole streams, caught by the size the manifest records.
      for (const ext of [".jsonl.gz", ".jsonl"]) {
        const cut: string[] = [];
        for (let i = 0; i < 3; i++) {
          const shard = { index: i, count: 3 };
          const prefix = join(dir, `c${ext.length}${shardTag(shard)}`);
          await parseDataset({ inputs, tokenizer, shard, checkpointEvery: 5, out: prefix + ext });
          cut.push(prefix);
        }
        const file = cut[2] + ext;
        const bytes = readFileSync(file);
        const keep = ext === ".jsonl"
          ? bytes.lastIndexOf(0x0a, bytes.length - 2) + 1
          : memberEnds(bytes).at(-2)!;
        assert.ok(keep > 0 && keep < bytes.length);
        truncateSync(file, keep);
        await assert.rejects(mergeDatasets(cut, join(dir, "m")), {
          name: "SyntaxError",
          message: new RegExp(
            `^Cannot merge .*${ext.length}\\.shard-00002-of-00003: it is truncated or inconsistent \\(.*is ${keep} bytes, its manifest says ${bytes.length}\\)$`,
          ),
        });
      }
    });
  });

  test(
    "merge --stats: the shards' stats combine to the unsharded run's, timings aside (n = 1..4)",
    {
      timeout: 180_000,
    },
    async () => {
      await withTmp(async (dir) => {
        const { lines } = buildInput();
        const inputs = writeInputs(dir, lines);
        const cli = async (args: string[]) => {
          const host = memoryHost();
          const code = await main(args, host);
          assert.ok(code === 0 || code === 1, host.err());
        };
        const common = ["--workers", "1", "--backend", "cpu"];
        const whole = join(dir, "whole.json");
        await cli([
          "parse-dataset",
          ...inputs,
          "--out",
          join(dir, "w.jsonl"),
          "--stats",
          whole,
          ...common,
        ]);
        const expected = withoutTimings(JSON.parse(readFileSync(whole, "utf8")));
        assert.ok((expected.errors as unknown[]).length >= 2, "the inputs hold error reasons");
        assert.ok((expected.status as { recovered: number }).recovered >= 1, "and recovered ones");
        for (let n = 1; n <= 4; n++) {
          const stats = join(dir, `s${n}.json`);
          for (let i = 0; i < n; i++) {
            const out = join(dir, `r${n}.jsonl`);
            await cli([
              "parse-dataset",
              ...inputs,
              "--out",
              out,
              "--stats",
              stats,
              "--shard",
              `${i}/${n}`,
              ...common,
            ]);
          }
          if (n > 1) assert.ok(!existsSync(stats), "a shard writes its own stats file");
          const shards = Array.from(
            { length: n },
            (_, i) => join(dir, `r${n}${shardTag({ index: i, count: n })}.jsonl`),
          );
          await cli(["merge", ...shards, "--out", join(dir, `m${n}.jsonl`), "--stats", stats]);
          const merged = JSON.parse(readFileSync(stats, "utf8"));
          assert.deepEqual(withoutTimings(merged), expected, `${n} shards`);
          assert.deepEqual(
            Object.keys(merged),
            Object.keys(JSON.parse(readFileSync(whole, "utf8"))),
          );
        }
      });
    },
  );

  test("StatsCollector.combine of a run cut anywhere equals the whole run, key caps included", () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    // 1,500 channel and recipient names: past the 1,000-key caps, so "(other)" and dropped keys
    // must come out as one run counts them.
    const inputs: Array<[StatsInput, number]> = Array.from({ length: 4000 }, (_, i) => {
      const status = (["ok", "recovered", "error"] as const)[rand(3)];
      const channel = `c${rand(1500)}`;
      return [{
        sample: rand(4) === 0 ? rand(3) : undefined,
        truncated: rand(5) === 0,
        status,
        stop: (["return", "call", "end", "none"] as const)[rand(4)],
        messages: [{ channel }, { channel: `c${rand(1500)}` }],
        content_tokens: [rand(9), rand(9)],
        dropped: rand(6) === 0 ? [{ from: 0, to: rand(5), reason: `d${rand(3)}` }] : undefined,
        repairs: rand(6) === 0 ? [{ repair: `r${rand(4)}` }] : undefined,
        tool_calls: rand(3) === 0
          ? [{ recipient: `functions.f${rand(1500)}`, arguments: null, raw: `{bad ${i}` }]
          : [],
        reason: status === "ok" ? undefined : `e${rand(30)}`,
        error: `error ${i}`,
      }, rand(50)];
    });
    const where = (i: number) => ({ record: i, file: "a.jsonl", line: i + 1 });
    const whole = new StatsCollector();
    inputs.forEach(([r, t], i) => whole.add(r, t, where(i)));
    for (const cuts of [[0], [1], [3999], [700, 700, 2500], [10, 1200, 1900, 3000]]) {
      const parts: StatsCollector[] = [];
      const bounds = [0, ...cuts, inputs.length];
      for (let k = 0; k + 1 < bounds.length; k++) {
        const c = new StatsCollector();
        for (let i = bounds[k]; i < bounds[k + 1]; i++) c.add(inputs[i][0], inputs[i][1], where(i));
        parts.push(c);
      }
      const combined = StatsCollector.combine(parts.map((c) => c.snapshot()));
      assert.deepEqual(combined.snapshot(), whole.snapshot(), `cut at ${cuts}`);
      assert.deepEqual(combined.result(1, 4000, "0/1"), whole.result(1, 4000, "0/1"));
    }
  });

  test("records of several samples split over batches: merged shards equal the unsharded output", {
    timeout: 120_000,
  }, async () => {
    await withTmp(async (dir) => {
      const { lines } = buildInput();
      // Two samples per record from the token lists; some records fail to read.
      const multi = lines.map((l, i) => {
        const m = /"(?:tokens|completion_tokens|output_ids)":(\[[^\]]*\])/.exec(l);
        if (m === null) return i % 2 === 0 ? l : `{"id": ${i}, "outputs": 7}`;
        return `{"id":${i},"outputs":[{"t":${m[1]}},{"t":${m[1]}}]}`;
      });
      const inputs = writeInputs(dir, multi);
      const options = { inputs, field: "outputs[*].t", batchSize: 3 };
      await parseDataset({ ...options, tokenizer, out: join(dir, "whole.jsonl") });
      const whole = readFileSync(join(dir, "whole.jsonl"), "utf8");
      assert.match(whole, /"sample":1/);
      assert.match(whole, /"status":"error"/);
      for (let n = 2; n <= 5; n++) {
        assert.equal((await shardsMerged(dir, `m${n}`, n, options)).merged, whole, `${n} shards`);
      }
    });
  });
});

function withoutTimings(stats: Record<string, unknown>): Record<string, unknown> {
  const out = { ...stats };
  for (const k of STATS_TIMING_FIELDS) {
    assert.equal(typeof out[k], "number", k);
    delete out[k];
  }
  return out;
}

/** The gzip members of a multi-member file. */
function members(bytes: Uint8Array): number {
  return memberEnds(bytes).length;
}

/** Where each gzip member of a multi-member file ends (found by inflating prefixes). */
function memberEnds(bytes: Uint8Array): number[] {
  const ends: number[] = [];
  for (let at = 0; at < bytes.length;) {
    let lo = at + 18;
    // The shortest prefix from `at` that gunzips alone is one member.
    while (lo <= bytes.length) {
      try {
        gunzipSync(bytes.subarray(at, lo));
        break;
      } catch {
        lo++;
      }
    }
    at = lo;
    ends.push(at);
  }
  return ends;
}
