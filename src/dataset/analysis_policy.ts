/**
 * Which analysis (reasoning) messages a training record keeps: the `--analysis` policy of
 * `render-dataset` and the `analysis` option of the training renderer.
 *
 * - `last-turn` (default): keep the analysis of the last assistant turn (the messages after the
 *   last user message), drop earlier turns' analysis — how gpt-oss sees its history at inference
 *   (docs/format.md of openai/harmony, "Reasoning": previous turns' chain of thought is dropped)
 *   and what the gpt-oss chat template renders for training;
 * - `keep`: keep every analysis message (`autoDropAnalysis: false`);
 * - `reference`: the reference's `renderConversationForTraining` with its default config
 *   (`autoDropAnalysis: true`: analysis before the first final message is dropped when the last
 *   assistant message is final; src/encoding.rs);
 * - `none`: drop every analysis message.
 *
 * The policies other than `reference` select messages here and render the rest with
 * `autoDropAnalysis: false`, so the renderer is the reference's, unchanged.
 *
 * @module
 */

import { Conversation, type Message } from "../chat/message.ts";
import { keptMessages, type RenderConversationConfig } from "../render/renderer.ts";

/** The `--analysis` policies. */
export const ANALYSIS_POLICIES = ["last-turn", "keep", "reference", "none"] as const;

/** One of {@link ANALYSIS_POLICIES}. */
export type AnalysisPolicy = typeof ANALYSIS_POLICIES[number];

/** Analysis messages of one record: how many were dropped and how many kept. */
export interface AnalysisCounts {
  /** Analysis messages left out of the rendering. */
  dropped: number;
  /** Analysis messages rendered. */
  kept: number;
}

/** A conversation with the policy applied. */
export interface AnalysisSelection {
  /** The messages to render (the input array itself when nothing is dropped). */
  messages: readonly Message[];
  /** The counts. */
  counts: AnalysisCounts;
}

/**
 * The rendering config a policy renders its selection with: the reference's default for
 * `reference`, `autoDropAnalysis: false` for the others (they select messages themselves).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { analysisRenderConfig } from "./analysis_policy.ts";
 * deepStrictEqual(analysisRenderConfig("reference"), { autoDropAnalysis: true });
 * ```
 */
export function analysisRenderConfig(policy: AnalysisPolicy): RenderConversationConfig {
  return { autoDropAnalysis: policy === "reference" };
}

function isAnalysis(m: Message): boolean {
  return m.channel === "analysis";
}

/**
 * Applies a policy to a conversation's messages. `reference` returns the messages unchanged
 * and counts what the reference's rule drops (render them with {@link analysisRenderConfig}).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { selectAnalysis } from "./analysis_policy.ts";
 * import { Message, Role } from "../mod.ts";
 * const msgs = [
 *   Message.fromRoleAndContent(Role.User, "2+2?"),
 *   Message.fromRoleAndContent(Role.Assistant, "Add.").withChannel("analysis"),
 *   Message.fromRoleAndContent(Role.Assistant, "4").withChannel("final"),
 * ];
 * deepStrictEqual(selectAnalysis(msgs, "last-turn").counts, { dropped: 0, kept: 1 });
 * deepStrictEqual(selectAnalysis(msgs, "reference").counts, { dropped: 1, kept: 0 });
 * ```
 */
export function selectAnalysis(
  messages: readonly Message[],
  policy: AnalysisPolicy,
): AnalysisSelection {
  let total = 0;
  for (let i = 0; i < messages.length; i++) if (isAnalysis(messages[i])) total++;
  if (total === 0 || policy === "keep") return { messages, counts: { dropped: 0, kept: total } };
  if (policy === "reference") {
    const keep = keptMessages(messages, analysisRenderConfig(policy));
    let dropped = 0;
    for (let i = 0; i < keep.length; i++) if (!keep[i]) dropped++;
    return { messages, counts: { dropped, kept: total - dropped } };
  }
  // none: drop all; last-turn: drop those before the last user message.
  let from = messages.length;
  if (policy === "last-turn") {
    from = 0;
    for (let i = messages.length - 1; i >= 0; i--) {
      if (messages[i].author.role === "user") {
        from = i + 1;
        break;
      }
    }
  }
  const out: Message[] = [];
  let dropped = 0;
  for (let i = 0; i < messages.length; i++) {
    if (i < from && isAnalysis(messages[i])) dropped++;
    else out.push(messages[i]);
  }
  if (dropped === 0) return { messages, counts: { dropped: 0, kept: total } };
  return { messages: out, counts: { dropped, kept: total - dropped } };
}

/**
 * {@link selectAnalysis} over a batch, as conversations ready to render.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { selectAnalysisBatch } from "./analysis_policy.ts";
 * deepStrictEqual(selectAnalysisBatch([], "keep").conversations.length, 0);
 * ```
 */
export function selectAnalysisBatch(
  conversations: readonly Conversation[],
  policy: AnalysisPolicy,
): { conversations: Conversation[]; counts: AnalysisCounts[] } {
  const out = new Array<Conversation>(conversations.length);
  const counts = new Array<AnalysisCounts>(conversations.length);
  for (let i = 0; i < conversations.length; i++) {
    const c = conversations[i];
    const s = selectAnalysis(c.messages, policy);
    out[i] = s.messages === c.messages ? c : new Conversation([...s.messages]);
    counts[i] = s.counts;
  }
  return { conversations: out, counts };
}
