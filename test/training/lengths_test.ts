// --max-tokens N with --overflow error|drop|truncate: decideRecord() and render-dataset.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decideRecord, emptyPolicyCounts } from "../../src/dataset/record_policy.ts";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { readBack, withTmp } from "../dataset/_helpers.ts";

describe("decideRecord()", () => {
  const mask = Uint8Array.of(0, 0, 1, 1, 0, 1);
  test("within the limit: written whole", () => {
    const c = emptyPolicyCounts();
    assert.deepEqual(decideRecord(mask, 3, undefined, { maxTokens: 6 }, c), {
      action: "write",
      length: 6,
      trained: 3,
    });
  });
  test("error (default): fails with the length", () => {
    const c = emptyPolicyCounts();
    assert.deepEqual(decideRecord(mask, 3, undefined, { maxTokens: 4 }, c), {
      action: "fail",
      reason: "Cannot write record: 6 tokens, more than --max-tokens 4",
    });
    assert.equal(c.overflowFailed, 1);
  });
  test("drop: skipped and counted", () => {
    const c = emptyPolicyCounts();
    assert.deepEqual(decideRecord(mask, 3, undefined, { maxTokens: 4, overflow: "drop" }, c), {
      action: "skip",
    });
    assert.equal(c.overflowDropped, 1);
    assert.equal(c.skipped, 1);
  });
  test("truncate: tokens and mask cut together, trained ones recounted", () => {
    const c = emptyPolicyCounts();
    assert.deepEqual(decideRecord(mask, 3, undefined, { maxTokens: 4, overflow: "truncate" }, c), {
      action: "write",
      length: 4,
      trained: 2,
    });
    assert.equal(c.truncated, 1);
    assert.equal(c.truncatedTokens, 2);
  });
  test("truncation that leaves no trained token makes an untrained record", () => {
    const c = emptyPolicyCounts();
    const d = decideRecord(mask, 3, undefined, {
      maxTokens: 2,
      overflow: "truncate",
      skipUntrained: true,
    }, c);
    assert.deepEqual(d, { action: "skip" });
    assert.equal(c.untrained, 1);
    assert.equal(c.skippedUntrained, 1);
  });
});

const LONG = JSON.stringify({
  messages: [{ role: "user", content: "word ".repeat(200) }, {
    role: "assistant",
    content: "ok",
  }],
});
const SHORT = JSON.stringify({
  messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "ok" }],
});

describe("render-dataset --max-tokens", () => {
  test("error, drop and truncate", async () => {
    await withTmp(async (dir) => {
      const input = join(dir, "in.jsonl");
      writeFileSync(input, [SHORT, LONG, SHORT].join("\n") + "\n");
      const full = join(dir, "full");
      assert.equal(
        await main(
          ["render-dataset", input, "--out", full, "--output-format", "jsonl"],
          memoryHost(),
        ),
        0,
      );
      const rows = await readBack("jsonl", full);
      const max = rows[0].tokens.length + 10;
      assert.ok(rows[1].tokens.length > max);
      const run = async (overflow: string | undefined) => {
        const out = join(dir, overflow ?? "default");
        const host = memoryHost();
        const args = ["render-dataset", input, "--out", out, "--output-format", "jsonl"];
        args.push("--max-tokens", String(max));
        if (overflow) args.push("--overflow", overflow);
        const code = await main(args, host);
        return { code, out, err: host.err(), rows: await readBack("jsonl", out) };
      };
      const e = await run(undefined);
      assert.equal(e.code, 1);
      assert.equal(e.rows.length, 2);
      const [line] = readFileSync(`${e.out}.errors.jsonl`, "utf8").trim().split("\n");
      const rec = JSON.parse(line);
      assert.equal(rec.line, 2);
      assert.equal(
        rec.reason,
        `Cannot write record: ${rows[1].tokens.length} tokens, more than --max-tokens ${max}`,
      );
      assert.match(e.err, /1 too long/);

      const d = await run("drop");
      assert.equal(d.code, 0);
      assert.equal(d.rows.length, 2);
      assert.match(d.err, /2 written, 0 failed, 3 read, .*1 skipped \(1 too long\)/);

      const t = await run("truncate");
      assert.equal(t.code, 0);
      assert.equal(t.rows.length, 3);
      assert.deepEqual(t.rows[1].tokens, rows[1].tokens.slice(0, max));
      assert.deepEqual(t.rows[1].mask, rows[1].mask.slice(0, max));
      assert.deepEqual(t.rows[0], rows[0]);
      assert.match(t.err, /1 truncated/);
      // The truncated record is all prompt: it trains nothing, and is warned about.
      assert.match(t.err, /warning: 1 record has no trained token/);
    });
  });

  test("--max-tokens takes a positive integer", async () => {
    await withTmp(async (dir) => {
      const input = join(dir, "in.jsonl");
      writeFileSync(input, SHORT + "\n");
      const host = memoryHost();
      const args = ["render-dataset", input, "--out", join(dir, "o"), "--max-tokens", "0"];
      assert.equal(await main(args, host), 2);
      assert.match(host.err(), /--max-tokens takes a positive integer/);
    });
  });
});
