/**
 * Progress reporting for dataset jobs: on a terminal, one line redrawn at most every 200 ms;
 * in logs (stderr not a terminal: Slurm, Kubernetes), one plain line every 10 s by default
 * (`--progress-every SECONDS`, 0 = off). The line has records, failures, tokens, records/s,
 * tokens/s, elapsed time, and percent and ETA from input bytes read. Rates count only this
 * run's work (a resumed run's earlier records and tokens are subtracted). Reused by
 * `render-dataset` and `parse-dataset`.
 *
 * @module
 */

/** Where progress goes: a text sink that knows whether it is a terminal. */
export interface ProgressSink {
  /** Writes text. */
  write(text: string): Promise<void> | void;
  /** Whether the sink is a terminal. */
  readonly isTTY: boolean;
}

/** Counters a job reports. */
export interface ProgressCounts {
  /** Records read so far. */
  records: number;
  /** Records that failed so far. */
  failed: number;
  /** Tokens written so far. */
  tokens: number;
  /** Input bytes read so far. */
  bytes: number;
  /** Records counted before this run (a resume's checkpoint), excluded from rates. */
  resumedRecords?: number;
  /** Tokens counted before this run, excluded from rates. */
  resumedTokens?: number;
}

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Total input bytes (for percent and ETA); 0 when unknown. */
  totalBytes: number;
  /** Minimum milliseconds between redraws on a terminal (default 200). */
  intervalMs?: number;
  /** Milliseconds between plain lines when the sink is not a terminal (default 10000; 0: off). */
  logEveryMs?: number;
  /** Clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

/**
 * A throttled progress line.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * import { strictEqual } from "node:assert/strict";
 * let written = "";
 * const p = new Progress({ write: (s: string) => void (written += s), isTTY: false }, { totalBytes: 100 });
 * p.update({ records: 1, failed: 0, tokens: 10, bytes: 50 });
 * strictEqual(written.includes("\r"), false); // a log, not a live line: no carriage return
 * ```
 */
export class Progress {
  #sink: ProgressSink;
  #total: number;
  #interval: number;
  #logEvery: number;
  #now: () => number;
  #start: number;
  #last = -Infinity;
  #drawn = false;

  /** Creates a progress line on `sink`. */
  constructor(sink: ProgressSink, options: ProgressOptions) {
    this.#sink = sink;
    this.#total = options.totalBytes;
    this.#interval = options.intervalMs ?? 200;
    this.#logEvery = options.logEveryMs ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** Seconds since the progress started. */
  get elapsed(): number {
    return (this.#now() - this.#start) / 1000;
  }

  /**
   * Redraws the line on a terminal once the interval has passed; elsewhere prints it as a plain
   * line every `logEveryMs` (the first one `logEveryMs` after the start).
   */
  update(c: ProgressCounts): void {
    const t = this.#now();
    if (!this.#sink.isTTY) {
      if (this.#logEvery <= 0) return;
      if (this.#last === -Infinity) this.#last = this.#start;
      if (t - this.#last < this.#logEvery) return;
      this.#last = t;
      void this.#sink.write(`${this.line(c)}\n`);
      return;
    }
    if (t - this.#last < this.#interval) return;
    this.#last = t;
    this.#drawn = true;
    void this.#sink.write(`\r\x1b[2K${this.line(c)}`);
  }

  /** The progress text for `c` (no line ending). */
  line(c: ProgressCounts): string {
    const secs = Math.max(this.elapsed, 1e-9);
    const records = c.records - (c.resumedRecords ?? 0);
    const tokens = c.tokens - (c.resumedTokens ?? 0);
    const parts = [
      `${c.records.toLocaleString("en-US")} records`,
      `${c.failed} failed`,
      `${formatCount(c.tokens)} tokens`,
      `${formatCount(records / secs)} rec/s`,
      `${formatCount(tokens / secs)} tok/s`,
      formatDuration(this.elapsed),
    ];
    if (this.#total > 0) {
      const frac = Math.min(1, c.bytes / this.#total);
      parts.push(`${(frac * 100).toFixed(1)}%`);
      if (frac > 0 && frac < 1) parts.push(`ETA ${formatDuration(secs / frac - secs)}`);
    }
    return parts.join(" · ");
  }

  /** Clears the line (before the caller prints its summary). */
  end(): void {
    if (this.#drawn) void this.#sink.write("\r\x1b[2K");
  }
}

/**
 * `1234567` → `1.23M`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatCount } from "./progress.ts";
 * strictEqual(formatCount(1234567), "1.23M");
 * ```
 */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

/**
 * Seconds → `1h02m`, `3m05s`, `12s`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatDuration } from "./progress.ts";
 * strictEqual(formatDuration(185), "3m05s");
 * ```
 */
export function formatDuration(seconds: number): string {
  if (seconds < 9.95) return `${Math.max(0, seconds).toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}
