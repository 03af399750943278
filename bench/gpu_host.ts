/**
 * Host cost of the GPU encode path per text kind: the plan's `hostMs` (packing, planning,
 * stitching, CPU fallbacks; src/gpu/encode_plan.ts) per MB against the CPU backend's encode
 * ms per MB, measured in ONE process, interleaved round by round, minimum of the rounds. The
 * plan runs with the CPU executor, whose kernel time is excluded from `hostMs` exactly as the
 * GPU's device time is, so this is the GPU path's host cost on any machine.
 *
 *   npx deno run -A bench/gpu_host.ts [--base DIR] [--rounds N]
 *
 * `--base DIR`: another checkout (e.g. `git archive` of an older commit) measured side by side.
 *
 * @module
 */

import process from "node:process";
import { pathToFileURL } from "node:url";
import * as current from "../src/gpu/encode_plan.ts";
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
const base: Plan | undefined = baseDir
  ? await import(pathToFileURL(`${baseDir}/src/gpu/encode_plan.ts`).href)
  : undefined;

const tok = await loadTokenizer();
const vocab = await loadVocabulary();
const specials = buildSpecialTables(harmonySpecialTokens());
const te = new TextEncoder();
// Literals are tokens (harmony outputs hold them): the special scan runs on every kind.
const OPTIONS = { allowedSpecial: "all" } as const;

// Text kinds: prose files (in 8 KB line chunks), then each JSONL source's texts.
const kinds: Array<[string, string[]]> = [
  ["prose", textFiles().flatMap((f) => f.texts.flatMap((t) => chunkLines(t)))],
];
for (const f of jsonlFiles()) {
  const name = f.name.replace(/^conversations\//, "").replace(/\.jsonl$/, "");
  if (f.texts.length > 0) kinds.push([name, f.texts]);
}

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

async function planMs(plan: Plan, bs: string[][]): Promise<number> {
  const exec = plan.cpuExecutor(vocab, specials);
  let ms = 0;
  for (const b of bs) {
    ms += (await plan.encodeWithPlan(b, OPTIONS, { vocab, specials, limit: 1 << 27 }, exec))
      .hostMs;
  }
  return ms;
}

function cpuMs(texts: string[]): number {
  const t0 = performance.now();
  for (const t of texts) tok.encode(t, OPTIONS);
  return performance.now() - t0;
}

const os = await import("node:os");
console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}, ${rounds} rounds`);
console.log(
  ["kind", "MB", "cpu ms/MB", base ? "gpu host ms/MB (base)" : "", "gpu host ms/MB", "ratio"]
    .filter(Boolean).join(" | "),
);
for (const [name, texts] of kinds) {
  const mb = texts.reduce((a, t) => a + te.encode(t).length, 0) / 1e6;
  const bs = batches(texts);
  let cpu = Infinity, now = Infinity, before = Infinity;
  for (let r = 0; r < rounds; r++) {
    cpu = Math.min(cpu, cpuMs(texts));
    if (base) before = Math.min(before, await planMs(base, bs));
    now = Math.min(now, await planMs(current, bs));
  }
  const row = [
    name,
    mb.toFixed(2),
    (cpu / mb).toFixed(1),
    base ? (before / mb).toFixed(1) : "",
    (now / mb).toFixed(1),
    `1/${(cpu / now).toFixed(1)}`,
  ];
  console.log(row.filter((c) => c !== "").join(" | "));
}
console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
