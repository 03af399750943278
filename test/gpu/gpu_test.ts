import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SHADERS } from "../../src/gpu/_shaders.ts";
import { readShaderFiles } from "../../src/gpu/_generate_shaders.ts";
import { dispatchSize } from "../../src/gpu/pipeline_cache.ts";
import { sizeClass } from "../../src/gpu/buffer_pool.ts";
import { summarizeAdapter } from "../../src/gpu/context.ts";
import { buildSpecialTables } from "../../src/gpu/tables.ts";
import { findSpecialsCpu } from "../../src/gpu/special_scan.ts";
import { scanTokensCpu } from "../../src/gpu/token_scan.ts";
import { createGpuBackend } from "../../src/engine/gpu_backend.ts";
import { CpuBackend } from "../../src/engine/cpu_backend.ts";
import { harmonySpecialTokens } from "../../src/tokenizer/special_tokens.ts";
import { loadVocabulary } from "../../src/tokenizer/vocabulary.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import { gpuSkip, requireGpu } from "./gpu_env.ts";
import { harmonySamples, textSamples } from "../engine/samples.ts";

/** Fails a test when the GPU work fell back to the CPU (a kernel that does not compile or run). */
function noFallback(message: string): never {
  throw new Error(`The GPU fell back to the CPU: ${message}`);
}

test("the embedded shaders equal shaders/*.wgsl (regenerate with src/gpu/_generate_shaders.ts)", async () => {
  const files = await readShaderFiles();
  assert.deepEqual(Object.keys(SHADERS).sort(), files.map(([n]) => n));
  for (const [name, code] of files) assert.equal(SHADERS[name], code, name);
  assert.match(
    readFileSync(new URL("../../src/gpu/_shaders.ts", import.meta.url), "utf8"),
    /do not edit/,
  );
});

test("dispatchSize() folds grids above the per-dimension limit and rejects impossible ones", () => {
  assert.deepEqual(dispatchSize(1, 64, 65535), [1, 1]);
  assert.deepEqual(dispatchSize(64 * 65535, 64, 65535), [65535, 1]);
  assert.deepEqual(dispatchSize(64 * 65535 + 1, 64, 65535), [65535, 2]);
  assert.deepEqual(dispatchSize(100, 1, 10), [10, 10]);
  assert.throws(() => dispatchSize(101, 1, 10), RangeError);
});

test("sizeClass() rounds up to 16 bytes, then to quarter powers of two", () => {
  assert.equal(sizeClass(1), 16);
  assert.equal(sizeClass(200), 208);
  assert.equal(sizeClass(1000), 1024);
  assert.equal(sizeClass(1025), 1280);
});

test("summarizeAdapter() flags llvmpipe, lavapipe, SwiftShader and fallback adapters as software", () => {
  assert.equal(
    summarizeAdapter({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" }).software,
    true,
  );
  assert.equal(summarizeAdapter({ vendor: "mesa", device: "lavapipe" }).software, true);
  assert.equal(summarizeAdapter({ description: "SwiftShader Device" }).software, true);
  assert.equal(summarizeAdapter({ description: "NVIDIA GeForce RTX 4090" }).software, false);
  assert.equal(summarizeAdapter({ description: "x", isFallbackAdapter: true }).software, true);
});

test("special literals of o200k_harmony are delimited and found by the CPU scan", () => {
  const t = buildSpecialTables(harmonySpecialTokens());
  assert.equal(t.delimited, true);
  assert.equal(t.count, 1091);
  const text = new TextEncoder().encode("x<|<|end|>|> <|reserved_200123|><|nope|>");
  assert.deepEqual([...findSpecialsCpu(t, text)], [3, 200007 - 199998, 13, 200123 - 199998]);
});

test("scanTokensCpu() gives byte offsets, bytes and special positions", async () => {
  const tok = await loadTokenizer();
  const ids = tok.encode("<|start|>user<|message|>héllo<|end|>", { allowedSpecial: "all" });
  const s = scanTokensCpu(await loadVocabulary(), buildSpecialTables(harmonySpecialTokens()), ids);
  assert.equal(new TextDecoder().decode(s.bytes), "<|start|>user<|message|>héllo<|end|>");
  assert.deepEqual([...s.specialPositions], [0, 2, ids.length - 1]);
  assert.equal(s.byteOffsets[ids.length], s.bytes.length);
});

test("GPU special scan and token scan equal the CPU ones", { skip: gpuSkip }, async () => {
  const backend = await createGpuBackend(requireGpu(), {
    maxStorageBufferBindingSize: 32 * 1024,
    onWarning: noFallback,
  });
  try {
    const tok = await loadTokenizer();
    const texts = [...harmonySamples(), ...textSamples(1, 300)];
    const ids = texts.map((t) => tok.encode(t, { allowedSpecial: "all" }));
    const all = new Uint32Array(ids.reduce((a, x) => a + x.length, 0));
    let at = 0;
    for (const x of ids) all.set(x, at), at += x.length;
    const gpu = await backend.scanTokens(all);
    const cpu = scanTokensCpu(backend.vocab, buildSpecialTables(harmonySpecialTokens()), all);
    assert.deepEqual(gpu.byteOffsets, cpu.byteOffsets);
    assert.deepEqual(gpu.bytes, cpu.bytes);
    assert.deepEqual(gpu.specialPositions, cpu.specialPositions);
    assert.ok(backend.lastStats().chunks >= 0);
  } finally {
    backend.destroy();
  }
});

test(
  "a batch above the binding limit is split into chunks with the same tokens",
  { skip: gpuSkip },
  async () => {
    const backend = await createGpuBackend(requireGpu(), {
      maxStorageBufferBindingSize: 4096,
      onWarning: noFallback,
    });
    try {
      const texts = textSamples(1, 600);
      const want = await (await CpuBackend.create()).encodeBatch(texts, { disallowedSpecial: [] });
      const got = await backend.encodeBatch(texts, { disallowedSpecial: [] });
      assert.ok(backend.lastStats().chunks > 3, `chunks: ${backend.lastStats().chunks}`);
      assert.deepEqual(got.offsets, want.offsets);
      assert.deepEqual(got.tokens, want.tokens);
    } finally {
      backend.destroy();
    }
  },
);

test("a lost device mid-batch finishes on the CPU with the same output and warns once", {
  skip: gpuSkip,
}, async () => {
  const warnings: string[] = [];
  const backend = await createGpuBackend(requireGpu(), { onWarning: (m) => warnings.push(m) });
  try {
    const texts = ["hello world", "<|start|>user", "x".repeat(100)];
    const want = await (await CpuBackend.create()).encodeBatch(texts, { allowedSpecial: "all" });
    backend.ctx.device.destroy();
    const got = await backend.encodeBatch(texts, { allowedSpecial: "all" });
    const again = await backend.encodeBatch(texts, { allowedSpecial: "all" });
    assert.deepEqual(got.tokens, want.tokens);
    assert.deepEqual(again.offsets, want.offsets);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /finishing on the CPU/);
  } finally {
    backend.destroy();
  }
});

test("createEngine({ backend: 'auto' }) refuses a software adapter before creating a device", {
  skip: gpuSkip,
}, async () => {
  const real = requireGpu();
  let devices = 0;
  // Wrap the runtime's GPU so that device requests are counted.
  const counting = {
    requestAdapter: async (o?: GPURequestAdapterOptions) => {
      const a = await real.requestAdapter(o);
      if (!a) return a;
      return new Proxy(a, {
        get(target, key) {
          if (key === "requestDevice") {
            return (d?: GPUDeviceDescriptor) => {
              devices++;
              return target.requestDevice(d);
            };
          }
          const v = Reflect.get(target, key, target);
          return typeof v === "function" ? v.bind(target) : v;
        },
      });
    },
  } as unknown as GPU;
  const { createEngine } = await import("../../src/engine/mod.ts");
  const engine = await createEngine({ backend: "auto", gpu: counting, minGpuBatchBytes: 1 });
  try {
    await engine.encodeBatch(["hello"]); // auto opens the GPU on the first batch big enough

    const adapter = await real.requestAdapter();
    const info = (adapter as { info?: GPUAdapterInfo } | null)?.info;
    const software = summarizeAdapter({
      vendor: info?.vendor,
      architecture: info?.architecture,
      device: info?.device,
      description: info?.description,
    }).software;
    if (software) {
      assert.deepEqual(engine.info().backends, ["cpu"]);
      assert.match(engine.info().reason ?? "", /software adapter/);
      assert.equal(devices, 0);
    } else {
      assert.ok(engine.info().backends.includes("gpu"), "a hardware adapter is used by auto");
    }
  } finally {
    engine.destroy();
  }
});
