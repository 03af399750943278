/**
 * `render-dataset --workers N`: a pool of worker threads, each loading the training renderer
 * (the vocabulary) once and running {@link renderRecords} on the batches it is handed. The
 * pipeline keeps a bounded number of batches in flight and writes results in input order.
 *
 * @module
 */

import type { TrainOn } from "./loss_mask.ts";
import type { AnalysisPolicy } from "./analysis_policy.ts";
import type { InputFormat, MappingDefaults } from "./mapping.ts";
import type { RawRecord, RecordOutcome } from "./record_batch.ts";
import { WorkerPool } from "./worker_pool.ts";

/** What a render worker needs to build its own renderer (structured-cloneable). */
export interface RenderWorkerConfig {
  /** Input record format. */
  inputFormat: InputFormat;
  /** System/developer defaults. */
  defaults: MappingDefaults;
  /** Loss-mask rule. */
  trainOn: TrainOn;
  /** Which analysis messages are rendered (`analysis_policy.ts`). */
  analysis: AnalysisPolicy;
}

/**
 * Worker threads rendering batches of raw records.
 *
 * @example
 * ```ts ignore
 * import { RenderWorkers } from "./render_workers.ts";
 * const w = new RenderWorkers(2, { inputFormat: "auto", defaults: {}, trainOn: "assistant", analysis: "last-turn" });
 * const outcomes = await w.run([{ text: '{"messages":[{"role":"user","content":"hi"}]}' }]);
 * await w.close();
 * ```
 */
export class RenderWorkers {
  #pool: WorkerPool<RawRecord[], RecordOutcome[]>;

  /** Starts `count` workers. */
  constructor(count: number, config: RenderWorkerConfig) {
    this.#pool = new WorkerPool(new URL("./render_worker.ts", import.meta.url), config, count);
  }

  /** Renders one batch in a worker. */
  run(records: RawRecord[]): Promise<RecordOutcome[]> {
    return this.#pool.run(records);
  }

  /** Stops the workers. */
  close(): Promise<void> {
    return this.#pool.close();
  }
}
