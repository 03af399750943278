/**
 * How much of the GPU path's host time goes to pieces longer than `MAX_GPU_PIECE_BYTES`, which the
 * host encodes on the CPU (issue #16: the GPU path needs a cooperative long-piece kernel only if
 * this share is at least 5 % on some text kind).
 *
 * For every text kind of the shared corpus (`/work/shared/corpus/text`, else the test fixtures)
 * and three adversarial kinds (a CJK run, 100 KB without a space, random bytes as Latin-1), it runs
 * the GPU host plan (`encodeWithPlan` with the CPU executor, so no device is needed) twice,
 * interleaved in one process: as shipped (long pieces encoded on the host), and with no per-thread
 * limit (every piece left to the executor). The host-time difference is the long pieces' CPU cost;
 * it also prints the plan's host ms/MB beside the CPU backend's ms/MB (process CPU time, best of
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
    maxPieceBytes: maxPieceBytes === Infinity ? undefined : maxPieceBytes,
  };
  const u0 = process.cpuUsage();
  const r = await encodeWithPlan(texts, options, env, timed);
  const u = process.cpuUsage(u0);
  return [(u.user + u.system) / 1000 - execMs, r.cpuPieces];
}

console.log(`load ${loadavg().map((x) => x.toFixed(2)).join(" ")} on ${cpus().length} cores`);
console.log(
  "kind | MB | long pieces | host ms/MB (shipped) | host ms/MB (no long) | long share | CPU backend ms/MB | host/CPU",
);
const rows: string[] = [];
let worst = 0;
for (const [name, texts] of kinds) {
  let mb = 0;
  for (const t of texts) mb += new TextEncoder().encode(t).length / 1e6;
  let a = Infinity, b = Infinity, c = Infinity, longPieces = 0;
  for (let rep = 0; rep < 5; rep++) {
    // Interleaved A/B/C in one process, all in process CPU time (the machine is shared): the
    // plan's host time is its whole CPU time minus the executor's (the stand-in for the device).
    const [ha, na] = await hostCpuMs(texts, Infinity);
    const [hb] = await hostCpuMs(texts, Number.MAX_SAFE_INTEGER);
    a = Math.min(a, ha);
    b = Math.min(b, hb);
    longPieces = na;
    c = Math.min(c, cpuMs(() => void cpu.encodeBatch(texts, options)));
  }
  const share = Math.max(0, (a - b) / a);
  if (!name.startsWith("adversarial")) worst = Math.max(worst, share);
  rows.push(
    `${name} | ${mb.toFixed(2)} | ${longPieces} | ${(a / mb).toFixed(1)} | ${
      (b / mb).toFixed(1)
    } | ` +
      `${(100 * share).toFixed(1)} % | ${(c / mb).toFixed(1)} | ${(a / c).toFixed(2)}`,
  );
  console.log(rows[rows.length - 1]);
}
console.log(
  `worst long-piece share of host time over the corpus kinds: ${(100 * worst).toFixed(1)} %`,
);
console.log(`load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
