/**
 * Host cost of the GPU encode path per text kind: the CPU time the JS thread spends in the plan
 * (src/gpu/encode_plan.ts: packing, planning, stitching, CPU fallbacks) per MB, against the CPU
 * backend's encode ms per MB, in ONE process, interleaved round by round, minimum of the
 * rounds, in process CPU time (`process.cpuUsage`; the machine is shared). The plan runs with
 * the CPU executor as the stand-in for the device: the executor's own CPU time (its special
 * scan, pre-tokenization and piece encoding) is subtracted, exactly as a GPU's device time
 * would not be host time, so this is the GPU path's host cost on any machine.
 *
 * Two configurations, both printed:
 * - `hardware`: what a hardware adapter runs — long pieces (65 B to `MAX_LONG_GPU_PIECE_BYTES`)
 *   on the GPU (`longPiecesOnGpu` forced), so the plan leaves them to the executor;
 * - `software`: the software-adapter default — pieces over 64 B merged on the host (faster
 *   there than `merge_long` on llvmpipe/lavapipe).
 *
 * Then the split of the hardware configuration's host time by phase (`hostPhases`, wall ms of
 * the JS thread; `submit`, the CPU executor's encode, is excluded).
 *
 *   npx deno run -A bench/gpu_host.ts [--base DIR] [--rounds N] [--kinds a,b] [--device]
 *
 * The `round trips/batch` column counts executor calls per batch in the software configuration
 * (each is one submission and its read-back on the GPU; the fused path makes a batch one).
 *
 * Kinds under 1 MB (mtbench, harmony outputs, …) are repeated to one 1 MB batch, marked `(×k)`.
 *
 * `--base DIR`: another checkout (e.g. `git archive` of an older commit) measured side by side.
 * `--device`: also runs the real GPU backend on the machine's adapter with long pieces on the GPU
 * and prints its `hostMs` per MB (wall ms of the JS thread outside awaits, now with the GPU
 * executor's synchronous work: upload packing and command encoding; not its read-back slicing).
 * Meant for hardware adapters (`bench/gpu-device.sh` runs it): on a software adapter queue
 * submission itself does much of the device work on the JS thread (Deno on llvmpipe: 25–650 ms/MB
 * of "submit"), so there these figures are not host cost; the CPU-executor table is.
 *
 * @module
 */

import process from "node:process";
import { loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import * as current from "../src/gpu/encode_plan.ts";
import type { HostPhases, PlanExecutor } from "../src/gpu/encode_plan.ts";
import { MAX_GPU_PIECE_BYTES } from "../src/gpu/kernels.ts";
import { MAX_LONG_GPU_PIECE_BYTES } from "../src/engine/gpu_backend.ts";
import { buildSpecialTables } from "../src/gpu/tables.ts";
import { loadTokenizer } from "../src/tokenizer/mod.ts";
import { harmonySpecialTokens } from "../src/tokenizer/special_tokens.ts";
import { loadVocabulary } from "../src/tokenizer/vocabulary.ts";
import { chunkLines, jsonlFiles, textFiles } from "../test/tokenizer/_corpus.ts";

type Plan = typeof current;

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const rounds = Number(flag("--rounds") ?? 5);
const baseDir = flag("--base");
const only = flag("--kinds")?.split(",");
const device = args.includes("--device");
const base: Plan | undefined = baseDir
  ? await import(pathToFileURL(`${baseDir}/src/gpu/encode_plan.ts`).href)
  : undefined;

const tok = await loadTokenizer();
const vocab = await loadVocabulary();
const specials = buildSpecialTables(harmonySpecialTokens());
const te = new TextEncoder();
// Literals are tokens (harmony outputs hold them): the special scan runs on every kind.
const OPTIONS = { allowedSpecial: "all" } as const;
const LIMIT = 1 << 27;

// Text kinds: prose files (in 8 KB line chunks), then each JSONL source's texts.
const kinds: Array<[string, string[]]> = [
  ["prose", textFiles().flatMap((f) => f.texts.flatMap((t) => chunkLines(t)))],
];
for (const f of jsonlFiles()) {
  const name = f.name.replace(/^conversations\//, "").replace(/\.jsonl$/, "");
  if (f.texts.length > 0) kinds.push([name, f.texts]);
}
// A kind under one batch is repeated to one full batch (a dataset of it is batched by ~1 MB):
// the plan's per-batch fixed costs and its JIT warm-up are not billed to a few KB. The CPU
// backend's figure is the best of warm rounds either way.
for (const k of kinds) {
  let chars = 0;
  for (const t of k[1]) chars += t.length;
  if (chars === 0 || chars >= 1 << 20) continue;
  const copies = Math.ceil((1 << 20) / chars);
  k[0] += ` (×${copies})`;
  k[1] = Array.from({ length: copies }, () => k[1]).flat();
}

/** A kind's name without its `(×k)` mark (what `--kinds` names). */
const kindName = (label: string) => label.replace(/ \(×\d+\)$/, "");

/** Batches of about 1 MB. */
function batches(texts: string[]): string[][] {
  const out: string[][] = [];
  let cur: string[] = [], size = 0;
  for (const t of texts) {
    cur.push(t);
    size += t.length;
    if (size >= 1 << 20) out.push(cur), cur = [], size = 0;
  }
  if (cur.length) out.push(cur);
  return out;
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The CPU executor with its own CPU time added to `spent.ms` (the device's share). */
function timedExecutor(plan: Plan, spent: { ms: number; calls: number }): PlanExecutor {
  const exec = plan.cpuExecutor(vocab, specials);
  const timed = <A, R>(f: (a: A) => R) => (a: A): R => {
    const t0 = cpuNow();
    try {
      return f(a);
    } finally {
      spent.ms += cpuNow() - t0;
    }
  };
  // Each executor call is one round trip on the GPU (a submission and its read-back).
  const counted = <A, R>(f: (a: A) => R) => (a: A): R => (spent.calls++, f(a));
  return {
    findSpecials: counted(timed(exec.findSpecials)),
    pretokenize: exec.pretokenize && counted(timed(exec.pretokenize)),
    encodePieces: counted(timed(exec.encodePieces)),
    encodeFused: exec.encodeFused && counted(timed(exec.encodeFused)),
  };
}

/** Host CPU ms of the plan over the batches (its CPU time minus the executor's) and its phases. */
async function hostMs(
  plan: Plan,
  bs: string[][],
  maxPieceBytes: number,
): Promise<[number, HostPhases, number]> {
  const spent = { ms: 0, calls: 0 };
  const exec = timedExecutor(plan, spent);
  const phases = current.noHostPhases();
  const t0 = cpuNow();
  for (const b of bs) {
    const r = await plan.encodeWithPlan(b, OPTIONS, {
      vocab,
      specials,
      limit: LIMIT,
      maxPieceBytes,
    }, exec);
    const p = (r as { hostPhases?: HostPhases }).hostPhases;
    if (p) { for (const k in p) phases[k as keyof HostPhases] += p[k as keyof HostPhases]; }
  }
  return [cpuNow() - t0 - spent.ms, phases, spent.calls / bs.length];
}

function cpuMs(texts: string[]): number {
  const t0 = cpuNow();
  for (const t of texts) tok.encode(t, OPTIONS);
  return cpuNow() - t0;
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`load average ${load()}, ${rounds} rounds, process CPU ms, minimum of the rounds`);
console.log(
  "hardware = long pieces on the GPU (`longPiecesOnGpu` forced, up to " +
    `${MAX_LONG_GPU_PIECE_BYTES} B); software = pieces over ${MAX_GPU_PIECE_BYTES} B merged on the host`,
);
const cols = ["kind", "MB", "cpu ms/MB"];
for (const cfg of ["hardware", "software"]) {
  if (base) cols.push(`${cfg} base`);
  cols.push(`${cfg} host ms/MB`, "ratio");
}
cols.push("round trips/batch sw" + (base ? " (base)" : ""));
console.log(cols.join(" | "));
const splits: string[] = [];
for (const [name, texts] of kinds) {
  if (only && !only.includes(kindName(name))) continue;
  const mb = texts.reduce((a, t) => a + te.encode(t).length, 0) / 1e6;
  const bs = batches(texts);
  let cpu = Infinity;
  const best = { hw: Infinity, sw: Infinity, hwBase: Infinity, swBase: Infinity };
  let phases: HostPhases = current.noHostPhases(), phaseBest = Infinity;
  const trips = { now: 0, base: 0 };
  for (let r = 0; r < rounds; r++) {
    cpu = Math.min(cpu, cpuMs(texts));
    if (base) {
      best.hwBase = Math.min(best.hwBase, (await hostMs(base, bs, MAX_LONG_GPU_PIECE_BYTES))[0]);
    }
    const [hw, ph] = await hostMs(current, bs, MAX_LONG_GPU_PIECE_BYTES);
    if (hw < phaseBest) phaseBest = hw, phases = ph;
    best.hw = Math.min(best.hw, hw);
    if (base) {
      const [ms, , calls] = await hostMs(base, bs, MAX_GPU_PIECE_BYTES);
      best.swBase = Math.min(best.swBase, ms);
      trips.base = calls;
    }
    const [sw, , calls] = await hostMs(current, bs, MAX_GPU_PIECE_BYTES);
    best.sw = Math.min(best.sw, sw);
    trips.now = calls;
  }
  const f = (x: number) => (x / mb).toFixed(2);
  const row = [name, mb.toFixed(2), f(cpu)];
  if (base) row.push(f(best.hwBase));
  row.push(f(best.hw), `1/${(cpu / best.hw).toFixed(1)}`);
  if (base) row.push(f(best.swBase));
  row.push(f(best.sw), `1/${(cpu / best.sw).toFixed(1)}`);
  row.push(trips.now.toFixed(2) + (base ? ` (${trips.base.toFixed(2)})` : ""));
  console.log(row.join(" | "));
  const { submit: _, ...rest } = phases;
  splits.push(
    `${name}: ` + Object.entries(rest).map(([k, v]) => `${k} ${f(v)}`).join(", "),
  );
}
console.log("\nhardware host time by phase (wall ms/MB of the JS thread, best round):");
for (const s of splits) console.log(s);
if (device) {
  const { findGpu } = await import("../src/gpu/runtime.ts");
  const { createGpuBackend } = await import("../src/engine/gpu_backend.ts");
  const gpu = await findGpu();
  if (!gpu) throw new Error("--device: no WebGPU adapter");
  const backend = await createGpuBackend(gpu, { longPiecesOnGpu: true });
  console.log(`\nreal GPU backend, long pieces on the GPU (hostMs, wall ms/MB, min of ${rounds}):`);
  console.log(
    "kind | MB | host ms/MB | ratio to cpu | submissions/batch | read-backs/batch | dispatches/batch",
  );
  for (const [name, texts] of kinds) {
    if (only && !only.includes(kindName(name))) continue;
    const mb = texts.reduce((a, t) => a + te.encode(t).length, 0) / 1e6;
    let host = Infinity, cpu = Infinity, counts = "";
    await backend.encodeBatch(texts.slice(0, 64), OPTIONS); // pipelines compiled, tables uploaded
    for (let r = 0; r < rounds; r++) {
      cpu = Math.min(cpu, cpuMs(texts));
      let h = 0;
      const s0 = { ...backend.ctx.stats }, bs = batches(texts);
      for (const b of bs) {
        await backend.encodeBatch(b, OPTIONS);
        h += backend.lastStats().hostMs ?? 0;
      }
      host = Math.min(host, h);
      const s1 = backend.ctx.stats,
        per = (k: "submits" | "readBacks" | "dispatches") =>
          ((s1[k] - s0[k]) / bs.length).toFixed(1);
      counts = `${per("submits")} | ${per("readBacks")} | ${per("dispatches")}`;
    }
    console.log(
      `${name} | ${mb.toFixed(2)} | ${(host / mb).toFixed(2)} | 1/${(cpu / host).toFixed(1)} | ` +
        counts,
    );
  }
  backend.destroy();
}
console.log(`load average ${load()}`);
