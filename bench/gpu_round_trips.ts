/**
 * Round trips per batch on the machine's real adapter: queue submissions, result read-backs
 * (`mapAsync`) and dispatches per `encodeBatch` of the GPU backend, per text kind, with the wall
 * time per batch (on a software adapter the wall time is device work on the CPU, not host cost),
 * optionally side by side with another checkout (`--base DIR`, e.g. a `git archive` of an older
 * commit; its read-backs are not counted when it predates `GpuStats.readBacks`). Interleaved:
 * each round runs every backend once on the same batches.
 *
 *   npx deno run -A bench/gpu_round_trips.ts [--base DIR] [--rounds N] [--texts N] [--kinds a,b]
 *
 * @module
 */

import process from "node:process";
import { loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import { jsonlFiles } from "../test/tokenizer/_corpus.ts";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const rounds = Number(flag("--rounds") ?? 3);
const perBatch = Number(flag("--texts") ?? 256);
const only = flag("--kinds")?.split(",");
const baseDir = flag("--base");
const OPTIONS = { allowedSpecial: "all" } as const;

interface Stats {
  submits: number;
  readBacks?: number;
  dispatches: number;
}
interface AnyBackend {
  ctx: { stats: Stats };
  encodeBatch(texts: readonly string[], options?: object): Promise<unknown>;
  destroy(): void;
}

async function open(dir: string): Promise<AnyBackend> {
  const { findGpu } = await import(pathToFileURL(`${dir}/src/gpu/runtime.ts`).href);
  const { createGpuBackend } = await import(pathToFileURL(`${dir}/src/engine/gpu_backend.ts`).href);
  const gpu = await findGpu();
  if (!gpu) throw new Error("no WebGPU adapter");
  return await createGpuBackend(gpu);
}

const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const backends: Array<[string, AnyBackend]> = [["now", await open(here)]];
if (baseDir) backends.push(["base", await open(baseDir)]);

const kinds: Array<[string, string[]]> = [];
for (const f of jsonlFiles()) {
  const name = f.name.replace(/^conversations\//, "").replace(/\.jsonl$/, "");
  if (f.texts.length > 0 && (!only || only.includes(name))) {
    kinds.push([name, f.texts.slice(0, 4 * perBatch)]);
  }
}
const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`load average ${load()}; ${perBatch} texts a batch, ${rounds} rounds (wall: median)`);
console.log(
  "kind | backend | submissions/batch | read-backs/batch | dispatches/batch | wall ms/batch",
);
for (const [name, texts] of kinds) {
  const bs: string[][] = [];
  for (let i = 0; i < texts.length; i += perBatch) bs.push(texts.slice(i, i + perBatch));
  for (const [, b] of backends) await b.encodeBatch(bs[0], OPTIONS); // pipelines, tables
  const walls = new Map<string, number[]>();
  const counts = new Map<string, string>();
  for (let r = 0; r < rounds; r++) {
    for (const [label, b] of backends) {
      const s0 = { ...b.ctx.stats }, t0 = performance.now();
      for (const batch of bs) await b.encodeBatch(batch, OPTIONS);
      const wall = (performance.now() - t0) / bs.length;
      walls.set(label, [...(walls.get(label) ?? []), wall]);
      const s = b.ctx.stats;
      const per = (x: number | undefined, y: number | undefined) =>
        x === undefined || y === undefined ? "–" : ((x - y) / bs.length).toFixed(2);
      counts.set(
        label,
        `${per(s.submits, s0.submits)} | ${per(s.readBacks, s0.readBacks)} | ` +
          per(s.dispatches, s0.dispatches),
      );
    }
  }
  for (const [label] of backends) {
    const w = walls.get(label)!.sort((a, b) => a - b);
    console.log(`${name} | ${label} | ${counts.get(label)} | ${w[w.length >> 1].toFixed(1)}`);
  }
}
for (const [, b] of backends) b.destroy();
console.log(`load average ${load()}`);
