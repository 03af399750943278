import { runBackendConformance } from "../engine/conformance.ts";
import { createGpuBackend } from "../../src/engine/gpu_backend.ts";
import { gpuSkip, requireGpu } from "./gpu_env.ts";

runBackendConformance("gpu backend", () => createGpuBackend(requireGpu()), gpuSkip);

// The same suite with a tiny storage-binding limit: every batch is split into many chunks.
runBackendConformance(
  "gpu backend (16 KiB bindings)",
  () => createGpuBackend(requireGpu(), { maxStorageBufferBindingSize: 16 * 1024 }),
  gpuSkip,
);
