/**
 * Loss masks from message spans: 1 on the tokens the model samples in assistant turns, from a
 * span's `sampledStart` (the first token after `<|start|>assistant`) through its stop token
 * (`<|end|>`, `<|call|>`, or the `<|return|>` that training rendering puts on a final last
 * message), 0 elsewhere.
 *
 * @module
 */

/** What a message span must tell for masking (the encoding's `MessageSpan` has these fields). */
export interface MaskSpan {
  /** The author's role. */
  role: string;
  /** The channel, if any. */
  channel?: string;
  /** Index of the first sampled token (after the header's role/name tokens). */
  sampledStart: number;
  /** Exclusive end, after the stop token. */
  end: number;
}

/** Which assistant messages are trained on. */
export const TRAIN_ON = ["assistant", "final"] as const;

/**
 * `assistant`: every assistant message (analysis, commentary preambles and tool calls, final);
 * `final`: only final-channel assistant messages.
 */
export type TrainOn = typeof TRAIN_ON[number];

/**
 * Fills `into` (length = token count) with the loss mask of `spans`; returns the number of ones.
 *
 * @throws {RangeError} when a span lies outside the tokens.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { fillLossMask } from "./loss_mask.ts";
 * const mask = new Uint8Array(6);
 * fillLossMask(mask, [{ role: "user", sampledStart: 1, end: 3 }, { role: "assistant", channel: "final", sampledStart: 4, end: 6 }], "assistant");
 * deepStrictEqual(mask, new Uint8Array([0, 0, 0, 0, 1, 1]));
 * ```
 */
export function fillLossMask(
  into: Uint8Array,
  spans: readonly MaskSpan[],
  trainOn: TrainOn = "assistant",
): number {
  into.fill(0);
  let ones = 0;
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i];
    if (s.role !== "assistant") continue;
    if (trainOn === "final" && s.channel !== "final") continue;
    if (!(s.sampledStart >= 0 && s.sampledStart <= s.end && s.end <= into.length)) {
      throw new RangeError(
        `Cannot mask span ${i}: [${s.sampledStart}, ${s.end}) is outside ${into.length} tokens`,
      );
    }
    into.fill(1, s.sampledStart, s.end);
    ones += s.end - s.sampledStart;
  }
  return ones;
}
