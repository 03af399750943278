/**
 * The per-record work of `render-dataset`, as one function of a batch of raw records: parse the
 * line (or take the Parquet row), map it to harmony JSON, build the `Conversation`, render the
 * batch for training and fill the loss mask. The pipeline runs it on the main thread
 * (`--workers 1`) or inside worker threads (`render_worker.ts`); both call this one function, so
 * the output cannot depend on the worker count.
 *
 * @module
 */

import type { Conversation } from "../chat/message.ts";
import { fillLossMask, type MaskSpan, type TrainOn } from "./loss_mask.ts";
import {
  type HarmonyJsonConversation,
  type InputFormat,
  type MappingDefaults,
  recordToHarmonyJson,
} from "./mapping.ts";
import { parseRecordText } from "./record_json.ts";
import type { AnalysisCounts } from "./analysis_policy.ts";

/** What rendering one conversation gives. */
export interface RenderResult {
  /** The tokens (training rendering). */
  tokens: Uint32Array;
  /** One span per rendered message. */
  spans: readonly MaskSpan[];
  /** Analysis messages dropped and kept by the renderer's policy. */
  analysis?: AnalysisCounts;
}

/** Renders conversations in a batch; a failed conversation gives its `Error`. */
export type RenderBatch = (
  conversations: readonly Conversation[],
) => Array<RenderResult | Error> | Promise<Array<RenderResult | Error>>;

/** A raw record: a JSONL line's text or a Parquet row. Structured-cloneable. */
export interface RawRecord {
  /** The line's text (JSONL). */
  text?: string;
  /** The row (Parquet). */
  value?: unknown;
  /** Why the line could not be read (invalid UTF-8), instead of text. */
  error?: string;
}

/** One record's outcome: tokens, mask and trained-token count, or why it failed. */
export type RecordOutcome =
  | {
    tokens: Uint32Array;
    mask: Uint8Array;
    trained: number;
    analysis?: AnalysisCounts;
    reason?: undefined;
  }
  | { reason: string };

/** How records are turned into conversations and rendered. */
export interface RecordContext {
  /** Input record format. */
  inputFormat: InputFormat;
  /** System/developer defaults for records without them. */
  defaults: MappingDefaults;
  /** Which assistant messages get loss mask 1. */
  trainOn: TrainOn;
  /** Harmony JSON → Conversation. */
  toConversation: (json: HarmonyJsonConversation) => Conversation;
  /** Renders a batch of conversations. */
  renderBatch: RenderBatch;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Renders a batch of raw records; one outcome per record, in order. A batch the renderer throws
 * for is retried record by record, so that only the bad record fails.
 *
 * @example
 * ```ts ignore
 * import { renderRecords } from "./record_batch.ts";
 * const [r] = await renderRecords([{ text: '{"messages":[]}' }], context);
 * ```
 */
export async function renderRecords(
  records: readonly RawRecord[],
  ctx: RecordContext,
): Promise<RecordOutcome[]> {
  const out = new Array<RecordOutcome>(records.length);
  const conversations: Conversation[] = [];
  const slots: number[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    try {
      if (r.error !== undefined) throw new SyntaxError(`Cannot read record: ${r.error}`);
      const value = r.text !== undefined ? parseRecordText(r.text) : r.value;
      const json = recordToHarmonyJson(value, ctx.inputFormat, ctx.defaults);
      conversations.push(ctx.toConversation(json));
      slots.push(i);
    } catch (e) {
      out[i] = { reason: message(e) };
    }
  }
  if (conversations.length === 0) return out;
  let results: Array<RenderResult | Error>;
  try {
    results = await ctx.renderBatch(conversations);
  } catch {
    results = [];
    for (const c of conversations) {
      try {
        results.push((await ctx.renderBatch([c]))[0]);
      } catch (e) {
        results.push(e instanceof Error ? e : new Error(String(e)));
      }
    }
  }
  for (let k = 0; k < slots.length; k++) {
    const r = results[k];
    if (r instanceof Error || r === undefined) {
      out[slots[k]] = { reason: `Cannot render record: ${r?.message ?? "no result"}` };
      continue;
    }
    const mask = new Uint8Array(r.tokens.length);
    try {
      const trained = fillLossMask(mask, r.spans, ctx.trainOn);
      out[slots[k]] = { tokens: r.tokens, mask, trained, analysis: r.analysis };
    } catch (e) {
      out[slots[k]] = { reason: message(e) };
    }
  }
  return out;
}
