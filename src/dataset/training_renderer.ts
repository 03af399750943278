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

/** Options of {@link loadTrainingRenderer}. */
export interface TrainingRendererOptions {
  /** Keep analysis messages that training rendering would drop (`autoDropAnalysis: false`). */
  keepAnalysis?: boolean;
  /**
   * Encodes the texts of a batch (an `Engine` from `openBackend`). Default: the encoding's CPU
   * tokenizer. A batch the encoder returns synchronously is rendered synchronously.
   */
  encoder?: BatchEncoder;
}

function toResults(items: BatchItem[]): Array<RenderResult | Error> {
  const out = new Array<RenderResult | Error>(items.length);
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    out[i] = it.error ?? { tokens: it.tokens, spans: it.spans };
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
  const opts = { mode: "training" as const, config: { autoDropAnalysis: !options.keepAnalysis } };
  const encoder = options.encoder;
  if (!encoder) return (conversations) => toResults(enc.renderBatch(conversations, opts));
  return (conversations) => {
    const plan = enc.planBatch(conversations, opts);
    const batch = encoder.encodeBatch(plan.texts, ORDINARY);
    return batch instanceof Promise
      ? batch.then((b: EncodedBatch) => toResults(plan.finish(b)))
      : toResults(plan.finish(batch));
  };
}
