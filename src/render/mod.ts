/**
 * The harmony renderer: rules (renderer.ts), tool-schema text (schema_to_typescript.ts), and the
 * direct and batch-plan sinks (plan.ts).
 *
 * @module
 */

export {
  developerContentText,
  type FormattingTokens,
  HarmonyRenderError,
  hasFunctionTools,
  keptMessages,
  type MessageMarks,
  type RenderConversationConfig,
  renderConversationInto,
  renderMessageInto,
  type RenderMode,
  type RenderOptions,
  type RenderSink,
  systemContentText,
} from "./renderer.ts";
export { jsonSchemaToTypescript, rustLines, toolsSection } from "./schema_to_typescript.ts";
export {
  type BatchItem,
  type BatchPlan,
  type BatchRenderOptions,
  DirectSink,
  marksToSpans,
  type MessageSpan,
  planBatch,
  SegmentCache,
} from "./plan.ts";
