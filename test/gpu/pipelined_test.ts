import { test } from "node:test";
import assert from "node:assert/strict";
import { BufferUsage } from "../../src/gpu/_flags.ts";
import { createGpuBackend, type GpuBackend, MAX_IN_FLIGHT } from "../../src/engine/gpu_backend.ts";
import { CpuBackend } from "../../src/engine/cpu_backend.ts";
import { gpuSkip, requireGpu } from "./gpu_env.ts";
import { harmonySamples, textSamples } from "../engine/samples.ts";

function noFallback(message: string): never {
  throw new Error(`The GPU fell back to the CPU: ${message}`);
}

/**
 * Logs the backend's piece-encoding submissions (`submit`) and the read-backs' mappings
 * (`mapped`), in the order the device sees them.
 */
function instrument(backend: GpuBackend): string[] {
  const log: string[] = [];
  const ctx = backend.ctx;
  const create = ctx.device.createCommandEncoder.bind(ctx.device);
  ctx.device.createCommandEncoder = (d?: GPUCommandEncoderDescriptor) => {
    if (d?.label === "encode pieces") log.push("submit");
    return create(d);
  };
  const wrapped = new WeakSet<GPUBuffer>();
  const acquire = ctx.pool.acquire.bind(ctx.pool);
  ctx.pool.acquire = (size: number, usage: number, label: string) => {
    const b = acquire(size, usage, label);
    if ((usage & BufferUsage.MAP_READ) !== 0 && label === "read" && !wrapped.has(b)) {
      wrapped.add(b);
      const map = b.mapAsync.bind(b);
      b.mapAsync = (mode: GPUMapModeFlags, offset?: number, size?: number) =>
        map(mode, offset, size).then(() => void log.push("mapped"));
    }
    return b;
  };
  return log;
}

const texts = textSamples(1, 600);

test("the next chunk of a batch is submitted before the current one is read back", {
  skip: gpuSkip,
}, async () => {
  const backend = await createGpuBackend(requireGpu(), {
    maxStorageBufferBindingSize: 4096,
    onWarning: noFallback,
  });
  try {
    const log = instrument(backend);
    const want = (await CpuBackend.create()).encodeBatch(texts, { disallowedSpecial: [] });
    const got = await backend.encodeBatch(texts, { disallowedSpecial: [] });
    assert.deepEqual(got.offsets, want.offsets);
    assert.deepEqual(got.tokens, want.tokens);
    assert.ok(backend.lastStats().chunks > 3);
    const firstMap = log.indexOf("mapped");
    assert.ok(firstMap >= 2, `submissions before the first read-back: ${log.slice(0, 6)}`);
    assert.equal(log.filter((e) => e === "submit").length, backend.lastStats().chunks);
  } finally {
    backend.destroy();
  }
});

test(
  `overlapping batches give each batch the CPU's tokens, with at most ${MAX_IN_FLIGHT} chunks in flight`,
  {
    skip: gpuSkip,
  },
  async () => {
    const backend = await createGpuBackend(requireGpu(), {
      maxStorageBufferBindingSize: 16 * 1024,
      onWarning: noFallback,
    });
    try {
      const log = instrument(backend);
      const cpu = await CpuBackend.create();
      const batches = [
        ...Array.from({ length: 4 }, (_, k) => textSamples(k + 2, 150)),
        harmonySamples(),
        harmonySamples().map((s) => s.repeat(3)),
      ];
      // Without special tokens to look for, each batch submits its first chunk synchronously.
      const options = { disallowedSpecial: [] };
      const got = await Promise.all(batches.map((b) => backend.encodeBatch(b, options)));
      for (let k = 0; k < batches.length; k++) {
        const want = cpu.encodeBatch(batches[k], options);
        assert.deepEqual(got[k].offsets, want.offsets, `batch ${k}`);
        assert.deepEqual(got[k].tokens, want.tokens, `batch ${k}`);
      }
      // With special tokens allowed, the special scans (one at a time) interleave with chunks.
      const all = { allowedSpecial: "all" as const };
      const got2 = await Promise.all(batches.map((b) => backend.encodeBatch(b, all)));
      for (let k = 0; k < batches.length; k++) {
        const want = cpu.encodeBatch(batches[k], all);
        assert.deepEqual(got2[k].offsets, want.offsets, `batch ${k} (specials)`);
        assert.deepEqual(got2[k].tokens, want.tokens, `batch ${k} (specials)`);
      }
      let open = 0, peak = 0, overlap = false;
      for (const e of log) {
        open += e === "submit" ? 1 : -1;
        peak = Math.max(peak, open);
        if (open > 1) overlap = true;
      }
      assert.ok(overlap, "no two chunks were ever in flight together");
      assert.ok(peak <= MAX_IN_FLIGHT, `peak in flight: ${peak}`);
    } finally {
      backend.destroy();
    }
  },
);

test("a device lost while batches are in flight: every batch still gets the CPU's tokens", {
  skip: gpuSkip,
}, async () => {
  const warnings: string[] = [];
  const backend = await createGpuBackend(requireGpu(), {
    maxStorageBufferBindingSize: 16 * 1024,
    onWarning: (m) => warnings.push(m),
  });
  try {
    const cpu = await CpuBackend.create();
    const batches = [textSamples(1, 200), textSamples(2, 200), textSamples(3, 200)];
    const running = batches.slice(0, 2).map((b) => backend.encodeBatch(b));
    await Promise.resolve();
    backend.ctx.device.destroy();
    running.push(backend.encodeBatch(batches[2]));
    const got = await Promise.all(running);
    for (let k = 0; k < batches.length; k++) {
      const want = cpu.encodeBatch(batches[k]);
      assert.deepEqual(got[k].offsets, want.offsets, `batch ${k}`);
      assert.deepEqual(got[k].tokens, want.tokens, `batch ${k}`);
    }
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /finishing on the CPU/);
  } finally {
    backend.destroy();
  }
});
