/**
 * Worker-thread entry of `render-dataset --workers N` (see `render_workers.ts`): loads the
 * training renderer once (over the main thread's shared vocabulary tables when given), then renders the batches it receives with {@link renderRecords}; batches
 * arrive and leave packed (`render_workers.ts`).
 *
 * @module
 */

import { conversationFromJson } from "../chat/json.ts";
import { renderRecords } from "./record_batch.ts";
import {
  type PackedRecords,
  packOutcomes,
  type RenderWorkerConfig,
  unpackRecords,
} from "./render_workers.ts";
import { loadTrainingRenderer } from "./training_renderer.ts";
import { serveWorker } from "./worker_pool.ts";
import { useVocabularyTables } from "../tokenizer/vocabulary.ts";

await serveWorker(async (data) => {
  const config = data as RenderWorkerConfig;
  if (config.vocabulary) useVocabularyTables(config.vocabulary);
  const renderBatch = await loadTrainingRenderer({ analysis: config.analysis });
  const context = {
    inputFormat: config.inputFormat,
    defaults: config.defaults,
    trainOn: config.trainOn,
    toConversation: conversationFromJson,
    renderBatch,
  };
  return async (packed: PackedRecords) =>
    packOutcomes(await renderRecords(unpackRecords(packed), context));
});
