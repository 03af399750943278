/**
 * Harmony encodings: `loadHarmonyEncoding("HarmonyGptOss")` and the `HarmonyEncoding` class.
 *
 * @module
 */

export {
  type ConversationLike,
  HarmonyEncoding,
  type HarmonyEncodingName,
  loadHarmonyEncoding,
  type RenderBatchOptions,
  type RenderWithSpansOptions,
} from "./harmony_encoding.ts";
