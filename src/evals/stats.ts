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

/** A tool call whose JSON arguments do not parse. */
export interface BadArgumentsExample extends RecordWhere {
  /** The sample index, for records with several. */
  sample?: number;
  /** The recipient. */
  recipient: string;
  /** The arguments text (cut to 200 characters). */
  raw: string;
}

/** Counts of one sample index (`per_sample`). */
export interface SampleIndexStats {
  /** Samples with this index. */
  samples: number;
  /** By status. */
  ok: number;
  /** By status. */
  recovered: number;
  /** By status. */
  error: number;
  /** Truncated samples (see `truncated`). */
  truncated: number;
}

/** Content tokens of one channel's messages (`tokens_per_channel`). */
export interface ChannelTokens {
  /** Messages counted (of samples whose messages map one to one onto `<|message|>` tokens). */
  messages: number;
  /** Their content tokens. */
  tokens: number;
  /** `tokens / messages`. */
  mean: number;
}

/** The statistics of a run (`--stats FILE` writes this as JSON). */
export interface ParseDatasetStats {
  /** Input records parsed (in this shard). */
  records: number;
  /** Samples written, one output line each (a flat record is one sample). */
  samples: number;
  /** Tokens parsed (text completions: after encoding). */
  tokens: number;
  /** Messages parsed (salvaged ones included). */
  messages: number;
  /** Tool calls found. */
  tool_calls: number;
  /** Samples by status (sums to `samples`). */
  status: Record<CompletionStatus, number>;
  /** Samples by stop token (sums to `samples`). */
  stop: Record<StopKind, number>;
  /**
   * Truncated samples: `finish_reason: "length"`, or no stop token when the record gives no
   * finish reason (stripped text excepted: its stop tokens are gone).
   */
  truncated: number;
  /** `truncated / samples` (0 without samples). */
  truncation_rate: number;
  /** Tool calls to `functions.*` or with a JSON content type whose arguments do not parse. */
  bad_arguments: { count: number; examples: BadArgumentsExample[] };
  /** Mean content tokens per message, by channel (`(none)`: no channel). */
  tokens_per_channel: Record<string, ChannelTokens>;
  /** Dropped token spans: how many, their tokens, the samples with any, and spans by reason. */
  dropped: { spans: number; tokens: number; samples: number; reasons: Record<string, number> };
  /** `recover: "all"` repairs by kind. */
  repairs: Record<string, number>;
  /** Samples recovered from stripped text. */
  stripped: number;
  /**
   * Samples whose record could not be read (bad JSON, invalid UTF-8, no or a malformed
   * completion, an internal failure): error lines the model's output did not cause. The CLI
   * exits 1 when this is not 0, as `render-dataset` does for failed records.
   */
  unreadable: number;
  /** Counts by sample index (`"0"`, `"1"`, …; records without samples count as index 0). */
  per_sample: Record<string, SampleIndexStats>;
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
  /** Samples per second. */
  samples_per_second: number;
  /** Tokens per second. */
  tokens_per_second: number;
  /** Records read from the inputs (this shard's: a shard reads only its part). */
  read: number;
  /** The shard, `i/n`. */
  shard: string;
  /** The backend that parsed (`cpu`, or `gpu (adapter)`), when the caller records it. */
  backend?: string;
}

/**
 * The fields of {@link ParseDatasetStats} that measure the run's time rather than count its
 * records: they differ between runs of the same input, and a merge of shards sums the shards'
 * `seconds` (and computes the rates over that sum). All other fields of a merged run's stats are
 * the unsharded run's.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { STATS_TIMING_FIELDS } from "./stats.ts";
 * ok(STATS_TIMING_FIELDS.includes("seconds"));
 * ```
 */
export const STATS_TIMING_FIELDS = [
  "seconds",
  "records_per_second",
  "samples_per_second",
  "tokens_per_second",
] as const;

const MAX_KEYS = 1000;
const MAX_REASONS = 20;
const OTHER = "(other)";
const MAX_EXAMPLES = 5;

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
  /** The sample's index (records with several samples). */
  sample?: number;
  /** Whether the sample was truncated (see {@link ParseDatasetStats.truncated}). */
  truncated?: boolean;
  /** Stripped-text sample. */
  stripped?: boolean;
  /** The record (or sample) could not be read: see {@link ParseDatasetStats.unreadable}. */
  unreadable?: boolean;
  /** Dropped spans. */
  dropped?: readonly { from: number; to: number; reason: string }[];
  /** Repairs. */
  repairs?: readonly { repair: string }[];
  /** Content tokens of each message, when they map one to one onto the messages. */
  content_tokens?: readonly number[];
  /** Parse status. */
  status: CompletionStatus;
  /** Stop token. */
  stop: StopKind;
  /** Messages (only `channel` is read). */
  messages: readonly { channel?: string }[];
  /** Tool calls (`recipient`; `content_type`, `arguments`, `raw` for `bad_arguments`). */
  tool_calls: readonly {
    recipient: string;
    content_type?: string | null;
    arguments?: unknown;
    raw?: string;
  }[];
  /** Error text. */
  error?: string;
  /** Error reason code. */
  reason?: string;
}

/**
 * The state of a {@link StatsCollector} as plain JSON data: a `parse-dataset` checkpoint holds
 * it, so that a resumed run's statistics equal a clean run's. Maps are entry lists in insertion
 * order (the order the statistics list ties in).
 */
export interface StatsSnapshot {
  /** Format version (1). */
  version: 1;
  /** Records counted. */
  records: number;
  /** Samples counted. */
  samples: number;
  /** The last record index counted (-1: none). */
  lastRecord: number;
  /** Tokens counted. */
  tokens: number;
  /** Messages counted. */
  messages: number;
  /** Tool calls counted. */
  toolCalls: number;
  /** Truncated samples. */
  truncated: number;
  /** Stripped-text samples. */
  stripped: number;
  /** Unreadable samples. */
  unreadable: number;
  /** Tool calls with bad arguments, and the first examples. */
  badArguments: { count: number; examples: BadArgumentsExample[] };
  /** Dropped spans, their tokens and the samples with any. */
  dropped: { spans: number; tokens: number; samples: number };
  /** By status. */
  status: Record<CompletionStatus, number>;
  /** By stop token. */
  stop: Record<StopKind, number>;
  /** Channel → content tokens. */
  channelTokens: [string, { messages: number; tokens: number }][];
  /** Dropped-span reason → spans. */
  droppedReasons: [string, number][];
  /** Repair → count. */
  repairs: [string, number][];
  /** Sample index → counts. */
  perSample: [string, SampleIndexStats][];
  /** Channel → messages. */
  channels: [string, number][];
  /** Recipient → tool calls. */
  recipients: [string, number][];
  /** Error reasons. */
  errors: [string, ReasonCount][];
  /** Recovered reasons. */
  recovered: [string, ReasonCount][];
}

/** Throughput counts done before a resume, left out of the rates. */
export interface StatsRateBase {
  /** Records counted before this run. */
  records: number;
  /** Samples counted before this run. */
  samples: number;
  /** Tokens counted before this run. */
  tokens: number;
}

const clone = <T>(v: T): T => structuredClone(v);

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
  #samples = 0;
  #lastRecord = -1;
  #truncated = 0;
  #badArgs = 0;
  #badExamples: BadArgumentsExample[] = [];
  #channelTokens = new Map<string, { messages: number; tokens: number }>();
  #droppedSpans = 0;
  #droppedTokens = 0;
  #droppedSamples = 0;
  #droppedReasons = new Map<string, number>();
  #repairs = new Map<string, number>();
  #stripped = 0;
  #unreadable = 0;
  #perSample = new Map<string, SampleIndexStats>();
  #tokens = 0;
  #messages = 0;
  #toolCalls = 0;
  #status: Record<CompletionStatus, number> = { ok: 0, recovered: 0, error: 0 };
  #stop: Record<StopKind, number> = { return: 0, call: 0, end: 0, none: 0 };
  #channels = new Map<string, number>();
  #recipients = new Map<string, number>();
  #errors = new Map<string, ReasonCount>();
  #recovered = new Map<string, ReasonCount>();

  /** Counts one sample with `tokens` tokens (a record's samples are added one after another). */
  add(r: StatsInput, tokens: number, where: RecordWhere): void {
    if (where.record !== this.#lastRecord || r.sample === undefined || r.sample === 0) {
      this.#records++;
    }
    this.#lastRecord = where.record;
    this.#samples++;
    if (r.truncated) this.#truncated++;
    if (r.stripped) this.#stripped++;
    if (r.unreadable) this.#unreadable++;
    const idx = String(r.sample ?? 0);
    let per = this.#perSample.get(idx);
    if (per === undefined && this.#perSample.size < MAX_KEYS) {
      per = { samples: 0, ok: 0, recovered: 0, error: 0, truncated: 0 };
      this.#perSample.set(idx, per);
    }
    if (per !== undefined) {
      per.samples++;
      per[r.status]++;
      if (r.truncated) per.truncated++;
    }
    if (r.dropped !== undefined && r.dropped.length > 0) {
      this.#droppedSamples++;
      for (const d of r.dropped) {
        this.#droppedSpans++;
        this.#droppedTokens += d.to - d.from;
        bump(this.#droppedReasons, d.reason);
      }
    }
    if (r.repairs !== undefined) { for (const x of r.repairs) bump(this.#repairs, x.repair); }
    const ct = r.content_tokens;
    if (ct !== undefined && ct.length === r.messages.length) {
      for (let k = 0; k < ct.length; k++) {
        const ch = r.messages[k].channel ?? "(none)";
        let e = this.#channelTokens.get(ch);
        if (e === undefined) {
          if (this.#channelTokens.size >= MAX_KEYS) continue;
          e = { messages: 0, tokens: 0 };
          this.#channelTokens.set(ch, e);
        }
        e.messages++;
        e.tokens += ct[k];
      }
    }
    for (const t of r.tool_calls) {
      const json = t.recipient.startsWith("functions.") ||
        (t.content_type ?? "").toLowerCase().includes("json");
      if (!json || t.arguments !== null || t.raw === undefined) continue;
      this.#badArgs++;
      if (this.#badExamples.length < MAX_EXAMPLES) {
        const ex: BadArgumentsExample = {
          ...where,
          recipient: t.recipient,
          raw: t.raw.slice(0, 200),
        };
        if (r.sample !== undefined) ex.sample = r.sample;
        this.#badExamples.push(ex);
      }
    }
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

  /**
   * The collector's state, to continue from with {@link StatsCollector.fromSnapshot}.
   *
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { StatsCollector } from "./stats.ts";
   * const s = new StatsCollector();
   * s.add({ status: "ok", stop: "end", messages: [{ channel: "final" }], tool_calls: [] }, 3, {
   *   record: 0, file: "a.jsonl", line: 1,
   * });
   * const copy = StatsCollector.fromSnapshot(JSON.parse(JSON.stringify(s.snapshot())));
   * deepStrictEqual(copy.result(1, 1, "0/1"), s.result(1, 1, "0/1"));
   * ```
   */
  snapshot(): StatsSnapshot {
    return clone({
      version: 1 as const,
      records: this.#records,
      samples: this.#samples,
      lastRecord: this.#lastRecord,
      tokens: this.#tokens,
      messages: this.#messages,
      toolCalls: this.#toolCalls,
      truncated: this.#truncated,
      stripped: this.#stripped,
      unreadable: this.#unreadable,
      badArguments: { count: this.#badArgs, examples: this.#badExamples },
      dropped: {
        spans: this.#droppedSpans,
        tokens: this.#droppedTokens,
        samples: this.#droppedSamples,
      },
      status: this.#status,
      stop: this.#stop,
      channelTokens: [...this.#channelTokens],
      droppedReasons: [...this.#droppedReasons],
      repairs: [...this.#repairs],
      perSample: [...this.#perSample],
      channels: [...this.#channels],
      recipients: [...this.#recipients],
      errors: [...this.#errors],
      recovered: [...this.#recovered],
    });
  }

  /**
   * A collector continuing from `s` (from {@link StatsCollector.snapshot}).
   *
   * @throws {SyntaxError} when `s` is not a version 1 snapshot.
   */
  static fromSnapshot(s: StatsSnapshot): StatsCollector {
    if (s?.version !== 1 || !Array.isArray(s.channels) || !Array.isArray(s.errors)) {
      throw new SyntaxError("Cannot restore statistics: not a version 1 snapshot");
    }
    const c = new StatsCollector();
    const v = clone(s);
    c.#records = v.records;
    c.#samples = v.samples;
    c.#lastRecord = v.lastRecord;
    c.#tokens = v.tokens;
    c.#messages = v.messages;
    c.#toolCalls = v.toolCalls;
    c.#truncated = v.truncated;
    c.#stripped = v.stripped;
    c.#unreadable = v.unreadable;
    c.#badArgs = v.badArguments.count;
    c.#badExamples = v.badArguments.examples;
    c.#droppedSpans = v.dropped.spans;
    c.#droppedTokens = v.dropped.tokens;
    c.#droppedSamples = v.dropped.samples;
    c.#status = v.status;
    c.#stop = v.stop;
    c.#channelTokens = new Map(v.channelTokens);
    c.#droppedReasons = new Map(v.droppedReasons);
    c.#repairs = new Map(v.repairs);
    c.#perSample = new Map(v.perSample);
    c.#channels = new Map(v.channels);
    c.#recipients = new Map(v.recipients);
    c.#errors = new Map(v.errors);
    c.#recovered = new Map(v.recovered);
    return c;
  }

  /**
   * The collector of a whole run from its shards' snapshots, in shard order: equal to the
   * collector that counted all the shards' records in one run (counts add; first examples, first
   * occurrences and the key caps are applied as that run would have: the first shard's entries,
   * then the next one's).
   *
   * @throws {SyntaxError} when a part is not a version 1 snapshot.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { StatsCollector } from "./stats.ts";
   * const r = { status: "ok", stop: "end", messages: [{ channel: "final" }], tool_calls: [] } as const;
   * const [a, b, whole] = [new StatsCollector(), new StatsCollector(), new StatsCollector()];
   * a.add(r, 3, { record: 0, file: "a.jsonl", line: 1 });
   * b.add(r, 4, { record: 1, file: "a.jsonl", line: 2 });
   * whole.add(r, 3, { record: 0, file: "a.jsonl", line: 1 });
   * whole.add(r, 4, { record: 1, file: "a.jsonl", line: 2 });
   * deepStrictEqual(StatsCollector.combine([a.snapshot(), b.snapshot()]).snapshot(), whole.snapshot());
   * ```
   */
  static combine(parts: readonly StatsSnapshot[]): StatsCollector {
    const c = new StatsCollector();
    for (const p of parts) c.#absorb(StatsCollector.fromSnapshot(p).snapshot());
    return c;
  }

  // Adds the counts of `v`, a snapshot of the records after this collector's.
  #absorb(v: StatsSnapshot): void {
    if (v.records > 0) this.#lastRecord = v.lastRecord;
    this.#records += v.records;
    this.#samples += v.samples;
    this.#tokens += v.tokens;
    this.#messages += v.messages;
    this.#toolCalls += v.toolCalls;
    this.#truncated += v.truncated;
    this.#stripped += v.stripped;
    this.#unreadable += v.unreadable;
    this.#badArgs += v.badArguments.count;
    for (const ex of v.badArguments.examples) {
      if (this.#badExamples.length < MAX_EXAMPLES) this.#badExamples.push(ex);
    }
    this.#droppedSpans += v.dropped.spans;
    this.#droppedTokens += v.dropped.tokens;
    this.#droppedSamples += v.dropped.samples;
    for (const k of Object.keys(v.status) as CompletionStatus[]) this.#status[k] += v.status[k];
    for (const k of Object.keys(v.stop) as StopKind[]) this.#stop[k] += v.stop[k];
    // Capped maps without an "(other)" entry: a key the cap turned away is not counted.
    for (const [k, e] of v.channelTokens) {
      const mine = this.#channelTokens.get(k);
      if (mine !== undefined) {
        mine.messages += e.messages;
        mine.tokens += e.tokens;
      } else if (this.#channelTokens.size < MAX_KEYS) this.#channelTokens.set(k, e);
    }
    for (const [k, e] of v.perSample) {
      const mine = this.#perSample.get(k);
      if (mine !== undefined) {
        mine.samples += e.samples;
        mine.ok += e.ok;
        mine.recovered += e.recovered;
        mine.error += e.error;
        mine.truncated += e.truncated;
      } else if (this.#perSample.size < MAX_KEYS) this.#perSample.set(k, e);
    }
    // Maps whose overflow goes to "(other)": `bump`, as the records would have been counted.
    const bumps: Array<[Map<string, number>, [string, number][]]> = [
      [this.#droppedReasons, v.droppedReasons],
      [this.#repairs, v.repairs],
      [this.#channels, v.channels],
      [this.#recipients, v.recipients],
    ];
    for (const [mine, theirs] of bumps) for (const [k, n] of theirs) bump(mine, k, n);
    // Reasons: one entry each, the example of the first record that had it.
    for (
      const [mine, theirs] of [[this.#errors, v.errors], [this.#recovered, v.recovered]] as const
    ) {
      for (const [k, e] of theirs) {
        const entry = mine.get(k);
        if (entry) entry.count += e.count;
        else mine.set(k, e);
      }
    }
  }

  /**
   * The statistics so far, with throughput over `seconds`; `base` (a resumed run's counts at its
   * start) is left out of the rates, which count this run's work only.
   */
  result(
    seconds: number,
    read: number,
    shard: string,
    base?: StatsRateBase,
  ): ParseDatasetStats {
    const secs = Math.max(seconds, 1e-9);
    const perChannel: Record<string, ChannelTokens> = Object.create(null);
    for (const [k, v] of this.#channelTokens) {
      perChannel[k] = { ...v, mean: v.messages === 0 ? 0 : v.tokens / v.messages };
    }
    const perSample: Record<string, SampleIndexStats> = Object.create(null);
    const order = [...this.#perSample.keys()].sort((a, b) => Number(a) - Number(b));
    for (const k of order) perSample[k] = { ...this.#perSample.get(k)! };
    return {
      records: this.#records,
      samples: this.#samples,
      tokens: this.#tokens,
      messages: this.#messages,
      tool_calls: this.#toolCalls,
      status: { ...this.#status },
      stop: { ...this.#stop },
      truncated: this.#truncated,
      truncation_rate: this.#samples === 0 ? 0 : this.#truncated / this.#samples,
      bad_arguments: { count: this.#badArgs, examples: this.#badExamples.slice() },
      tokens_per_channel: perChannel,
      dropped: {
        spans: this.#droppedSpans,
        tokens: this.#droppedTokens,
        samples: this.#droppedSamples,
        reasons: sortedObject(this.#droppedReasons),
      },
      repairs: sortedObject(this.#repairs),
      stripped: this.#stripped,
      unreadable: this.#unreadable,
      per_sample: perSample,
      channels: sortedObject(this.#channels),
      recipients: sortedObject(this.#recipients),
      errors: topReasons(this.#errors),
      recovered: topReasons(this.#recovered),
      seconds,
      records_per_second: (this.#records - (base?.records ?? 0)) / secs,
      samples_per_second: (this.#samples - (base?.samples ?? 0)) / secs,
      tokens_per_second: (this.#tokens - (base?.tokens ?? 0)) / secs,
      read,
      shard,
    };
  }
}

/**
 * The human summary of a run (stderr): one line of counts, then (when there is anything to
 * say) lines for mean content tokens per message by channel, dropped spans and repairs by kind,
 * the first tool call with bad JSON arguments, counts per sample index (records with several
 * samples), and one line per frequent error reason.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatStats, StatsCollector } from "./stats.ts";
 * strictEqual(formatStats(new StatsCollector().result(1, 0, "0/1"), "out.jsonl").startsWith("parse-dataset: 0 records"), true);
 * ```
 */
export function formatStats(
  s: ParseDatasetStats,
  out: string,
  maxReasons = 5,
  notes: readonly string[] = [],
): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const rate = (x: number) =>
    x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e4 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0);
  const parts = [
    (s.samples !== s.records
      ? `${n(s.records)} records, ${n(s.samples)} samples`
      : `${n(s.records)} records`) +
    ` (ok ${n(s.status.ok)}, recovered ${n(s.status.recovered)}, error ${n(s.status.error)})`,
    `stop: return ${n(s.stop.return)}, call ${n(s.stop.call)}, end ${n(s.stop.end)}, none ${
      n(s.stop.none)
    }`,
    `${n(s.tokens)} tokens`,
    ...(s.truncated > 0 ? [`truncated ${(100 * s.truncation_rate).toFixed(1)}%`] : []),
    ...(s.dropped.spans > 0
      ? [`dropped ${n(s.dropped.spans)} spans (${n(s.dropped.tokens)} tokens)`]
      : []),
    ...(s.stripped > 0 ? [`stripped text ${n(s.stripped)}`] : []),
    ...(s.unreadable > 0 ? [`unreadable ${n(s.unreadable)}`] : []),
    ...(s.bad_arguments.count > 0 ? [`bad tool arguments ${n(s.bad_arguments.count)}`] : []),
    `${rate(s.records_per_second)} records/s, ` +
    (s.samples !== s.records ? `${rate(s.samples_per_second)} samples/s, ` : "") +
    `${rate(s.tokens_per_second)} tokens/s` +
    (s.backend ? ` (${s.backend})` : ""),
    `${s.seconds.toFixed(1)}s` +
    (s.shard !== "0/1" ? ` (shard ${s.shard} of ${n(s.read)} read)` : ""),
    ...notes,
  ];
  const lines = [`parse-dataset: ${parts.join("; ")} → ${out}`];
  const list = (o: Record<string, number>) =>
    Object.entries(o).map(([k, v]) => `${k} ${n(v)}`).join(", ");
  const channels = Object.entries(s.tokens_per_channel);
  if (channels.length > 0) {
    lines.push(
      `  tokens per message: ${
        channels.map(([k, v]) => `${k} ${v.mean.toFixed(1)} (${n(v.messages)})`).join(", ")
      }`,
    );
  }
  if (s.dropped.spans > 0) {
    lines.push(
      `  dropped spans: ${list(s.dropped.reasons)} (in ${n(s.dropped.samples)} samples)`,
    );
  }
  if (Object.keys(s.repairs).length > 0) lines.push(`  repairs: ${list(s.repairs)}`);
  const bad = s.bad_arguments.examples[0];
  if (bad !== undefined) {
    lines.push(
      `  bad tool arguments: ${
        n(s.bad_arguments.count)
      }, e.g. record ${bad.record} (${bad.file}:${bad.line})` +
        `${bad.sample === undefined ? "" : ` sample ${bad.sample}`} ${
          bad.recipient.slice(0, 64)
        }: ${JSON.stringify(bad.raw.slice(0, 60))}`,
    );
  }
  const indices = Object.entries(s.per_sample);
  if (indices.length > 1) {
    lines.push(
      `  per sample: ${
        indices.map(([k, v]) =>
          `#${k} ${n(v.samples)} (ok ${n(v.ok)}, recovered ${n(v.recovered)}, error ${
            n(v.error)
          }, truncated ${n(v.truncated)})`
        ).join("; ")
      }`,
    );
  }
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
