/**
 * The shape of GPU encode time against batch size: for batches of 16 KiB to 4 MiB of corpus text,
 * the GPU backend's wall ms, host ms (the JS thread in the plan) and kernel time (timestamp
 * queries, where the adapter has them), per MB, beside the CPU backend — to see whether device
 * time grows linearly (no cliff) and what the fixed cost per batch is. Best of 3, interleaved.
 *
 *   npx deno run -A bench/gpu_batch_shape.ts        npx bun bench/gpu_batch_shape.ts
 *
 * @module
 */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { CpuBackend } from "../src/engine/cpu_backend.ts";
import { createGpuBackend } from "../src/engine/gpu_backend.ts";
import { findGpu } from "../src/gpu/runtime.ts";

const shared = new URL("../../shared/corpus/text/", import.meta.url);
const dir = existsSync(shared) ? shared : new URL("../test/fixtures/text/", import.meta.url);
const lines: string[] = [];
for (const f of readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()) {
  lines.push(...readFileSync(new URL(f, dir), "utf8").split(/\n(?=\n)/).slice(0, 200));
}
const batchOf = (units: number) => {
  const out: string[] = [];
  let n = 0;
  for (let i = 0; n < units; i++) {
    const t = lines[(i * 7919) % lines.length];
    out.push(t);
    n += t.length;
  }
  return out;
};

const gpuObject = await findGpu();
if (!gpuObject) {
  console.log("no WebGPU adapter");
} else {
  const gpu = await createGpuBackend(gpuObject, { timestamps: true });
  const cpu = await CpuBackend.create();
  await gpu.encodeBatch(batchOf(4096));
  console.log(`adapter: ${gpu.ctx.adapter.name}; timestamp-query: ${gpu.ctx.timestamps}`);
  console.log(`load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  console.log("batch KiB | MB | GPU wall ms | GPU ms/MB | host ms/MB | kernel ms | CPU ms/MB");
  for (const kib of [16, 64, 256, 1024, 4096]) {
    const texts = batchOf(kib * 1024);
    let wall = Infinity, host = Infinity, kernel = Infinity, c = Infinity, mb = 0;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      await gpu.encodeBatch(texts);
      wall = Math.min(wall, performance.now() - t0);
      const s = gpu.lastStats();
      mb = (s.inputBytes ?? 0) / 1e6;
      host = Math.min(host, s.hostMs ?? NaN);
      kernel = Math.min(kernel, s.gpuTimeNs / 1e6);
      const t1 = performance.now();
      cpu.encodeBatch(texts);
      c = Math.min(c, performance.now() - t1);
    }
    console.log(
      `${kib} | ${mb.toFixed(3)} | ${wall.toFixed(1)} | ${(wall / mb).toFixed(1)} | ` +
        `${(host / mb).toFixed(1)} | ${gpu.ctx.timestamps ? kernel.toFixed(1) : "n/a"} | ` +
        `${(c / mb).toFixed(1)}`,
    );
  }
  console.log(`load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  gpu.destroy();
}
