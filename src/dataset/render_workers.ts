/**
 * `render-dataset --workers N`: a pool of worker threads, each loading the training renderer
 * (the vocabulary) once and running {@link renderRecords} on the batches it is handed. The
 * pipeline keeps a bounded number of batches in flight and writes results in input order.
 *
 * Batches cross the thread boundary packed ({@link packRecords}, {@link packOutcomes}): a batch of
 * JSONL lines as one string with its line lengths, and a batch's outcomes as one token array, one
 * mask array and per-record lengths, instead of one object and two typed arrays per record. The
 * structured clone then copies a few large buffers, and the main thread (reading, handing out and
 * writing: the part of the job that does not scale with workers) no longer deserializes thousands
 * of small objects per batch.
 *
 * @module
 */

import type { TrainOn } from "./loss_mask.ts";
import type { AnalysisCounts, AnalysisPolicy } from "./analysis_policy.ts";
import type { InputFormat, MappingDefaults } from "./mapping.ts";
import type { RawRecord, RecordOutcome } from "./record_batch.ts";
import { WorkerPool } from "./worker_pool.ts";
import type { VocabularyTables } from "../tokenizer/vocabulary.ts";

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
  /**
   * The main thread's vocabulary as shared tables (`loadVocabularyTables`): workers build their
   * tokenizer over it instead of each parsing the ranks; absent, each worker loads its own.
   */
  vocabulary?: VocabularyTables;
}

/**
 * A batch of raw records on its way to a worker: JSONL lines as one string (`texts`, the lines
 * back to back) and their UTF-16 lengths, or the records as they are when any is not a plain line
 * (a Parquet row, an unreadable line).
 */
export type PackedRecords = { texts: string; lengths: Uint32Array } | { records: RawRecord[] };

/**
 * A batch's outcomes on their way back: every written record's tokens back to back in `tokens`
 * and its mask in `mask` (`lengths[i]` of each, 0 for a failed record), the trained-token count
 * per record, the analysis counts per record (`-1` when the renderer gave none) and the failure
 * reasons by record index.
 */
export interface PackedOutcomes {
  /** Tokens of all records, in order. */
  tokens: Uint32Array;
  /** Loss mask of all records, in order. */
  mask: Uint8Array;
  /** Tokens per record (0 for a failed one). */
  lengths: Uint32Array;
  /** Trained tokens per record. */
  trained: Uint32Array;
  /** Analysis messages dropped, kept per record (2 entries each), `-1` when not reported. */
  analysis: Int32Array;
  /** Why a record failed, by its index in the batch. */
  reasons: Record<number, string>;
}

/**
 * Packs a batch for a worker (see {@link PackedRecords}).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { packRecords, unpackRecords } from "./render_workers.ts";
 * const batch = [{ text: '{"a":1}' }, { text: '{"b":2}' }];
 * deepStrictEqual(unpackRecords(packRecords(batch)), batch);
 * ```
 */
export function packRecords(records: readonly RawRecord[]): PackedRecords {
  const lengths = new Uint32Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r.text === undefined || r.value !== undefined || r.error !== undefined) {
      return { records: [...records] };
    }
    lengths[i] = r.text.length;
  }
  return { texts: records.map((r) => r.text).join(""), lengths };
}

/**
 * The records of a packed batch.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { unpackRecords } from "./render_workers.ts";
 * deepStrictEqual(unpackRecords({ texts: "ab", lengths: Uint32Array.of(1, 1) }), [{ text: "a" }, { text: "b" }]);
 * ```
 */
export function unpackRecords(packed: PackedRecords): RawRecord[] {
  if ("records" in packed) return packed.records;
  const out = new Array<RawRecord>(packed.lengths.length);
  let at = 0;
  for (let i = 0; i < out.length; i++) {
    const end = at + packed.lengths[i];
    out[i] = { text: packed.texts.slice(at, end) };
    at = end;
  }
  return out;
}

/**
 * Packs a batch's outcomes (see {@link PackedOutcomes}).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { packOutcomes, unpackOutcomes } from "./render_workers.ts";
 * const outcomes = [
 *   { tokens: Uint32Array.of(1, 2), mask: Uint8Array.of(0, 1), trained: 1, analysis: { dropped: 1, kept: 0 } },
 *   { reason: "Cannot read record: line 2" },
 *   { tokens: Uint32Array.of(3), mask: Uint8Array.of(1), trained: 1 },
 * ];
 * deepStrictEqual(unpackOutcomes(packOutcomes(outcomes)), outcomes);
 * ```
 */
export function packOutcomes(outcomes: readonly RecordOutcome[]): PackedOutcomes {
  const n = outcomes.length;
  const lengths = new Uint32Array(n), trained = new Uint32Array(n);
  const analysis = new Int32Array(2 * n).fill(-1);
  const reasons: Record<number, string> = {};
  let total = 0;
  for (let i = 0; i < n; i++) {
    const o = outcomes[i];
    if (o.reason !== undefined) reasons[i] = o.reason;
    else total += o.tokens.length;
  }
  const tokens = new Uint32Array(total), mask = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const o = outcomes[i];
    if (o.reason !== undefined) continue;
    tokens.set(o.tokens, at);
    mask.set(o.mask, at);
    at += lengths[i] = o.tokens.length;
    trained[i] = o.trained;
    if (o.analysis) {
      analysis[2 * i] = o.analysis.dropped;
      analysis[2 * i + 1] = o.analysis.kept;
    }
  }
  return { tokens, mask, lengths, trained, analysis, reasons };
}

/**
 * The outcomes of a packed batch; the tokens and masks are views into the packed arrays.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { packOutcomes, unpackOutcomes } from "./render_workers.ts";
 * deepStrictEqual(unpackOutcomes(packOutcomes([{ reason: "bad" }])), [{ reason: "bad" }]);
 * ```
 */
export function unpackOutcomes(packed: PackedOutcomes): RecordOutcome[] {
  const n = packed.lengths.length;
  const out = new Array<RecordOutcome>(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const reason = packed.reasons[i];
    if (reason !== undefined) {
      out[i] = { reason };
      continue;
    }
    const end = at + packed.lengths[i];
    const dropped = packed.analysis[2 * i];
    const analysis: AnalysisCounts | undefined = dropped < 0
      ? undefined
      : { dropped, kept: packed.analysis[2 * i + 1] };
    out[i] = {
      tokens: packed.tokens.subarray(at, end),
      mask: packed.mask.subarray(at, end),
      trained: packed.trained[i],
      ...(analysis ? { analysis } : {}),
    };
    at = end;
  }
  return out;
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
  #pool: WorkerPool<PackedRecords, PackedOutcomes>;

  /** Starts `count` workers. */
  constructor(count: number, config: RenderWorkerConfig) {
    this.#pool = new WorkerPool(new URL("./render_worker.ts", import.meta.url), config, count);
  }

  /** Renders one batch in a worker. */
  async run(records: RawRecord[]): Promise<RecordOutcome[]> {
    return unpackOutcomes(await this.#pool.run(packRecords(records)));
  }

  /** Stops the workers. */
  close(): Promise<void> {
    return this.#pool.close();
  }
}
