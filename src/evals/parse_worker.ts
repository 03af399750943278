/**
 * Worker-thread entry of `parse-dataset --workers N` (started by `parse_dataset.ts` through
 * `src/dataset/worker_pool.ts`): builds the tokenizer once over the main thread's shared
 * vocabulary tables (`loadVocabularyTables`), then parses the batches it receives
 * with {@link parseRecords} on the CPU backend; batches arrive and leave packed
 * (`PackedEvalRecords`, `PackedSamples` in `parse_batch.ts`).
 *
 * @module
 */

import { loadTokenizer } from "../tokenizer/mod.ts";
import { useVocabularyTables, type VocabularyTables } from "../tokenizer/vocabulary.ts";
import { CpuBackend } from "../engine/cpu_backend.ts";
import { serveWorker } from "../dataset/worker_pool.ts";
import {
  type PackedEvalRecords,
  packSamples,
  parseRecords,
  type ParseSettings,
  unpackEvalRecords,
} from "./parse_batch.ts";

await serveWorker(async (data) => {
  const { vocabulary, ...settings } = data as ParseSettings & { vocabulary?: VocabularyTables };
  if (vocabulary) useVocabularyTables(vocabulary);
  const tokenizer = await loadTokenizer();
  const ctx = { ...settings, tokenizer, engine: new CpuBackend(tokenizer) };
  return async (packed: PackedEvalRecords) => {
    const records = unpackEvalRecords(packed);
    return packSamples(await parseRecords(records, ctx), records);
  };
});
