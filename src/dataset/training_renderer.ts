/**
 * The real renderer of `render-dataset`: the harmony encoding's batch rendering in `training`
 * mode (`renderConversationForTraining` token for token, with message spans). The texts of a
 * batch are encoded together by a `BatchEncoder` — the engine opened by `openBackend`
 * (`src/engine`) for `--backend`, or by default the encoding's CPU tokenizer. This is the one
 * place where the dataset pipeline meets the encoding and the engine.
 *
 * @module
 */

import { loadHarmonyEncoding } from "../encoding/mod.ts";
import type { BatchItem } from "../render/plan.ts";
import { type BatchEncoder, type EncodedBatch, ORDINARY } from "../tokenizer/encoded_batch.ts";
import type { RenderBatch, RenderResult } from "./pipeline.ts";
import {
  type AnalysisPolicy,
  analysisRenderConfig,
  selectAnalysisBatch,
} from "./analysis_policy.ts";

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
  /**
   * Encodes the texts of a batch (an `Engine` from `openBackend`). Default: the encoding's CPU
   * tokenizer. A batch the encoder returns synchronously is rendered synchronously.
   */
  encoder?: BatchEncoder;
}

function toResults(
  items: BatchItem[],
  analysis: ReturnType<typeof selectAnalysisBatch>["counts"],
): Array<RenderResult | Error> {
  const out = new Array<RenderResult | Error>(items.length);
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    out[i] = it.error ?? { tokens: it.tokens, spans: it.spans, analysis: analysis[i] };
  }
  return out;
}

/**
 * Loads the encoding and returns a {@link RenderBatch} for training data.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { loadTrainingRenderer } from "./training_renderer.ts";
 * import { Conversation, Message, Role } from "../mod.ts";
 * const render = await loadTrainingRenderer();
 * const [r] = await render([Conversation.fromMessages([Message.fromRoleAndContent(Role.User, "Hi")])]);
 * ok(!(r instanceof Error) && r.tokens[0] === 200006);
 * ```
 */
export async function loadTrainingRenderer(
  options: TrainingRendererOptions = {},
): Promise<RenderBatch> {
  const enc = await loadHarmonyEncoding("HarmonyGptOss");
  const policy = options.analysis ?? (options.keepAnalysis ? "keep" : "reference");
  const opts = { mode: "training" as const, config: analysisRenderConfig(policy) };
  const encoder = options.encoder;
  if (!encoder) {
    return (conversations) => {
      const s = selectAnalysisBatch(conversations, policy);
      return toResults(enc.renderBatch(s.conversations, opts), s.counts);
    };
  }
  return (conversations) => {
    const s = selectAnalysisBatch(conversations, policy);
    const plan = enc.planBatch(s.conversations, opts);
    const batch = encoder.encodeBatch(plan.texts, ORDINARY);
    return batch instanceof Promise
      ? batch.then((b: EncodedBatch) => toResults(plan.finish(b), s.counts))
      : toResults(plan.finish(batch), s.counts);
  };
}
