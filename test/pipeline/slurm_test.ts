// examples/slurm/render.sbatch and merge.sbatch submitted for real to a Slurm cluster (the
// single-node one scripts/ensure-slurm.sh brings up in CI): the array renders shards, the
// dependent merge joins them, and the result is byte for byte the unsharded run. Skipped, with the
// reason printed, where sbatch/sinfo are missing or no node is idle.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { FIXTURES, withTmp } from "../dataset/_helpers.ts";

const CLI = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));
const RENDER = fileURLToPath(new URL("../../examples/slurm/render.sbatch", import.meta.url));
const MERGE = fileURLToPath(new URL("../../examples/slurm/merge.sbatch", import.meta.url));
const SAMPLE = fileURLToPath(new URL("../../examples/sample.jsonl", import.meta.url));
// Two inputs, so shards cut across the boundary between files.
const INPUTS = [SAMPLE, join(FIXTURES, "glaive_excerpt.jsonl")];
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
/** The CLI in the runtime running the tests, as the scripts' HARMONY word list. */
const HARMONY = isDeno ? `${process.execPath} run -A ${CLI}` : `${process.execPath} ${CLI}`;
const TERMINAL = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "PREEMPTED",
  "BOOT_FAIL",
  "DEADLINE",
]);

function run(cmd: string, args: string[], env?: Record<string, string>) {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    timeout: 30_000,
    env: env ? { ...process.env, ...env } : process.env,
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error };
}

/** Why the Slurm tests cannot run here, or undefined when a node is idle. */
function slurmSkipReason(): string | undefined {
  const hint = "(run `bash scripts/ensure-slurm.sh` as root)";
  for (const cmd of ["sbatch", "sinfo", "scontrol"]) {
    const r = run(cmd, ["--version"]);
    if (r.error || r.status !== 0) return `Slurm not usable: ${cmd} not found ${hint}`;
  }
  const r = run("sinfo", ["-h", "-o", "%t"]);
  if (r.status !== 0) {
    return `Slurm not usable: sinfo failed: ${r.stderr.trim().slice(0, 120)} ${hint}`;
  }
  const states = r.stdout.split("\n").map((s) => s.trim()).filter(Boolean);
  if (!states.some((s) => /^(idle|mix)/.test(s))) {
    return `Slurm not usable: no idle node (sinfo: ${states.join(", ") || "none"}) ${hint}`;
  }
  return undefined;
}

function sbatch(args: string[], env: Record<string, string>): string {
  const r = run("sbatch", ["--parsable", ...args], env);
  assert.equal(r.status, 0, `sbatch ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout.trim().split(";")[0];
}

/** The states of a job's records (one per array task), from `scontrol show job -o`. */
function jobStates(id: string): string[] {
  const r = run("scontrol", ["show", "job", "-o", id]);
  assert.equal(r.status, 0, `scontrol show job ${id} failed: ${r.stderr}`);
  return [...r.stdout.matchAll(/JobState=(\S+)/g)].map((m) => m[1]);
}

/** Polls until every record of each job is in a final state; returns the states. */
async function waitJobs(ids: string[], log: () => string): Promise<string[][]> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const states = ids.map(jobStates);
    if (states.every((s) => s.length > 0 && s.every((x) => TERMINAL.has(x)))) return states;
    if (Date.now() > deadline) {
      for (const id of ids) run("scancel", [id]);
      assert.fail(`Slurm jobs ${ids.join(", ")} did not finish: ${states.join(" | ")}\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Every job log in `dir`, for assertion messages. */
function logs(dir: string): string {
  return readdirSync(dir).filter((f) => f.endsWith(".out")).sort()
    .map((f) => `--- ${f}\n${readFileSync(join(dir, f), "utf8").slice(-2000)}`).join("\n");
}

/** The dataset files of `prefix` (name after the prefix → bytes), shards left out. */
function datasetFiles(dir: string, name: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const f of readdirSync(dir).sort()) {
    if (f.startsWith(`${name}.`) && !f.startsWith(`${name}.shard-`)) {
      files.set(f.slice(name.length), readFileSync(join(dir, f)));
    }
  }
  return files;
}

/** Submits the array (`array` as given to sbatch) and the dependent merge; returns the run dir. */
async function renderOnSlurm(dir: string, array: string): Promise<string> {
  const out = join(dir, "slurm");
  mkdirSync(out);
  const env = {
    HARMONY,
    INPUT: INPUTS.join(" "),
    OUT: join(out, "train"),
    HARMONY_FLAGS: "--backend cpu --progress-every 0",
  };
  const common = ["--chdir", out, "--time", "10"];
  const render = sbatch(
    [`--array=${array}`, ...common, "--output", join(out, "render-%A_%a.out"), RENDER],
    env,
  );
  const merge = sbatch(
    [`--dependency=afterok:${render}`, ...common, "--output", join(out, "merge-%j.out"), MERGE],
    env,
  );
  const [renderStates, mergeStates] = await waitJobs([render, merge], () => logs(out));
  assert.deepEqual(renderStates, renderStates.map(() => "COMPLETED"), logs(out));
  assert.deepEqual(mergeStates, ["COMPLETED"], logs(out));
  return out;
}

/** The unsharded run of the same inputs, with the same settings, outside Slurm. */
function renderWhole(dir: string): string {
  const out = join(dir, "whole");
  mkdirSync(out);
  const args = isDeno ? ["run", "-A", CLI] : [CLI];
  const r = spawnSync(process.execPath, [
    ...args,
    "render-dataset",
    ...INPUTS,
    "--out",
    join(out, "train"),
    "--backend",
    "cpu",
    "--progress-every",
    "0",
    "--workers",
    "1",
  ], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

function assertSameDataset(whole: string, slurm: string): void {
  const want = datasetFiles(whole, "train");
  const got = datasetFiles(slurm, "train");
  assert.ok(want.has(".bin") && want.has(".idx") && want.has(".loss_mask.bin"));
  assert.deepEqual([...got.keys()], [...want.keys()], "merged files");
  for (const [suffix, bytes] of want) {
    assert.ok(
      Buffer.from(got.get(suffix)!).equals(Buffer.from(bytes)),
      `train${suffix} differs from the unsharded run (${
        got.get(suffix)!.length
      } vs ${bytes.length} bytes)`,
    );
  }
}

const skip = slurmSkipReason();
if (skip) process.stderr.write(`slurm_test: skipped: ${skip}\n`);

describe("examples/slurm on a real Slurm cluster", () => {
  test(
    "render.sbatch --array=0-3 then merge.sbatch (afterok) is byte for byte the unsharded run",
    { timeout: 900_000 },
    async (t) => {
      if (skip) return t.skip(skip);
      await withTmp(async (dir) => {
        const slurm = await renderOnSlurm(dir, "0-3");
        for (let i = 0; i < 4; i++) {
          assert.ok(existsSync(join(slurm, `train.shard-0000${i}-of-00004.bin`)), `shard ${i}`);
        }
        assertSameDataset(renderWhole(dir), slurm);
      });
    },
  );

  test(
    "a stepped array --array=0-6:2 renders shards 0..3 of 4 (not 0, 2, 4, 6), merged = unsharded",
    { timeout: 900_000 },
    async (t) => {
      if (skip) return t.skip(skip);
      await withTmp(async (dir) => {
        const slurm = await renderOnSlurm(dir, "0-6:2");
        const shards = readdirSync(slurm).filter((f) => /^train\.shard-\d+-of-\d+\.bin$/.test(f));
        assert.deepEqual(
          shards.sort(),
          [0, 1, 2, 3].map((i) => `train.shard-0000${i}-of-00004.bin`),
        );
        assertSameDataset(renderWhole(dir), slurm);
      });
    },
  );
});
