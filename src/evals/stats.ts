/**
 * Statistics of a `parse-dataset` run: counts by status, stop token, channel and recipient, the
 * most frequent error reasons with an example record each, and throughput. The counts add up:
 * the `status` counts and the `stop` counts each sum to `records`; `channels` sums to
 * `messages`; `recipients` sums to `tool_calls`; `errors` sums to `status.error` and `recovered`
 * to `status.recovered`.
 *
 * @module
 */

import type { CompletionStatus, StopKind } from "./completion.ts";
import { setDataProperty } from "../chat/json_text.ts";

/** Where a record came from. */
export interface RecordWhere {
  /** 0-based record index over all inputs. */
  record: number;
  /** Input file. */
  file: string;
  /** 1-based line (JSONL) or row (Parquet). */
  line: number;
}

/** One error reason: how often, and the first record that had it. */
export interface ReasonCount {
  /** Reason code, e.g. `unexpected-token`, `eos-in-header`, `bad-json`. */
  reason: string;
  /** Records with this reason. */
  count: number;
  /** The first such record, with its error message. */
  example: RecordWhere & { error: string };
}

/** The statistics of a run (`--stats FILE` writes this as JSON). */
export interface ParseDatasetStats {
  /** Records written (in this shard). */
  records: number;
  /** Tokens parsed (text completions: after encoding). */
  tokens: number;
  /** Messages parsed (salvaged ones included). */
  messages: number;
  /** Tool calls found. */
  tool_calls: number;
  /** Records by status. */
  status: Record<CompletionStatus, number>;
  /** Records by stop token. */
  stop: Record<StopKind, number>;
  /** Messages by channel (`(none)` for messages without one). */
  channels: Record<string, number>;
  /** Tool calls by recipient (at most 1000 names; the rest under `(other)`). */
  recipients: Record<string, number>;
  /** Reasons of `error` records, most frequent first (at most 20; `(other)` holds the rest). */
  errors: ReasonCount[];
  /** Strict-parse reasons of `recovered` records, most frequent first (at most 20). */
  recovered: ReasonCount[];
  /** Wall-clock seconds. */
  seconds: number;
  /** Records per second. */
  records_per_second: number;
  /** Tokens per second. */
  tokens_per_second: number;
  /** Records read from the inputs (all shards). */
  read: number;
  /** The shard, `i/n`. */
  shard: string;
  /** The backend that parsed (`cpu`, or `gpu (adapter)`), when the caller records it. */
  backend?: string;
}

const MAX_KEYS = 1000;
const MAX_REASONS = 20;
const OTHER = "(other)";

function bump(map: Map<string, number>, key: string, by = 1): void {
  const k = map.has(key) || map.size < MAX_KEYS ? key : OTHER;
  map.set(k, (map.get(k) ?? 0) + by);
}

function sortedObject(map: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
    setDataProperty(out, k, v); // a channel named "__proto__" is counted like any other
  }
  return out;
}

function topReasons(map: Map<string, ReasonCount>): ReasonCount[] {
  const all = [...map.values()].sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
  if (all.length <= MAX_REASONS) return all;
  const top = all.slice(0, MAX_REASONS - 1);
  const rest = all.slice(MAX_REASONS - 1);
  top.push({
    reason: OTHER,
    count: rest.reduce((a, r) => a + r.count, 0),
    example: rest[0].example,
  });
  return top;
}

/** What {@link StatsCollector.add} needs of a result. */
export interface StatsInput {
  /** Parse status. */
  status: CompletionStatus;
  /** Stop token. */
  stop: StopKind;
  /** Messages (only `channel` is read). */
  messages: readonly { channel?: string }[];
  /** Tool calls (only `recipient` is read). */
  tool_calls: readonly { recipient: string }[];
  /** Error text. */
  error?: string;
  /** Error reason code. */
  reason?: string;
}

/**
 * Accumulates {@link ParseDatasetStats} over results. Memory is bounded: at most 1000 channel
 * names, 1000 recipients and the error reasons (one entry per reason code).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { StatsCollector } from "./stats.ts";
 * const s = new StatsCollector();
 * s.add({ status: "ok", stop: "return", messages: [{ channel: "final" }], tool_calls: [] }, 12, {
 *   record: 0, file: "a.jsonl", line: 1,
 * });
 * strictEqual(s.result(1, 1, "0/1").status.ok, 1);
 * ```
 */
export class StatsCollector {
  #records = 0;
  #tokens = 0;
  #messages = 0;
  #toolCalls = 0;
  #status: Record<CompletionStatus, number> = { ok: 0, recovered: 0, error: 0 };
  #stop: Record<StopKind, number> = { return: 0, call: 0, end: 0, none: 0 };
  #channels = new Map<string, number>();
  #recipients = new Map<string, number>();
  #errors = new Map<string, ReasonCount>();
  #recovered = new Map<string, ReasonCount>();

  /** Counts one record with `tokens` tokens. */
  add(r: StatsInput, tokens: number, where: RecordWhere): void {
    this.#records++;
    this.#tokens += tokens;
    this.#status[r.status]++;
    this.#stop[r.stop]++;
    this.#messages += r.messages.length;
    for (const m of r.messages) bump(this.#channels, m.channel ?? "(none)");
    this.#toolCalls += r.tool_calls.length;
    for (const t of r.tool_calls) bump(this.#recipients, t.recipient);
    if (r.status !== "ok") {
      const map = r.status === "error" ? this.#errors : this.#recovered;
      const reason = r.reason ?? "internal";
      const entry = map.get(reason);
      if (entry) entry.count++;
      else map.set(reason, { reason, count: 1, example: { ...where, error: r.error ?? "" } });
    }
  }

  /** The statistics so far, with throughput over `seconds`. */
  result(seconds: number, read: number, shard: string): ParseDatasetStats {
    const secs = Math.max(seconds, 1e-9);
    return {
      records: this.#records,
      tokens: this.#tokens,
      messages: this.#messages,
      tool_calls: this.#toolCalls,
      status: { ...this.#status },
      stop: { ...this.#stop },
      channels: sortedObject(this.#channels),
      recipients: sortedObject(this.#recipients),
      errors: topReasons(this.#errors),
      recovered: topReasons(this.#recovered),
      seconds,
      records_per_second: this.#records / secs,
      tokens_per_second: this.#tokens / secs,
      read,
      shard,
    };
  }
}

/**
 * The human summary of a run (stderr): one line of counts, then one line per frequent error.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatStats, StatsCollector } from "./stats.ts";
 * strictEqual(formatStats(new StatsCollector().result(1, 0, "0/1"), "out.jsonl").startsWith("parse-dataset: 0 records"), true);
 * ```
 */
export function formatStats(s: ParseDatasetStats, out: string, maxReasons = 5): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const rate = (x: number) =>
    x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e4 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0);
  const parts = [
    `${n(s.records)} records (ok ${n(s.status.ok)}, recovered ${n(s.status.recovered)}, error ${
      n(s.status.error)
    })`,
    `stop: return ${n(s.stop.return)}, call ${n(s.stop.call)}, end ${n(s.stop.end)}, none ${
      n(s.stop.none)
    }`,
    `${n(s.tokens)} tokens`,
    `${rate(s.records_per_second)} records/s, ${rate(s.tokens_per_second)} tokens/s` +
    (s.backend ? ` (${s.backend})` : ""),
    `${s.seconds.toFixed(1)}s` +
    (s.shard !== "0/1" ? ` (shard ${s.shard} of ${n(s.read)} read)` : ""),
  ];
  const lines = [`parse-dataset: ${parts.join("; ")} → ${out}`];
  for (const r of s.errors.slice(0, maxReasons)) {
    lines.push(
      `  error ${r.reason}: ${
        n(r.count)
      }, e.g. record ${r.example.record} (${r.example.file}:${r.example.line}): ${
        r.example.error.slice(0, 160)
      }`,
    );
  }
  return lines.join("\n") + "\n";
}
