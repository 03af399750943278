import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { FIXTURES, nonBlankLines, readBack, withTmp } from "./_helpers.ts";
import { gpuSkip } from "../gpu/gpu_env.ts";

const MIXED = join(FIXTURES, "mixed.jsonl");
const GLAIVE = join(FIXTURES, "glaive_excerpt.jsonl");

describe("harmony render-dataset", () => {
  test("writes a Megatron dataset by default, exits 1 when records failed, prints one summary line", async () => {
    await withTmp(async (dir) => {
      const host = memoryHost();
      // No log-progress lines (a loaded machine can take over 10 s): only the summary.
      const args = [
        "render-dataset",
        MIXED,
        "--out",
        join(dir, "sub/train"),
        "--progress-every",
        "0",
      ];
      const code = await main(args, host);
      assert.equal(code, 1);
      assert.match(
        host.err(),
        /^render-dataset: 5 written, 2 failed, 7 read, .* tokens \(.* trained\), .* → .*train\.bin \(errors: .*train\.errors\.jsonl\)\n$/,
      );
      assert.deepEqual(readdirSync(join(dir, "sub")).sort(), [
        "train.bin",
        "train.errors.jsonl",
        "train.idx",
        "train.loss_mask.bin",
        "train.loss_mask.idx",
      ]);
      assert.equal((await readBack("megatron", join(dir, "sub/train"))).length, 5);
    });
  });

  test("--shard from Slurm array variables names the shard's prefix; merge joins the shards", async () => {
    await withTmp(async (dir) => {
      const out = join(dir, "t");
      for (let i = 0; i < 2; i++) {
        const env = {
          SLURM_ARRAY_TASK_ID: String(i + 1),
          SLURM_ARRAY_TASK_MIN: "1",
          SLURM_ARRAY_TASK_COUNT: "2",
        };
        const host = memoryHost("", env);
        assert.equal(
          await main(["render-dataset", GLAIVE, "--out", out, "--output-format", "bin"], host),
          0,
        );
      }
      const files = readdirSync(dir).sort();
      assert.ok(files.includes("t.shard-00000-of-00002.bin"));
      assert.ok(files.includes("t.shard-00001-of-00002.idx"));
      const host = memoryHost();
      const code = await main(["merge", ...files.map((f) => join(dir, f)), "--out", out], host);
      assert.equal(code, 0);
      assert.match(host.err(), /^merge: 2 bin datasets → 21 records, /);
      assert.equal((await readBack("bin", out)).length, nonBlankLines(GLAIVE).length);
    });
  });

  test("JOB_COMPLETION_INDEX needs --shard-count", async () => {
    const host = memoryHost("", { JOB_COMPLETION_INDEX: "0" });
    assert.equal(await main(["render-dataset", GLAIVE, "--out", "/nonexistent/x"], host), 2); // a usage error (#11)
    assert.match(host.err(), /Cannot use JOB_COMPLETION_INDEX: the shard count is unknown/);
  });

  test("--input-format harmony keeps channel-less assistant messages; --no-system adds none", async () => {
    await withTmp(async (dir) => {
      const host = memoryHost();
      const args = ["render-dataset", join(FIXTURES, "mixed.jsonl"), "--out", join(dir, "h")];
      await main(
        [...args, "--input-format", "harmony", "--no-system", "--output-format", "jsonl"],
        host,
      );
      const first = JSON.parse(readFileSync(join(dir, "h.jsonl"), "utf8").split("\n")[0]);
      assert.equal(first.input_ids[0], 200006); // <|start|>
      assert.equal(first.input_ids[1], 1428); // user: no system message first
    });
  });

  test(
    "--backend gpu writes the same bytes as --backend cpu",
    { skip: gpuSkip, timeout: 300_000 },
    async () => {
      await withTmp(async (dir) => {
        for (const b of ["cpu", "gpu"]) {
          const host = memoryHost();
          const args = ["render-dataset", GLAIVE, "--out", join(dir, b), "--backend", b];
          assert.equal(await main(args, host), 0, host.err());
          assert.match(host.err(), b === "gpu" ? /, gpu \(/ : /, cpu → /);
        }
        for (const ext of [".bin", ".idx", ".loss_mask.bin", ".loss_mask.idx"]) {
          assert.ok(
            readFileSync(join(dir, `gpu${ext}`)).equals(readFileSync(join(dir, `cpu${ext}`))),
            ext,
          );
        }
      });
    },
  );

  test("--keep-analysis keeps the analysis message the reference's training rendering drops", async () => {
    await withTmp(async (dir) => {
      const rows: number[][] = [];
      for (const extra of [["--analysis", "reference"], ["--keep-analysis"]]) {
        const out = join(dir, `k${rows.length}`);
        const args = [
          "render-dataset",
          MIXED,
          "--out",
          out,
          "--output-format",
          "jsonl",
          "--backend",
          "cpu",
        ];
        await main([...args, ...extra], memoryHost());
        rows.push((await readBack("jsonl", out))[0].tokens);
      }
      // Record 0 is user → analysis → final: the reference drops analysis before the first final.
      assert.ok(rows[1].length > rows[0].length);
      assert.deepEqual(rows[1].slice(-5), rows[0].slice(-5));
    });
  });

  test("--out is required", async () => {
    const host = memoryHost();
    assert.equal(await main(["render-dataset", GLAIVE], host), 2);
    assert.match(host.err(), /--out PREFIX is required/);
  });
});

describe("harmony demo", () => {
  test("renders the bundled sample to a Megatron dataset and prints the summary", async () => {
    await withTmp(async (dir) => {
      const host = memoryHost();
      assert.equal(await main(["demo", "--out", join(dir, "demo")], host), 0);
      const out = host.out();
      assert.match(out, /^render-dataset: 300 written, 0 failed, 300 read, /);
      assert.match(out, /read back: 300 sequences; record 0 has \d+ tokens, \d+ trained/);
      assert.match(out, /⟦<\|channel\|>final<\|message\|>/);
      // Record 0 of the sample is a tool-calling conversation: the call is trained on.
      assert.match(
        out,
        /⟦ to=functions\.search_recipes<\|channel\|>commentary <\|constrain\|>json/,
      );
      assert.ok(existsSync(join(dir, "demo.idx")));
    });
  });
});

test("render-dataset names a missing input as a usage error (exit 2) before writing anything", async () => {
  const host = memoryHost();
  const code = await main(
    ["render-dataset", "/nonexistent/input.jsonl", "--out", "/nonexistent/out", "--backend", "cpu"],
    host,
  );
  assert.equal(code, 2);
  assert.match(host.err(), /Cannot read input "\/nonexistent\/input\.jsonl": no such file/);
});
