/**
 * Eval outputs: parse sampled gpt-oss completions (token ids or text) into structured results —
 * messages, final answer, reasoning, tool calls with parsed arguments, stop token and parse
 * status — one at a time ({@link analyzeCompletion}) or a whole dataset ({@link parseDataset}).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { analyzeCompletion } from "./mod.ts";
 * const tokenizer = await loadTokenizer();
 * const ids = tokenizer.encode(
 *   '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Oslo"}<|call|>',
 *   { allowedSpecial: "all" },
 * );
 * deepStrictEqual(analyzeCompletion({ tokenizer }, ids).tool_calls[0].arguments, { city: "Oslo" });
 * ```
 *
 * @module
 */

export {
  analyzeCompletion,
  type AnalyzeOptions,
  type CompletionAnalysis,
  type CompletionResult,
  type CompletionStatus,
  type JsonData,
  type StopKind,
  type StrictParse,
  summarizeMessages,
  type ToolCallResult,
} from "./completion.ts";
export {
  COMPLETION_FIELDS,
  type EvalRecord,
  formatResultLine,
  type ReadErrorReason,
  readEvalRecord,
  type ReadEvalRecordOptions,
  RecordReadError,
  RESULT_FIELDS,
  stringifyValue,
} from "./record.ts";
export {
  formatStats,
  type ParseDatasetStats,
  type ReasonCount,
  type RecordWhere,
  StatsCollector,
  type StatsInput,
  type StatsRateBase,
  type StatsSnapshot,
} from "./stats.ts";
export {
  parseDataset,
  type ParseDatasetOptions,
  type ParseDatasetProgress,
  type ParseDatasetSummary,
  partialName,
  shardOutputPath,
} from "./parse_dataset.ts";
export {
  type ChatCompletionMessage,
  type ChatToolCall,
  type ConversionOptions,
  fromResponsesInput,
  type FromResponsesOptions,
  type ResponsesItem,
  toChatCompletionMessage,
  toResponsesOutput,
} from "./conversions.ts";
