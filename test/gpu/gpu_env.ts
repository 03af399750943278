/**
 * Whether GPU tests run, decided once at registration: with no adapter they are skipped with a
 * printed reason, unless `HARMONY_REQUIRE_GPU=1` (CI), which turns "no adapter" into failures.
 *
 * @module
 */

import process from "node:process";
import { findGpu } from "../../src/gpu/runtime.ts";

/** The runtime's GPU object, if any. */
export const gpu: GPU | undefined = await findGpu();
const adapter = gpu ? await gpu.requestAdapter() : null;
const required = process.env.HARMONY_REQUIRE_GPU === "1";

/** `false` when GPU tests run, else the reason they are skipped. */
export const gpuSkip: string | false = adapter || required
  ? false
  : "no WebGPU adapter (set HARMONY_REQUIRE_GPU=1 to fail instead)";
if (gpuSkip) console.log(`GPU tests skipped: ${gpuSkip}`);

/** The GPU object, or a GPU without adapters (so tests fail clearly under HARMONY_REQUIRE_GPU). */
export function requireGpu(): GPU {
  return gpu ?? ({ requestAdapter: () => Promise.resolve(null) } as unknown as GPU);
}
