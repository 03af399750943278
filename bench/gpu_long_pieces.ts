/**
 * How much of the GPU path's host time goes to pieces longer than `MAX_GPU_PIECE_BYTES`, which the
 * host encodes on the CPU (issue #16: the GPU path needs a cooperative long-piece kernel only if
 * this share is at least 5 % on some text kind).
 *
 * For every text kind of the shared corpus (`/work/shared/corpus/text`, else the test fixtures)
 * and three adversarial kinds (a CJK run, 100 KB without a space, random bytes as Latin-1), it runs
 * the GPU host plan (`encodeWithPlan` with the CPU executor, so no device is needed) three times,
 * interleaved in one process: with the host limit of before (pieces over 64 bytes encoded on the
 * host), as shipped (over `MAX_LONG_GPU_PIECE_BYTES`; the ones between go to `merge_long` on the
 * device), and with no limit (every piece left to the executor). The host-time differences are
 * the host-encoded pieces' CPU cost; it also prints the plan's host ms/MB beside the CPU backend's ms/MB (process CPU time, best of
 * 5; the plan's host time is its CPU time minus the executor's).
 *
 *   npx deno run -A bench/gpu_long_pieces.ts        npx bun bench/gpu_long_pieces.ts
 *
 * @module
 */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import process from "node:process";
import { CpuBackend } from "../src/engine/cpu_backend.ts";
import { MAX_GPU_PIECE_BYTES, MAX_LONG_GPU_PIECE_BYTES } from "../src/engine/gpu_backend.ts";
import { cpuExecutor, encodeWithPlan } from "../src/gpu/encode_plan.ts";
import { buildSpecialTables } from "../src/gpu/tables.ts";
import { harmonySpecialTokens } from "../src/tokenizer/special_tokens.ts";
import { loadVocabulary } from "../src/tokenizer/vocabulary.ts";

const shared = new URL("../../shared/corpus/text/", import.meta.url);
const fixtures = new URL("../test/fixtures/text/", import.meta.url);
const dir = existsSync(shared) ? shared : fixtures;
const kinds: Array<[string, string[]]> = [];
for (const f of readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()) {
  const text = readFileSync(new URL(f, dir), "utf8").slice(0, 400_000);
  kinds.push([f.replace(/\.txt$/, ""), text.split(/\n(?=\n)/)]);
}
let seed = 12345;
const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
const cjk = Array.from(
  { length: 20 },
  () =>
    Array.from({ length: 2000 }, () => String.fromCharCode(0x4e00 + Math.floor(rand() * 2000)))
      .join(""),
);
kinds.push(["adversarial_cjk_runs", cjk]);
kinds.push(["adversarial_100kb_no_space", ["ab".repeat(50_000)]]);
const bytes = Array.from(
  { length: 20 },
  () => Array.from({ length: 5000 }, () => String.fromCharCode(Math.floor(rand() * 256))).join(""),
);
kinds.push(["adversarial_random_latin1", bytes]);

const vocab = await loadVocabulary();
const specials = buildSpecialTables(harmonySpecialTokens());
const exec = cpuExecutor(vocab, specials);
const cpu = await CpuBackend.create();
const options = { disallowedSpecial: [] as string[] };
const limit = 1 << 27;

/** CPU milliseconds of the process spent in `fn` (single-threaded work). */
function cpuMs(fn: () => void): number {
  const u0 = process.cpuUsage();
  fn();
  const u = process.cpuUsage(u0);
  return (u.user + u.system) / 1000;
}

/** Host CPU ms of the GPU plan (minus the executor's) and its long pieces, for a per-thread limit. */
async function hostCpuMs(texts: string[], maxPieceBytes: number): Promise<[number, number]> {
  let execMs = 0;
  const timed = {
    findSpecials: exec.findSpecials,
    encodePieces: (batch: Parameters<typeof exec.encodePieces>[0]) => {
      let r: ReturnType<typeof exec.encodePieces> | undefined;
      execMs += cpuMs(() => void (r = exec.encodePieces(batch)));
      return r!;
    },
  };
  const env = {
    vocab,
    specials,
    limit,
    maxPieceBytes,
  };
  const u0 = process.cpuUsage();
  const r = await encodeWithPlan(texts, options, env, timed);
  const u = process.cpuUsage(u0);
  return [(u.user + u.system) / 1000 - execMs, r.cpuPieces];
}

console.log(`load ${loadavg().map((x) => x.toFixed(2)).join(" ")} on ${cpus().length} cores`);
console.log(
  "kind | MB | host-encoded pieces (64 B → 4 KiB limit) | host ms/MB (64 B → 4 KiB) | " +
    "host ms/MB (no limit) | their share (64 B → 4 KiB) | CPU backend ms/MB | host/CPU (4 KiB)",
);
let worst = 0;
for (const [name, texts] of kinds) {
  let mb = 0;
  for (const t of texts) mb += new TextEncoder().encode(t).length / 1e6;
  let before = Infinity, now = Infinity, none = Infinity, c = Infinity, n0 = 0, n1 = 0;
  for (let rep = 0; rep < 5; rep++) {
    // Interleaved in one process, all in process CPU time (the machine is shared): the plan's
    // host time is its whole CPU time minus the executor's (the stand-in for the device).
    const [h0, k0] = await hostCpuMs(texts, MAX_GPU_PIECE_BYTES);
    const [h1, k1] = await hostCpuMs(texts, MAX_LONG_GPU_PIECE_BYTES);
    const [h2] = await hostCpuMs(texts, Number.MAX_SAFE_INTEGER);
    before = Math.min(before, h0);
    now = Math.min(now, h1);
    none = Math.min(none, h2);
    n0 = k0;
    n1 = k1;
    c = Math.min(c, cpuMs(() => void cpu.encodeBatch(texts, options)));
  }
  const share0 = Math.max(0, (before - none) / before), share1 = Math.max(0, (now - none) / now);
  if (!name.startsWith("adversarial")) worst = Math.max(worst, share1);
  const f = (x: number) => (x / mb).toFixed(1), pc = (x: number) => `${(100 * x).toFixed(1)} %`;
  console.log(
    `${name} | ${mb.toFixed(2)} | ${n0} → ${n1} | ${f(before)} → ${f(now)} | ${f(none)} | ` +
      `${pc(share0)} → ${pc(share1)} | ${f(c)} | ${(now / c).toFixed(2)}`,
  );
}
console.log(
  `worst share of host-encoded pieces in host time over the corpus kinds (4 KiB limit): ${
    (100 * worst).toFixed(1)
  } %`,
);
console.log(`load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
