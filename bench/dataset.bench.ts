// render-dataset throughput and memory, end to end (read → map → render → mask → write).
//
//   npx bun bench/dataset.bench.ts              mitata table + a full-corpus run
//   npx deno run -A bench/dataset.bench.ts
//   npx bun bench/dataset.bench.ts --memory 2   peak RSS of `harmony render-dataset` (a child
//                                               process under Bun and under Deno) on a generated
//                                               2 GB JSONL file; takes minutes
//
// Input: the shared corpus's conversations/*.jsonl (16.7k conversations, 3.9M tokens rendered) or,
// without ../shared, the test fixtures. mitata times one output format per bench on a 2,000-record
// slice (written to a temporary directory), next to the rendering alone (no I/O, no mapping) and
// the `openai-harmony` WASM reference's rendering of the same conversations (render only; its
// API has no training mode, so it renders for conversation). Then one run over the whole corpus
// prints records/s, tokens/s and the peak RSS sampled during it. `HARMONY_BENCH_GPU=1` adds the
// engine's GPU backend (software adapters included).
import { bench, group, run, summary } from "mitata";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { closeSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { conversationFromJson } from "../src/chat/json.ts";
import type { Conversation } from "../src/chat/message.ts";
import { loadHarmonyEncoding } from "../src/encoding/mod.ts";
import { recordToHarmonyJson } from "../src/dataset/mapping.ts";
import { type RenderBatch, renderDataset } from "../src/dataset/pipeline.ts";
import { loadTrainingRenderer } from "../src/dataset/training_renderer.ts";
import { openBackend } from "../src/engine/mod.ts";
import { OUTPUT_FORMATS } from "../src/dataset/writers.ts";
import { loadReferenceWasm } from "../test/_support/reference_wasm.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const corpusDir = join(root, "../shared/corpus/conversations");
const inputs = existsSync(corpusDir)
  ? readdirSync(corpusDir).filter((f) => f.endsWith(".jsonl")).sort().map((f) => join(corpusDir, f))
  : ["glaive_excerpt.jsonl", "multilingual_excerpt.jsonl", "mixed.jsonl"].map((f) =>
    join(root, "test/fixtures/dataset", f)
  );
const work = mkdtempSync(join(tmpdir(), "harmony-dataset-bench-"));

const memoryArg = process.argv.indexOf("--memory");
if (memoryArg >= 0) {
  memoryBench(Number(process.argv[memoryArg + 1] ?? "2"));
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}

// ---- mitata: a 2,000-record slice ----------------------------------------------------------
const allLines = inputs.flatMap((f) => readFileSync(f, "utf8").split("\n").filter((l) => l.trim()));
const step = Math.max(1, Math.floor(allLines.length / 2000));
const slice = allLines.filter((_, i) => i % step === 0).slice(0, 2000);
const sliceFile = join(work, "slice.jsonl");
{
  const fd = openSync(sliceFile, "w");
  writeSync(fd, slice.join("\n") + "\n");
  closeSync(fd);
}
const json = slice.map((l) => recordToHarmonyJson(JSON.parse(l)));
const convos: Conversation[] = json.map(conversationFromJson);
const enc = await loadHarmonyEncoding("HarmonyGptOss");
const cpuRender = await loadTrainingRenderer();
let sliceTokens = 0;
for (const c of convos) sliceTokens += enc.renderConversationForTraining(c).length;

const renderers: Array<[string, RenderBatch, () => void]> = [["cpu", cpuRender, () => {}]];
if (process.env.HARMONY_BENCH_GPU === "1") {
  const gpu = await openBackend("gpu");
  renderers.push([
    gpu.describe(),
    await loadTrainingRenderer({ encoder: gpu }),
    () => gpu.destroy(),
  ]);
}

let n = 0;
const once = async (format: typeof OUTPUT_FORMATS[number], render: RenderBatch, batch: number) => {
  const prefix = join(work, `b${n++}`);
  const s = await renderDataset({
    inputs: [sliceFile],
    prefix,
    outputFormat: format,
    toConversation: conversationFromJson,
    renderBatch: render,
    batchSize: batch,
  });
  if (s.failed > 0) throw new Error(`Cannot benchmark: ${s.failed} records failed`);
  for (const f of [...s.files, s.errorsFile]) rmSync(f, { force: true });
};

const { enc: ref, close } = await loadReferenceWasm();
group(`render-dataset, ${slice.length} corpus conversations (${sliceTokens} tokens)`, () => {
  summary(() => {
    for (const [name, render] of renderers) {
      for (const format of OUTPUT_FORMATS) {
        bench(`ours ${name} → ${format} (end to end)`, async () => {
          await once(format, render, name === "cpu" ? 64 : 1024);
        });
      }
    }
    bench("ours: renderBatch only (no I/O, no mapping)", () => {
      for (let i = 0; i < convos.length; i += 64) {
        enc.renderBatch(convos.slice(i, i + 64), { mode: "training" });
      }
    });
    bench("openai-harmony WASM: renderConversation only", () => {
      for (const j of json) {
        // deno-lint-ignore no-explicit-any
        ref.renderConversation(j as any, { auto_drop_analysis: true });
      }
    });
  });
});
await run();
await close();

// ---- one run over everything -----------------------------------------------------------------
for (const [name, render, release] of renderers) {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = performance.now();
  const s = await renderDataset({
    inputs,
    prefix: join(work, `full-${n++}`),
    outputFormat: "megatron",
    toConversation: conversationFromJson,
    renderBatch: render,
    batchSize: name === "cpu" ? 64 : 1024,
  });
  const secs = (performance.now() - t0) / 1000;
  clearInterval(timer);
  release();
  const bytes = inputs.reduce((a, f) => a + statSync(f).size, 0);
  console.log(
    `\nfull corpus, ${name}, megatron: ${s.written} records (${s.failed} failed), ${s.tokens} tokens ` +
      `in ${secs.toFixed(2)} s → ${(s.written / secs).toFixed(0)} records/s, ` +
      `${(s.tokens / secs / 1e6).toFixed(2)} M tokens/s, ${(bytes / secs / 1e6).toFixed(1)} MB/s ` +
      `input; peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (this process, bench harness included)`,
  );
}
rmSync(work, { recursive: true, force: true });

// ---- memory on a large input ---------------------------------------------------------------
function memoryBench(gigabytes: number): void {
  const target = gigabytes * 2 ** 30;
  const big = join(work, "big.jsonl");
  const lines = inputs.flatMap((f) => readFileSync(f, "utf8").split("\n").filter((l) => l.trim()));
  const chunk = new TextEncoder().encode(lines.join("\n") + "\n");
  const fd = openSync(big, "w");
  let size = 0;
  while (size < target) {
    writeSync(fd, chunk);
    size += chunk.length;
  }
  closeSync(fd);
  console.log(
    `input: ${(size / 2 ** 30).toFixed(2)} GiB, ${
      lines.length * Math.ceil(target / chunk.length)
    } records`,
  );
  const bin = (name: string) => join(root, "node_modules/.bin", name);
  const runtimes: Array<[string, string[]]> = [
    ["bun", [bin("bun"), join(root, "src/cli.ts")]],
    ["deno", [bin("deno"), "run", "-A", join(root, "src/cli.ts")]],
  ];
  for (const [name, cmd] of runtimes) {
    const out = join(work, `big-${name}`);
    const t0 = performance.now();
    const r = spawnSync("/usr/bin/time", [
      "-f",
      "maxrss_kib=%M",
      ...cmd,
      "render-dataset",
      big,
      "--out",
      out,
      "--backend",
      "cpu",
    ], { encoding: "utf8", maxBuffer: 1 << 26 });
    const secs = (performance.now() - t0) / 1000;
    const rss = /maxrss_kib=(\d+)/.exec(r.stderr ?? "");
    const line = (r.stderr ?? "").split("\n").find((l) => l.startsWith("render-dataset:"));
    console.log(
      `${name}: exit ${r.status}, ${secs.toFixed(0)} s, peak RSS ${
        rss ? (Number(rss[1]) / 1024).toFixed(0) : "?"
      } MiB\n  ${line ?? r.stderr}`,
    );
    for (const f of readdirSync(work)) if (f.startsWith(`big-${name}`)) rmSync(join(work, f));
  }
}
