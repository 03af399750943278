/**
 * Progress reporting for dataset jobs: on a terminal, one line redrawn at most every 200 ms
 * (records, tokens/s, percent and ETA from input bytes read); otherwise nothing until the end,
 * when the caller prints one summary line. Reused by `render-dataset` and `parse-dataset`.
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
}

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Total input bytes (for percent and ETA); 0 when unknown. */
  totalBytes: number;
  /** Minimum milliseconds between redraws (default 200). */
  intervalMs?: number;
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
  #now: () => number;
  #start: number;
  #last = -Infinity;
  #drawn = false;

  /** Creates a progress line on `sink`. */
  constructor(sink: ProgressSink, options: ProgressOptions) {
    this.#sink = sink;
    this.#total = options.totalBytes;
    this.#interval = options.intervalMs ?? 200;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** Seconds since the progress started. */
  get elapsed(): number {
    return (this.#now() - this.#start) / 1000;
  }

  /** Redraws the line if the sink is a terminal and the interval has passed. */
  update(c: ProgressCounts): void {
    if (!this.#sink.isTTY) return;
    const t = this.#now();
    if (t - this.#last < this.#interval) return;
    this.#last = t;
    this.#drawn = true;
    void this.#sink.write(`\r\x1b[2K${this.line(c)}`);
  }

  /** The progress text for `c` (no line ending). */
  line(c: ProgressCounts): string {
    const secs = Math.max(this.elapsed, 1e-9);
    const parts = [
      `${c.records.toLocaleString("en-US")} records`,
      `${c.failed} failed`,
      `${formatCount(c.tokens)} tokens`,
      `${formatCount(c.tokens / secs)} tok/s`,
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
