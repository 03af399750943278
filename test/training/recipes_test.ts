// Trainer recipes (docs/render-dataset.md): the Megatron-LM dataset class and the NumPy lines
// for the bin format run in python3 against files render-dataset wrote (skipped, with the reason
// printed, without python3 + numpy); TRL's mask column name with --mask-column.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parquetMetadataAsync } from "hyparquet";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { fileAsyncBuffer } from "../../src/dataset/readers.ts";
import { FIXTURES, readBack, withTmp } from "../dataset/_helpers.ts";

const SCRIPT = fileURLToPath(new URL("./recipes/megatron_recipe.py", import.meta.url));
const GLAIVE = join(FIXTURES, "glaive_excerpt.jsonl");

function pythonSkip(): string | false {
  const r = spawnSync("python3", ["-c", "import numpy"], { encoding: "utf8" });
  if (r.error) return "python3 not found (Debian: apt install python3-numpy)";
  if (r.status !== 0) return "numpy not importable by python3 (Debian: apt install python3-numpy)";
  return false;
}
const skip = pythonSkip();
if (skip) console.log(`recipes_test: skipping the Python recipe: ${skip}`);

async function render(dir: string, format: string, extra: string[] = []): Promise<string> {
  const out = join(dir, format);
  const host = memoryHost();
  const args = ["render-dataset", GLAIVE, "--out", out, "--output-format", format, ...extra];
  assert.equal(await main(args, host), 0, host.err());
  return out;
}

describe("trainer recipes", () => {
  test("Megatron IndexedDataset class and the bin NumPy lines read render-dataset's files", {
    skip,
  }, async () => {
    await withTmp(async (dir) => {
      const jsonl = await render(dir, "jsonl");
      const megatron = await render(dir, "megatron");
      const bin = await render(dir, "bin");
      const expected = join(dir, "expected.json");
      const rows = await readBack("jsonl", jsonl);
      writeFileSync(
        expected,
        JSON.stringify(rows.map((r) => ({ input_ids: r.tokens, loss_mask: r.mask }))),
      );
      const r = spawnSync("python3", [SCRIPT, megatron, bin, expected], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`^megatron \\(.*\\): ${rows.length} records ok$`, "m"));
      assert.match(r.stdout, /^bin: \d+ tokens ok$/m);
    });
  });

  test("the recipe script fails on a mismatch (it is a real check)", { skip }, async () => {
    await withTmp(async (dir) => {
      const jsonl = await render(dir, "jsonl");
      const megatron = await render(dir, "megatron");
      const bin = await render(dir, "bin");
      const rows = await readBack("jsonl", jsonl);
      rows[0].mask[rows[0].mask.length - 1] ^= 1;
      const expected = join(dir, "expected.json");
      writeFileSync(
        expected,
        JSON.stringify(rows.map((r) => ({ input_ids: r.tokens, loss_mask: r.mask }))),
      );
      const r = spawnSync("python3", [SCRIPT, megatron, bin, expected], { encoding: "utf8" });
      assert.equal(r.status, 1);
      assert.match(r.stdout, /MISMATCH/);
    });
  });

  test("--mask-column assistant_masks names the mask column TRL's collator applies", async () => {
    await withTmp(async (dir) => {
      const plain = await readBack("jsonl", await render(dir, "jsonl"));
      const out = await render(join(dir, "t"), "jsonl", ["--mask-column", "assistant_masks"]);
      const lines = readFileSync(`${out}.jsonl`, "utf8").trim().split("\n");
      lines.forEach((l, i) => {
        const r = JSON.parse(l);
        assert.deepEqual(Object.keys(r), ["input_ids", "assistant_masks"]);
        assert.deepEqual(r.assistant_masks, plain[i].mask);
      });
      const pq = await render(join(dir, "p"), "parquet", ["--mask-column", "assistant_masks"]);
      const file = await fileAsyncBuffer(`${pq}.parquet`);
      try {
        const meta = await parquetMetadataAsync(file);
        const names = meta.schema.filter((e) => e.num_children === 1 && e.name !== "list")
          .map((e) => e.name);
        assert.deepEqual(names, ["input_ids", "assistant_masks"]);
      } finally {
        await file.close();
      }
      const bad = memoryHost();
      const args = ["render-dataset", GLAIVE, "--out", join(dir, "x"), "--mask-column", "a b"];
      assert.equal(await main(args, bad), 2);
    });
  });
});
