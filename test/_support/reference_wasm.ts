// The reference compiled to WASM (the `openai-harmony` npm package), for side-by-side checks in
// tests: the loader lives in src/bench/harmony_wasm.ts (benchmarks use it too); this adds the
// package's own types for callers that pass harmony JSON straight through.
import type { JsHarmonyEncoding } from "openai-harmony";
import { loadHarmonyWasm } from "../../src/bench/harmony_wasm.ts";

export { O200K_BASE_SHA256, tiktokenVocabFile } from "../../src/bench/harmony_wasm.ts";

/** The reference's WASM encoding (HarmonyGptOss), loaded once per process. */
export async function loadReferenceEncoding(): Promise<JsHarmonyEncoding> {
  return await loadHarmonyWasm() as unknown as JsHarmonyEncoding;
}

/** Compatibility shape for callers that close what they load: the server is already stopped. */
export async function loadReferenceWasm(): Promise<
  { enc: JsHarmonyEncoding; close(): Promise<void> }
> {
  return { enc: await loadReferenceEncoding(), close: () => Promise.resolve() };
}
