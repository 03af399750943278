/**
 * Prints what this runtime sees of WebGPU: whether a `GPU` object exists, the adapter (vendor,
 * architecture, device, description, fallback/software), the limits the engine depends on and
 * whether `timestamp-query` is there. Exit 0 with an adapter, 1 without (and says why).
 *
 *   npx deno run -A scripts/gpu_diagnose.ts
 *   npx bun scripts/gpu_diagnose.ts
 *
 * @module
 */

import process from "node:process";
import { findGpu } from "../src/gpu/runtime.ts";
import { runtimeFacts } from "../src/bench/machine.ts";

const { runtime, version } = runtimeFacts();
const where = `${runtime} ${version}`;
const gpu = await findGpu();
if (!gpu) {
  console.log(
    `${where}: no WebGPU (${
      runtime === "bun"
        ? "the optional `webgpu` package is not installed: npm install webgpu"
        : "navigator.gpu is missing"
    })`,
  );
  process.exit(1);
}
const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
if (!adapter) {
  console.log(
    `${where}: WebGPU is there but offers no adapter — usually no Vulkan driver: install the GPU ` +
      "vendor's Vulkan ICD (NVIDIA: the driver's nvidia_icd.json in /usr/share/vulkan/icd.d or " +
      "/etc/vulkan/icd.d; AMD/Intel: Mesa's mesa-vulkan-drivers)",
  );
  process.exit(1);
}
const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
const software = Boolean(
  (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ||
    /llvmpipe|lavapipe|swiftshader|software/i.test(
      `${info?.description ?? ""} ${info?.device ?? ""} ${info?.architecture ?? ""}`,
    ),
);
const l = adapter.limits;
console.log(JSON.stringify({
  runtime: where,
  vendor: info?.vendor ?? "",
  architecture: info?.architecture ?? "",
  device: info?.device ?? "",
  description: info?.description ?? "",
  software,
  timestampQuery: adapter.features.has("timestamp-query"),
  maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
  maxBufferSize: l.maxBufferSize,
  maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
  maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
}));
if (software) {
  console.log(
    `${where}: this is a software adapter — results prove correctness, not GPU speed; ` +
      "the engine's auto mode never picks it",
  );
}
