import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  readdirSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { FIXTURES, nonBlankLines, withTmp } from "./_helpers.ts";

const GLAIVE = join(FIXTURES, "glaive_excerpt.jsonl");

/** Renders GLAIVE as `n` shards of `format` under `dir/t`; returns the shard files. */
async function shards(dir: string, format: string, n = 2): Promise<string[]> {
  for (let i = 0; i < n; i++) {
    const args = ["render-dataset", GLAIVE, "--out", join(dir, "t"), "--output-format", format];
    const code = await main([...args, "--shard", `${i}/${n}`, "--workers", "1"], memoryHost());
    assert.equal(code, 0);
  }
  return readdirSync(dir).filter((f) => f.startsWith("t.shard-")).sort().map((f) => join(dir, f));
}

async function merge(files: string[], out: string): Promise<{ code: number; err: string }> {
  const host = memoryHost();
  const code = await main(["merge", ...files, "--out", out], host);
  return { code, err: host.err() };
}

describe("harmony merge checks its inputs before writing", () => {
  const cuts: Array<[string, string, number]> = [
    ["megatron", ".bin", 4],
    ["megatron", ".loss_mask.bin", 1],
    ["megatron", ".loss_mask.idx", 8],
    ["bin", ".bin", 4],
    ["bin", ".loss_mask.bin", 1],
    ["bin", ".idx", 8],
  ];
  for (const [format, file, bytes] of cuts) {
    test(`${format}: a shard whose ${file} lost ${bytes} bytes is refused with exit 3, naming it`, async () => {
      await withTmp(async (dir) => {
        const files = await shards(dir, format);
        const victim = join(dir, `t.shard-00001-of-00002${file}`);
        truncateSync(victim, statSync(victim).size - bytes);
        const { code, err } = await merge(files, join(dir, "all"));
        assert.equal(code, 3, err);
        assert.match(
          err,
          /Cannot merge .*t\.shard-00001-of-00002: it is truncated or inconsistent/,
        );
        assert.equal(existsSync(join(dir, "all.bin")), false);
        assert.equal(existsSync(join(dir, "all.idx")), false);
      });
    });
  }

  test("parquet: a shard cut short is refused with exit 3, naming it; nothing is written", async () => {
    await withTmp(async (dir) => {
      const files = await shards(dir, "parquet");
      const ok = await merge(files, join(dir, "all"));
      assert.equal(ok.code, 0, ok.err);
      assert.match(ok.err, /^merge: 2 parquet datasets → \d+ records, /);
      const victim = join(dir, "t.shard-00001-of-00002.parquet");
      truncateSync(victim, statSync(victim).size - 9);
      const { code, err } = await merge(files, join(dir, "again"));
      assert.equal(code, 3, err);
      assert.match(
        err,
        /Cannot merge .*t\.shard-00001-of-00002: it is truncated or inconsistent \(.*t\.shard-00001-of-00002\.parquet has no readable footer/,
      );
      assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith("again")), []);
    });
  });

  test("parquet: a missing shard is refused with exit 2, naming it", async () => {
    await withTmp(async (dir) => {
      const files = await shards(dir, "parquet", 3);
      const kept = files.filter((f) => !f.includes("t.shard-00002-of-00003"));
      const { code, err } = await merge(kept, join(dir, "all"));
      assert.equal(code, 2, err);
      assert.match(err, /shard .*t\.shard-00002-of-00003 is missing \(2 of 3 given\)/);
    });
  });

  test("a missing shard of -of-N is refused with exit 2, naming it", async () => {
    await withTmp(async (dir) => {
      const files = await shards(dir, "bin", 3);
      const kept = files.filter((f) => !f.includes("t.shard-00001-of-00003"));
      const { code, err } = await merge(kept, join(dir, "all"));
      assert.equal(code, 2, err);
      assert.match(err, /shard .*t\.shard-00001-of-00003 is missing \(2 of 3 given\)/);
      assert.equal(existsSync(join(dir, "all.bin")), false);
    });
  });

  test("a shard with a checkpoint (a run writing it or interrupted) is refused with exit 3", async () => {
    await withTmp(async (dir) => {
      const files = await shards(dir, "megatron");
      writeFileSync(join(dir, "t.shard-00000-of-00002.checkpoint.json"), "{}");
      const { code, err } = await merge(files, join(dir, "all"));
      assert.equal(code, 3, err);
      assert.match(err, /t\.shard-00000-of-00002: it is incomplete/);
    });
  });

  test("jsonl shards merge in order; a shard cut mid-line is refused", async () => {
    await withTmp(async (dir) => {
      const files = await shards(dir, "jsonl");
      const { code, err } = await merge(files, join(dir, "all"));
      assert.equal(code, 0, err);
      const lines = nonBlankLines(join(dir, "all.jsonl"));
      assert.equal(lines.length, nonBlankLines(GLAIVE).length);
      assert.match(err, new RegExp(`^merge: 2 jsonl datasets → ${lines.length} records → `));
      unlinkSync(join(dir, "all.jsonl"));
      const victim = join(dir, "t.shard-00000-of-00002.jsonl");
      truncateSync(victim, statSync(victim).size - 3);
      const cut = await merge(files, join(dir, "all"));
      assert.equal(cut.code, 3, cut.err);
      assert.match(cut.err, /t\.shard-00000-of-00002\.jsonl does not end with a newline/);
    });
  });
});
