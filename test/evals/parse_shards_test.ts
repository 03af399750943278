// Contiguous shards of parse-dataset: merge of all shards is byte for byte the unsharded output,
// whose error texts name the global record and line and whose --emit ids carry the record index.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
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

  test(".jsonl.gz: n = 1..4 shards merge byte-identical to the unsharded gzip output", {
    timeout: 120_000,
  }, async () => {
    await withTmp(async (dir) => {
      const { lines } = buildInput();
      const inputs = writeInputs(dir, lines);
      const options = { inputs, batchSize: 5 };
      await parseDataset({ ...options, tokenizer, out: join(dir, "whole.jsonl.gz") });
      const whole = readFileSync(join(dir, "whole.jsonl.gz"));
      for (let n = 1; n <= 4; n++) {
        const prefixes: string[] = [];
        for (let i = 0; i < n; i++) {
          const shard = { index: i, count: n };
          const prefix = join(dir, `g${n}${shardTag(shard)}`);
          await parseDataset({ ...options, tokenizer, shard, out: `${prefix}.jsonl.gz` });
          prefixes.push(prefix);
        }
        const m = await mergeDatasets(prefixes, join(dir, `m${n}`));
        assert.equal(m.format, "jsonl.gz");
        const merged = readFileSync(join(dir, `m${n}.jsonl.gz`));
        assert.ok(merged.equals(whole), `${n} shards: ${merged.length} vs ${whole.length} bytes`);
      }
      // An unsharded run also ends a gzip member at each checkpoint: the merge cannot know where
      // they fell, so only the decompressed content is the same then.
      await parseDataset({
        ...options,
        tokenizer,
        checkpointEvery: 7,
        out: join(dir, "cp.jsonl.gz"),
      });
      const cp = readFileSync(join(dir, "cp.jsonl.gz"));
      assert.ok(!cp.equals(whole), "checkpoints cut gzip members");
      assert.ok(gunzipSync(cp).equals(gunzipSync(whole)));
    });
  });

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
          /^Cannot merge .*g\.shard-00001-of-00003: it is truncated or inconsistent \(.*g\.shard-00001-of-00003\.jsonl\.gz is not a whole gzip stream/,
      });
      assert.equal(existsSync(join(dir, "m.jsonl.gz")), false);
      assert.equal(existsSync(join(dir, "m.jsonl.gz.tmp")), false);
    });
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
