/**
 * The real renderer of `render-dataset`: the harmony encoding's batch rendering in `training`
 * mode (`renderConversationForTraining` token for token, with message spans). The texts of a
 * batch are encoded by the CPU tokenizer, or by the engine (`src/engine`) on a GPU. This is the
 * one place where the dataset pipeline meets the encoding and the engine.
 *
 * @module
 */

import { loadHarmonyEncoding } from "../encoding/mod.ts";
import type { RenderBatch, RenderResult } from "./pipeline.ts";
import {
  type AnalysisPolicy,
  analysisRenderConfig,
  selectAnalysisBatch,
} from "./analysis_policy.ts";

/** Backends of `--backend`. */
export const BACKENDS = ["auto", "cpu", "gpu"] as const;

/** One of {@link BACKENDS}. */
export type Backend = typeof BACKENDS[number];

/** Encodes many texts as ordinary text (the engine's `encodeOrdinaryBatch`). */
export interface TextBatchEncoder {
  /** Returns the tokens of each text, in order. */
  encodeOrdinaryBatch(texts: readonly string[]): Promise<Uint32Array[]> | Uint32Array[];
}

/** Options of {@link loadTrainingRenderer}. */
export interface TrainingRendererOptions {
  /**
   * Which analysis messages are rendered (`analysis_policy.ts`; default `reference`, as
   * `renderConversationForTraining`; `render-dataset` defaults to `last-turn`). Each result
   * carries the counts.
   */
  analysis?: AnalysisPolicy;
  /** Alias of `analysis: "keep"` (the former `--keep-analysis`). */
  keepAnalysis?: boolean;
  /** Encodes the texts of a batch (default: the encoding's CPU tokenizer, synchronously). */
  encoder?: TextBatchEncoder;
}

/**
 * Loads the encoding and returns a {@link RenderBatch} for training data.
 *
 * @example
 * ```ts
 * import { loadTrainingRenderer } from "./training_renderer.ts";
 * import { Conversation, Message, Role } from "../mod.ts";
 * const render = await loadTrainingRenderer();
 * const [r] = await render([Conversation.fromMessages([Message.fromRoleAndContent(Role.User, "Hi")])]);
 * ```
 */
export async function loadTrainingRenderer(
  options: TrainingRendererOptions = {},
): Promise<RenderBatch> {
  const enc = await loadHarmonyEncoding("HarmonyGptOss");
  const policy = options.analysis ?? (options.keepAnalysis ? "keep" : "reference");
  const opts = { mode: "training" as const, config: analysisRenderConfig(policy) };
  const toResults = (
    items: ReturnType<typeof enc.renderBatch>,
    analysis: ReturnType<typeof selectAnalysisBatch>["counts"],
  ) => {
    const out = new Array<RenderResult | Error>(items.length);
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      out[i] = it.error ?? { tokens: it.tokens, spans: it.spans, analysis: analysis[i] };
    }
    return out;
  };
  const encoder = options.encoder;
  if (!encoder) {
    return (conversations) => {
      const s = selectAnalysisBatch(conversations, policy);
      return toResults(enc.renderBatch(s.conversations, opts), s.counts);
    };
  }
  return async (conversations) => {
    const s = selectAnalysisBatch(conversations, policy);
    const plan = enc.planBatch(s.conversations, opts);
    const tokens = plan.texts.length > 0 ? await encoder.encodeOrdinaryBatch(plan.texts) : [];
    return toResults(plan.finish(tokens), s.counts);
  };
}

/** The text encoder chosen for `--backend`, and how to release it. */
export interface ResolvedBackend {
  /** The engine as a text encoder, or undefined for the encoding's own CPU path. */
  encoder?: TextBatchEncoder;
  /** `cpu`, or `gpu (ADAPTER)`. */
  description: string;
  /** Why the GPU is not used, when `auto` fell back to the CPU. */
  reason?: string;
  /** Frees the GPU device, if any. */
  close(): void;
}

/**
 * Resolves `--backend`: `cpu` uses the encoding's CPU tokenizer; `gpu` requires the engine's GPU
 * backend; `auto` uses a hardware GPU when the engine finds one and the CPU otherwise (software
 * adapters are slower than the CPU path).
 *
 * @throws {GpuUnavailableError} for `gpu` when no WebGPU adapter or device exists.
 * @example
 * ```ts
 * import { resolveBackend } from "./training_renderer.ts";
 * const b = await resolveBackend("cpu");
 * b.description; // "cpu"
 * b.close();
 * ```
 */
export async function resolveBackend(
  kind: Backend,
  onWarning?: (message: string) => void,
): Promise<ResolvedBackend> {
  const cpu: ResolvedBackend = { description: "cpu", close: () => {} };
  if (kind === "cpu") return cpu;
  const { createEngine } = await import("../engine/mod.ts");
  const engine = await createEngine({ backend: kind, onWarning });
  const info = engine.info();
  if (!info.backends.includes("gpu")) {
    engine.destroy();
    return { ...cpu, reason: info.reason };
  }
  return {
    encoder: engine,
    description: `gpu (${(info.adapter ?? "unknown adapter").slice(0, 48)})`,
    close: () => engine.destroy(),
  };
}
