/**
 * GPU vs CPU batch throughput: `encodeBatch` and `parseBatch` of the engine for batches of 1 to
 * 100,000 segments (message contents of `examples/sample.jsonl`, repeated), plus tiktoken (WASM)
 * encoding the same texts one by one as a peer.
 *
 * Before the timed runs it prints, per batch size and backend, one batch's dispatches, bytes moved
 * (upload + read-back) and kernel time from `timestamp-query` (where the adapter has it). GPU
 * figures include upload and read-back. On a software adapter (llvmpipe, lavapipe) sizes stop at
 * 10,000 segments so the run finishes in a few minutes.
 *
 *   npx bun bench/gpu.bench.ts        npx deno run -A bench/gpu.bench.ts
 *
 * @module
 */

import { bench, group, run, summary } from "mitata";
import { readFileSync } from "node:fs";
import { get_encoding } from "tiktoken";
import { CpuBackend } from "../src/engine/cpu_backend.ts";
import { createGpuBackend, type GpuBackend } from "../src/engine/gpu_backend.ts";
import type { Backend } from "../src/engine/backend.ts";
import { findGpu } from "../src/gpu/runtime.ts";
import { loadTokenizer } from "../src/tokenizer/mod.ts";

const sample = readFileSync(new URL("../examples/sample.jsonl", import.meta.url), "utf8");
const contents: string[] = [];
for (const line of sample.split("\n")) {
  if (!line.trim()) continue;
  for (
    const m of (JSON.parse(line) as { messages: Array<{ content: string | null }> }).messages
  ) {
    // Assistant turns that only call tools have `content: null`.
    if (typeof m.content === "string") contents.push(m.content);
  }
}
const textsOf = (n: number) => Array.from({ length: n }, (_, i) => contents[i % contents.length]);

const tok = await loadTokenizer();
const cold0 = performance.now();
const cpu = await CpuBackend.create();
const gpuObject = await findGpu();
let gpu: GpuBackend | undefined;
if (gpuObject) {
  try {
    gpu = await createGpuBackend(gpuObject, { timestamps: true });
    await gpu.encodeBatch(["warm up"], { disallowedSpecial: [] }); // tables upload, pipelines
    await gpu.parseBatch([
      tok.encode("<|start|>user<|message|>hi<|end|>", { allowedSpecial: "all" }),
    ]);
  } catch (e) {
    console.log(`GPU backend unavailable: ${e instanceof Error ? e.message : String(e)}`);
  }
}
const cold = performance.now() - cold0;
const adapter = gpu ? gpu.ctx.adapter.name : "none";
const software = gpu?.ctx.adapter.software ?? true;
console.log(`adapter: ${adapter}${software && gpu ? " (software)" : ""}`);
console.log(`cold start (vocabulary, GPU tables, pipelines): ${cold.toFixed(0)} ms`);
console.log(`timestamp-query: ${gpu?.ctx.timestamps ? "yes" : "no"}`);

const sizes = software ? [1, 10, 100, 1000, 10000] : [1, 10, 100, 1000, 10000, 100000];
const enc = get_encoding("o200k_base");
const completionsOf = (texts: string[]) =>
  texts.map((t) =>
    tok.encode(`<|channel|>final<|message|>${t}<|return|>`, { allowedSpecial: "all" })
  );

// One batch per size and backend: what it moved and how long the kernels ran.
const backends: Backend[] = gpu ? [cpu, gpu] : [cpu];
console.log(
  "\nbatch  backend  task    tokens     ms      tokens/s   dispatches  bytes moved  kernel ms",
);
for (const n of sizes) {
  const texts = textsOf(n), completions = completionsOf(texts);
  for (const b of backends) {
    for (const task of ["encode", "parse"] as const) {
      const t0 = performance.now();
      if (task === "encode") await b.encodeBatch(texts, { disallowedSpecial: [] });
      else await b.parseBatch(completions, { role: "assistant" });
      const ms = performance.now() - t0;
      const s = b.lastStats();
      console.log(
        `${String(n).padStart(6)}  ${b.kind.padEnd(7)}  ${task.padEnd(6)}  ${
          String(s.tokens).padStart(8)
        }  ` +
          `${ms.toFixed(1).padStart(7)}  ${
            String(Math.round(s.tokens / (ms / 1000))).padStart(10)
          }  ` +
          `${String(s.dispatches).padStart(10)}  ${String(s.bytesMoved).padStart(11)}  ` +
          `${s.gpuTimeNs ? (s.gpuTimeNs / 1e6).toFixed(2) : "-"}`,
      );
    }
  }
}

for (const n of sizes) {
  const texts = textsOf(n), completions = completionsOf(texts);
  group(`encodeBatch, ${n} segments`, () => {
    summary(() => {
      bench(
        "harmony-engine cpu",
        async () => await cpu.encodeBatch(texts, { disallowedSpecial: [] }),
      );
      if (gpu) {
        const g = gpu;
        bench(
          `harmony-engine gpu (${adapter.slice(0, 24)})`,
          async () => await g.encodeBatch(texts, { disallowedSpecial: [] }),
        );
      }
      bench("tiktoken (wasm), one by one", () => {
        for (const t of texts) enc.encode_ordinary(t);
      });
    });
  });
  group(`parseBatch, ${n} completions`, () => {
    summary(() => {
      bench(
        "harmony-engine cpu",
        async () => await cpu.parseBatch(completions, { role: "assistant" }),
      );
      if (gpu) {
        const g = gpu;
        bench(
          `harmony-engine gpu (${adapter.slice(0, 24)})`,
          async () => await g.parseBatch(completions, { role: "assistant" }),
        );
      }
    });
  });
}

await run();
enc.free();
gpu?.destroy();
