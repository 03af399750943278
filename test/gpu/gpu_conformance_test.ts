import { runBackendConformance } from "../engine/conformance.ts";
import { createGpuBackend } from "../../src/engine/gpu_backend.ts";
import { gpuSkip, requireGpu } from "./gpu_env.ts";

// A GPU failure would finish on the CPU with the same output and only warn: here it fails the
// suite, so a kernel that does not compile or run cannot hide behind the fallback.
const onWarning = (message: string) => {
  throw new Error(`The GPU fell back to the CPU: ${message}`);
};

runBackendConformance("gpu backend", () => createGpuBackend(requireGpu(), { onWarning }), gpuSkip);

// The same suite with a tiny storage-binding limit: every batch is split into many chunks.
runBackendConformance(
  "gpu backend (16 KiB bindings)",
  () => createGpuBackend(requireGpu(), { maxStorageBufferBindingSize: 16 * 1024, onWarning }),
  gpuSkip,
);
