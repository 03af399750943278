/**
 * Dataset tooling: streaming record readers (JSONL, gzip, Parquet), record mapping (harmony JSON,
 * OpenAI chat, ShareGPT), loss masks, writers and readers of training formats (Megatron indexed
 * datasets, JSONL, Parquet, flat bin), sharding, checkpoints, progress, and the `render-dataset`
 * pipeline. Uses `node:fs`; not for browsers.
 *
 * @example
 * ```ts ignore
 * import { conversationFromJson } from "../chat/json.ts";
 * import { loadTrainingRenderer, renderDataset } from "./mod.ts";
 * const summary = await renderDataset({
 *   inputs: ["chats.jsonl.gz"],
 *   prefix: "out/train",
 *   outputFormat: "megatron",
 *   toConversation: conversationFromJson,
 *   renderBatch: await loadTrainingRenderer(),
 * });
 * console.log(summary.written, summary.failed);
 * ```
 *
 * @module
 */

export {
  countLines,
  detectInputKind,
  fileAsyncBuffer,
  fileChunks,
  gunzip,
  type InputKind,
  type InputRecord,
  InputShard,
  type ReadPosition,
  readRecords,
  type ReadRecordsOptions,
  type RecordLocation,
  totalInputBytes,
} from "./readers.ts";
export {
  manifestPath,
  manifestsDisagree,
  readShardManifest,
  type ShardManifest,
} from "./shard_manifest.ts";
export {
  checkMessagesField,
  defaultSystemMessage,
  detectRecordFormat,
  type HarmonyJsonContent,
  type HarmonyJsonConversation,
  type HarmonyJsonMessage,
  INPUT_FORMATS,
  type InputFormat,
  type MappingDefaults,
  RecordFormatError,
  recordToHarmonyJson,
} from "./mapping.ts";
export { parseRecordText } from "./record_json.ts";
export {
  ANALYSIS_POLICIES,
  type AnalysisCounts,
  type AnalysisPolicy,
  selectAnalysis,
} from "./analysis_policy.ts";
export {
  decideRecord,
  OVERFLOW_POLICIES,
  type OverflowPolicy,
  type PolicyCounts,
  type RecordPolicyOptions,
} from "./record_policy.ts";
export { HEADER_FIELDS, type HeaderField, unsafeHeaderReason } from "./header_safety.ts";
export { fillLossMask, type MaskSpan, TRAIN_ON, type TrainOn } from "./loss_mask.ts";
export {
  createWriter,
  type CreateWriterOptions,
  type DatasetWriter,
  OUTPUT_FORMATS,
  outputFiles,
  type OutputFormat,
  type WriterState,
} from "./writers.ts";
export {
  decodeMegatronIndex,
  decodeMegatronIndexHeader,
  encodeMegatronIndex,
  type MegatronDataset,
  MegatronDType,
  type MegatronIndex,
  openMegatronDataset,
} from "./megatron.ts";
export { type BinDataset, openBinDataset } from "./bin_format.ts";
export {
  mergeDatasets,
  type MergeOptions,
  mergeStatsFiles,
  type MergeSummary,
  prefixesOf,
  shardStatsFiles,
} from "./merge.ts";
export {
  type ByteRange,
  ownsUnit,
  parseShard,
  resolveShard,
  type Shard,
  shardOutputPath,
  shardPrefix,
  shardRange,
  WHOLE,
} from "./shard.ts";
export { formatCount, formatDuration, Progress, type ProgressCounts } from "./progress.ts";
export { type Checkpoint, checkpointPath, type RunCounts } from "./checkpoint.ts";
export {
  type PipelineProgress,
  type RenderBatch,
  renderDataset,
  type RenderDatasetOptions,
  type RenderDatasetSummary,
  type RenderResult,
} from "./pipeline.ts";
export { loadTrainingRenderer, type TrainingRendererOptions } from "./training_renderer.ts";
