// Contiguous shards (src/dataset/shard.ts, InputShard in src/dataset/readers.ts): shard i of n
// reads only its byte range, places its records lazily, and merge of all shards is byte for byte
// the unsharded run, for every output format merge handles.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import { ByteWriter, parquetWrite } from "hyparquet-writer";
import { conversationFromJson } from "../../src/chat/json.ts";
import { renderDataset, type RenderDatasetOptions } from "../../src/dataset/pipeline.ts";
import { loadTrainingRenderer } from "../../src/dataset/training_renderer.ts";
import { outputFiles, type OutputFormat } from "../../src/dataset/writers.ts";
import { parquetMetadataAsync } from "hyparquet";
import {
  countLines,
  fileAsyncBuffer,
  type InputRecord,
  InputShard,
  readRecords,
} from "../../src/dataset/readers.ts";
import { shardPrefix, shardRange } from "../../src/dataset/shard.ts";
import { mergeDatasets } from "../../src/dataset/merge.ts";
import { manifestPath } from "../../src/dataset/shard_manifest.ts";
import { isBlankLine, readLines } from "../../src/io/lines.ts";
import { FIXTURES, withTmp } from "./_helpers.ts";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";

// Worker threads and n = 1..5 runs take seconds on a busy machine: Bun's node:test default is 5 s.
const renderBatch = await loadTrainingRenderer();
const MIXED = join(FIXTURES, "mixed.jsonl");
const GLAIVE = join(FIXTURES, "glaive_excerpt.jsonl");

function run(options: Partial<RenderDatasetOptions> & { inputs: string[]; prefix: string }) {
  return renderDataset({ toConversation: conversationFromJson, renderBatch, ...options });
}

const enc = new TextEncoder();

/**
 * Inputs with everything a shard boundary can meet: a BOM, CRLF, blank and whitespace lines, an
 * invalid UTF-8 line, mapping errors, a long line, a file without a final newline, a gzip file,
 * and a Parquet file of four row groups.
 */
function writeInputs(dir: string): string[] {
  const mixed = readFileSync(MIXED, "utf8").trimEnd().split("\n");
  const glaive = readFileSync(GLAIVE, "utf8").trimEnd().split("\n");
  const a = join(dir, "a.jsonl");
  const crlf = ["", ...mixed.slice(0, 4), "  \t", "", ...mixed.slice(4), "\r"].join("\r\n");
  writeFileSync(
    a,
    new Uint8Array([
      0xef,
      0xbb,
      0xbf,
      ...enc.encode(crlf + "\r\n"),
      0x7b,
      0xff,
      0x7d,
      0x0a, // `{\xff}`: not UTF-8, a record that fails
      ...enc.encode('{"messages": [{"role": "wizard", "content": "x"}]}\n\n'),
    ]),
  );
  const b = join(dir, "b.jsonl.gz");
  writeFileSync(b, gzipSync(enc.encode(glaive.slice(0, 6).join("\n") + "\n\n")));
  const c = join(dir, "c.parquet");
  const rows = Array.from({ length: 10 }, (_, i) => [
    { role: "user", content: `question ${i} ${"x".repeat(i * 7)}` },
    { role: "assistant", content: i === 6 ? null : `answer ${i}` },
  ]);
  const writer = new ByteWriter();
  parquetWrite({
    writer,
    columnData: [{ name: "messages", data: rows }],
    schema: [
      { name: "root", num_children: 1 },
      { name: "messages", repetition_type: "REQUIRED", converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      { name: "element", repetition_type: "REQUIRED", num_children: 2 },
      { name: "role", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
      { name: "content", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
    ],
    rowGroupSize: 3,
  });
  writeFileSync(c, writer.getBytes());
  const d = join(dir, "d.jsonl");
  const long = JSON.stringify({
    messages: [{ role: "user", content: "y".repeat(3000) }, { role: "assistant", content: "ok" }],
  });
  writeFileSync(d, [glaive[6] ?? glaive[0], "", long, "not json", glaive[1]].join("\n"));
  return [a, b, c, d];
}

/** A record as the whole read gives it: where it is and what it holds. */
function key(rec: InputRecord, at = { index: rec.index, line: rec.line }): string {
  return JSON.stringify([
    at.index,
    rec.fileIndex,
    at.line,
    rec.byteOffset,
    rec.text,
    rec.error,
    rec.value,
  ]);
}

async function wholeKeys(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const rec of readRecords(paths)) out.push(key(rec));
  return out;
}

describe("contiguous shards: reading", () => {
  test("countLines() counts lines and records as readLines() and the blank-line rule do", {
    timeout: 120_000,
  }, async () => {
    // A seeded generator over the bytes that matter: newline, CR, blanks, BOM bytes, text, invalid.
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = [0x0a, 0x0d, 0x20, 0x09, 0xef, 0xbb, 0xbf, 0x7b, 0x80];
    for (let t = 0; t < 3000; t++) {
      // Lengths from 0: inputs under three bytes are where readLines decides about a BOM late.
      const bytes = new Uint8Array(rand(17)).map(() => alphabet[rand(alphabet.length)]);
      if (bytes.length >= 3 && rand(3) === 0) bytes.set([0xef, 0xbb, 0xbf]);
      let lines = 0;
      let records = 0;
      for await (const l of readLines([bytes])) {
        lines++;
        if (l.error !== undefined || !isBlankLine(l.text)) records++;
      }
      const size = 1 + rand(4);
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      assert.deepEqual(await countLines(chunks), { lines, records }, `bytes ${[...bytes]}`);
    }
  });

  test("readLines() splits inputs shorter than a BOM at newlines too", async () => {
    const read = async (text: string) => {
      const out: Array<[number, number, string]> = [];
      for await (const l of readLines([new TextEncoder().encode(text)])) {
        out.push([l.number, l.offset, l.text]);
      }
      return out;
    };
    assert.deepEqual(await read("\n "), [[1, 0, ""], [2, 1, " "]]);
    assert.deepEqual(await read("a\n"), [[1, 0, "a"]]);
    assert.deepEqual(await read("\n\n"), [[1, 0, ""], [2, 1, ""]]);
    assert.deepEqual(await read("ab"), [[1, 0, "ab"]]);
  });

  test("n = 1..5 shards: their records, placed by locate(), are the whole read's, in order", {
    timeout: 120_000,
  }, async () => {
    await withTmp(async (dir) => {
      const inputs = writeInputs(dir);
      const whole = await wholeKeys(inputs);
      for (let n = 1; n <= 5; n++) {
        const got: string[] = [];
        for (let i = 0; i < n; i++) {
          const input = await InputShard.open(inputs, { index: i, count: n });
          for await (const rec of input.records({ chunkSize: 7 })) {
            got.push(key(rec, await input.locate(rec)));
          }
        }
        assert.deepEqual(got, whole, `${n} shards`);
      }
    });
  });

  test("shard i reads only its byte range plus the line crossing its end; locate() scans once", {
    timeout: 120_000,
  }, async () => {
    await withTmp(async (dir) => {
      const path = join(dir, "big.jsonl");
      const lines = Array.from(
        { length: 400 },
        (_, i) => JSON.stringify({ i, pad: "p".repeat(i % 50) }),
      );
      writeFileSync(path, lines.join("\n") + "\n");
      const size = statSync(path).size;
      const longest = Math.max(...lines.map((l) => l.length + 1));
      const chunk = 64;
      let total = 0;
      const n = 4;
      for (let i = 0; i < n; i++) {
        const input = await InputShard.open([path], { index: i, count: n });
        const range = shardRange(size, { index: i, count: n });
        let bytes = 0;
        let last: InputRecord | undefined;
        for await (const rec of input.records({ chunkSize: chunk, onBytes: (b) => bytes += b })) {
          last = rec;
        }
        assert.ok(
          bytes <= range.end - range.start + 1 + longest + chunk,
          `shard ${i} read ${bytes} bytes of a ${range.end - range.start}-byte range`,
        );
        total += bytes;
        assert.equal(input.scannedBytes, 0, "no scan before a position is asked for");
        const at = await input.locate(last!);
        assert.equal(lines[at.index], last!.text);
        assert.equal(at.line, at.index + 1);
        const scanned = input.scannedBytes;
        // The scan reads up to the range, then finishes the line crossing it in chunks from 4 KiB.
        assert.ok(scanned <= range.start + longest + 8192, `scan of ${scanned} bytes`);
        await input.locate(last!);
        assert.equal(input.scannedBytes, scanned, "the scan is cached");
      }
      // Every shard reading everything would be n × size.
      assert.ok(
        total <= size + n * (longest + chunk + 1),
        `${total} bytes for a ${size}-byte input`,
      );
    });
  });

  test("sharding a pipe is refused with a clear error", { timeout: 120_000 }, async (t) => {
    await withTmp(async (dir) => {
      const fifo = join(dir, "pipe");
      try {
        execFileSync("mkfifo", [fifo]);
      } catch {
        t.skip("mkfifo is not available");
        return;
      }
      await assert.rejects(InputShard.open([fifo], { index: 0, count: 2 }), {
        name: "RangeError",
        message: /^Cannot shard ".*": it is a pipe, whose size is unknown/,
      });
    });
  });
});

async function renderShards(
  inputs: string[],
  base: string,
  n: number,
  format: OutputFormat,
  extra: Partial<RenderDatasetOptions> = {},
): Promise<string[]> {
  const prefixes: string[] = [];
  for (let i = 0; i < n; i++) {
    const prefix = shardPrefix(base, { index: i, count: n });
    await run({ ...extra, inputs, prefix, outputFormat: format, shard: { index: i, count: n } });
    prefixes.push(prefix);
  }
  return prefixes;
}

function sameFiles(a: string, b: string, format: OutputFormat, what: string) {
  for (const suffix of [...outputFiles(format, "").map((f) => f), ".errors.jsonl"]) {
    const x = readFileSync(a + suffix);
    const y = readFileSync(b + suffix);
    assert.ok(
      Buffer.compare(x, y) === 0,
      `${what}: ${suffix} differs (${x.length} vs ${y.length} bytes)`,
    );
  }
}

describe("contiguous shards: render-dataset + merge", () => {
  for (const format of ["megatron", "bin", "jsonl"] as const) {
    test(
      `${format}: merge of n = 1..5 shards is byte-identical to the unsharded run, errors file too`,
      { timeout: 120_000 },
      async () => {
        await withTmp(async (dir) => {
          const inputs = writeInputs(dir);
          const whole = join(dir, "whole");
          const s = await run({ inputs, prefix: whole, outputFormat: format });
          assert.ok(s.failed >= 3, "the inputs hold failing records");
          for (let n = 1; n <= 5; n++) {
            const prefixes = await renderShards(inputs, join(dir, `t${n}`), n, format);
            if (n > 1) assert.ok(existsSync(manifestPath(prefixes[0])));
            const merged = join(dir, `m${n}`);
            await mergeDatasets(prefixes, merged);
            sameFiles(merged, whole, format, `${n} shards`);
          }
        });
      },
    );
  }

  test(
    "parquet: merge of n = 1..4 shards is byte-identical to the unsharded run, whatever the checkpoints",
    {
      timeout: 180_000,
    },
    async () => {
      await withTmp(async (dir) => {
        const inputs = writeInputs(dir);
        const whole = join(dir, "whole");
        // Checkpoints every 4 records, row groups of 5 rows: the unsharded run's checkpoints fall
        // inside row groups, and the shards' checkpoints elsewhere than the unsharded run's.
        const extra = { rowGroupRows: 5, checkpointEvery: 4 };
        const s = await run({ ...extra, inputs, prefix: whole, outputFormat: "parquet" });
        assert.ok(s.failed >= 3, "the inputs hold failing records");
        const groups = await rowGroups(`${whole}.parquet`);
        assert.ok(groups.length >= 4 && groups.slice(0, -1).every((n) => n === 5), `${groups}`);
        let short = false;
        for (let n = 1; n <= 4; n++) {
          const prefixes = await renderShards(inputs, join(dir, `t${n}`), n, "parquet", extra);
          for (const p of prefixes) {
            const rows = (await rowGroups(`${p}.parquet`)).reduce((a, b) => a + b, 0);
            if (rows > 0 && rows < 5) short = true;
          }
          const merged = join(dir, `m${n}`);
          // One shard is an unsharded run: no manifest says its row-group size.
          const m = await mergeDatasets(prefixes, merged, n === 1 ? { rowGroupRows: 5 } : {});
          assert.equal(m.records, s.written);
          sameFiles(merged, whole, "parquet", `${n} shards`);
        }
        assert.ok(short, "some shard holds fewer rows than a row group");
      });
    },
  );

  test("parquet: one gzip file in three shards (two empty) merges to the unsharded run", {
    timeout: 120_000,
  }, async () => {
    await withTmp(async (dir) => {
      const gz = writeInputs(dir)[1];
      const whole = join(dir, "whole");
      await run({ inputs: [gz], prefix: whole, outputFormat: "parquet", rowGroupRows: 4 });
      const prefixes = await renderShards([gz], join(dir, "t"), 3, "parquet", { rowGroupRows: 4 });
      const rows = await Promise.all(prefixes.map((p) => rowGroups(`${p}.parquet`)));
      assert.deepEqual(rows.map((g) => g.length > 0), [true, false, false]);
      await mergeDatasets(prefixes, join(dir, "m"));
      sameFiles(join(dir, "m"), whole, "parquet", "3 shards of one gzip file");
    });
  });

  test(
    "merge --stats: the shards' --stats files (one per shard) sum to the unsharded run's (n = 1..4)",
    {
      timeout: 180_000,
    },
    async () => {
      await withTmp(async (dir) => {
        const inputs = writeInputs(dir);
        const cli = async (args: string[]) => {
          const host = memoryHost();
          const code = await main(args, host);
          assert.ok(code === 0 || code === 1, host.err());
        };
        const common = [
          "--output-format",
          "bin",
          "--workers",
          "1",
          "--max-tokens",
          "300",
          "--overflow",
          "drop",
        ];
        const whole = join(dir, "whole.json");
        await cli([
          "render-dataset",
          ...inputs,
          "--out",
          join(dir, "w"),
          "--stats",
          whole,
          ...common,
        ]);
        const expected = readFileSync(whole, "utf8");
        const parsed = JSON.parse(expected);
        assert.ok(parsed.records.failed >= 3 && parsed.length.dropped >= 1, expected);
        for (let n = 1; n <= 4; n++) {
          const stats = join(dir, `s${n}.json`);
          const base = join(dir, `t${n}`);
          for (let i = 0; i < n; i++) {
            await cli([
              "render-dataset",
              ...inputs,
              "--out",
              base,
              "--stats",
              stats,
              "--shard",
              `${i}/${n}`,
              ...common,
            ]);
          }
          // Shards do not write over each other's stats: each has its own file.
          if (n > 1) {
            assert.ok(!existsSync(stats));
            assert.ok(existsSync(join(dir, `s${n}.shard-0000${n - 1}-of-0000${n}.json`)));
          }
          const prefixes = Array.from(
            { length: n },
            (_, i) => shardPrefix(base, { index: i, count: n }),
          );
          await cli(["merge", ...prefixes, "--out", join(dir, `m${n}`), "--stats", stats]);
          assert.equal(readFileSync(stats, "utf8"), expected, `${n} shards`);
        }
        // A shard's stats file missing: refused, naming it, before anything is merged.
        rmSync(join(dir, "s3.shard-00001-of-00003.json"));
        const host = memoryHost();
        const three = [0, 1, 2].map((i) => shardPrefix(join(dir, "t3"), { index: i, count: 3 }));
        const args = ["merge", ...three, "--out", join(dir, "x"), "--stats", join(dir, "s3.json")];
        assert.equal(await main(args, host), 2);
        assert.match(
          host.err(),
          /s3\.shard-00001-of-00003\.json \(a shard's stats file\) is missing/,
        );
        assert.ok(!existsSync(join(dir, "x.bin")));
      });
    },
  );

  test("one gzip file in three shards: two shards are empty, and the merge is the unsharded run", {
    timeout: 120_000,
  }, async () => {
    await withTmp(async (dir) => {
      const gz = writeInputs(dir)[1];
      const whole = join(dir, "whole");
      await run({ inputs: [gz], prefix: whole, outputFormat: "megatron" });
      const prefixes = await renderShards([gz], join(dir, "t"), 3, "megatron");
      assert.deepEqual(prefixes.map((p) => statSync(`${p}.bin`).size > 0), [true, false, false]);
      await mergeDatasets(prefixes, join(dir, "m"));
      sameFiles(join(dir, "m"), whole, "megatron", "3 shards of one gzip file");
    });
  });

  test("shards rendered by worker threads merge to the single-thread unsharded run", {
    timeout: 120_000,
  }, async () => {
    await withTmp(async (dir) => {
      const inputs = writeInputs(dir);
      const whole = join(dir, "whole");
      await run({ inputs, prefix: whole, outputFormat: "bin" });
      const prefixes: string[] = [];
      for (let i = 0; i < 3; i++) {
        const shard = { index: i, count: 3 };
        const prefix = shardPrefix(join(dir, "t"), shard);
        await run({ inputs, prefix, outputFormat: "bin", shard, workers: 2, batchSize: 2 });
        prefixes.push(prefix);
      }
      await mergeDatasets(prefixes, join(dir, "m"));
      sameFiles(join(dir, "m"), whole, "bin", "3 shards, 2 workers each");
    });
  });

  test("a shard resumed from a checkpoint inside its range equals the clean shard", {
    timeout: 120_000,
  }, async () => {
    await withTmp(async (dir) => {
      const inputs = writeInputs(dir);
      const shard = { index: 1, count: 3 };
      const clean = join(dir, "clean");
      await run({ inputs, prefix: clean, outputFormat: "bin", shard });
      const cut = join(dir, "cut");
      const stop = new AbortController();
      const first = await run({
        inputs,
        prefix: cut,
        outputFormat: "bin",
        shard,
        batchSize: 1,
        checkpointEvery: 2,
        signal: stop.signal,
        onProgress: (p) => {
          if (p.read >= 3) stop.abort();
        },
      });
      assert.equal(first.interrupted, true);
      // The checkpoint's position lies inside the shard's byte range.
      const cp = JSON.parse(readFileSync(`${cut}.checkpoint.json`, "utf8"));
      const sizes = inputs.map((f) => statSync(f).size);
      const range = shardRange(sizes.reduce((a, b) => a + b), shard);
      const at = sizes.slice(0, cp.position.fileIndex).reduce((a, b) => a + b, 0) +
        cp.position.offset;
      assert.ok(cp.position.records > 0 && at >= range.start && at < range.end, `at ${at}`);
      const second = await run({ inputs, prefix: cut, outputFormat: "bin", shard, resume: true });
      assert.equal(second.interrupted, false);
      sameFiles(cut, clean, "bin", "resumed shard");
    });
  });
});

describe("contiguous shards: merge checks the shards' settings", () => {
  test("render-dataset --shard over a pipe is a usage error (exit 2), not a partial shard", {
    timeout: 120_000,
  }, async (t) => {
    await withTmp(async (dir) => {
      const fifo = join(dir, "pipe");
      try {
        execFileSync("mkfifo", [fifo]);
      } catch {
        t.skip("mkfifo is not available");
        return;
      }
      const host = memoryHost();
      const code = await main(
        ["render-dataset", fifo, "--out", join(dir, "o"), "--shard", "0/2", "--backend", "cpu"],
        host,
      );
      assert.equal(code, 2, host.err());
      assert.match(host.err(), /Cannot shard ".*": it is a pipe, whose size is unknown/);
    });
  });

  test(
    "merge refuses shards made with other settings, out of order, or without a manifest (exit 3)",
    { timeout: 120_000 },
    async () => {
      await withTmp(async (dir) => {
        const inputs = writeInputs(dir);
        const base = join(dir, "t");
        const p0 = shardPrefix(base, { index: 0, count: 2 });
        const p1 = shardPrefix(base, { index: 1, count: 2 });
        await run({ inputs, prefix: p0, outputFormat: "jsonl", shard: { index: 0, count: 2 } });
        await run({
          inputs,
          prefix: p1,
          outputFormat: "jsonl",
          shard: { index: 1, count: 2 },
          trainOn: "final",
        });
        const merge = async (...args: string[]) => {
          const host = memoryHost();
          const code = await main(["merge", ...args, "--out", join(dir, "m")], host);
          return { code, err: host.err() };
        };
        const r = await merge(p0, p1);
        assert.equal(r.code, 3);
        assert.match(
          r.err,
          /Cannot merge: .*t\.shard-00001-of-00002 was made with other settings than .*t\.shard-00000-of-00002/,
        );
        assert.equal(existsSync(join(dir, "m.jsonl")), false);
        await run({ inputs, prefix: p1, outputFormat: "jsonl", shard: { index: 1, count: 2 } });
        const swapped = await merge(p1, p0);
        assert.equal(swapped.code, 3);
        assert.match(swapped.err, /shard 1\/2 but given as input 1 \(give the shards in order\)/);
        writeFileSync(inputs[3], readFileSync(inputs[3], "utf8") + "\n{}");
        await run({ inputs, prefix: p1, outputFormat: "jsonl", shard: { index: 1, count: 2 } });
        const other = await merge(p0, p1);
        assert.equal(other.code, 3);
        assert.match(other.err, /was made with other inputs than/);
        rmSync(manifestPath(p0));
        const bare = await merge(p0, p1);
        assert.equal(bare.code, 3);
        assert.match(bare.err, /t\.shard-00000-of-00002 has no .*\.shard\.json \(.*has one\)/);
        assert.equal(existsSync(join(dir, "m.jsonl")), false);
      });
    },
  );
});

/** The row counts of a Parquet file's row groups. */
async function rowGroups(path: string): Promise<number[]> {
  const file = await fileAsyncBuffer(path);
  try {
    return (await parquetMetadataAsync(file)).row_groups.map((g) => Number(g.num_rows));
  } finally {
    await file.close();
  }
}
