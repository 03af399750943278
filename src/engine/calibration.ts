/**
 * Calibration of the engine's `auto` mode: which batch size is the smallest the GPU encodes
 * faster than the CPU, measured once per adapter and engine version and cached in a small JSON
 * file in the user's cache directory (`$XDG_CACHE_HOME/harmony-engine/calibration.json`, else
 * `~/.cache/…`; `%LOCALAPPDATA%\harmony-engine\…` on Windows).
 *
 * The model: encoding a batch of `x` MB takes `c·x` ms on the CPU and `f + g·x` ms on the GPU
 * (`f`: the fixed cost of one batch — submission, mapping, planning; `g`: the cost per MB with
 * upload and read-back). {@link calibrate} measures `c` on one fixed batch and `f`, `g` from two
 * batch sizes (best of a few interleaved rounds, after a warm-up that compiles the pipelines and
 * uploads the tables), a few milliseconds of CPU work in all; {@link decideThreshold} gives the
 * break-even size `f / (c − g)`, or `null` (never the GPU) when `g ≥ c`.
 *
 * Pure apart from {@link CalibrationCache} (the file) and {@link mayHaveGpu} (device nodes);
 * timings are injected in tests.
 *
 * @module
 */

import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { VERSION } from "../version.ts";
import { writeFileDurably } from "../io/durable_file.ts";

/** Sizes of the two calibration batches, in UTF-16 code units (what `auto` compares). */
export const CALIBRATION_SIZES = { small: 8 * 1024, large: 128 * 1024 } as const;

/** Interleaved rounds measured after the warm-up (the best of each is kept). */
export const CALIBRATION_ROUNDS = 3;

/** What a calibration found (and what the cache stores). */
export interface Calibration {
  /** Smallest batch (UTF-16 code units of text) the GPU gets, or `null`: never the GPU. */
  threshold: number | null;
  /** CPU milliseconds per MB of text. */
  cpuMsPerMB: number;
  /** GPU fixed milliseconds per batch. */
  gpuFixedMs: number;
  /** GPU milliseconds per MB of text (upload and read-back included). */
  gpuMsPerMB: number;
}

/** A cached calibration: the measurement, its key and when it was made. */
export interface CachedCalibration extends Calibration {
  /** {@link calibrationKey} of the adapter, engine version and runtime. */
  key: string;
  /** ISO time of the measurement. */
  measuredAt: string;
}

/** Times one batch on a backend, in milliseconds (the engine's default runs `encodeBatch`). */
export type CalibrationTimer = (
  backend: "cpu" | "gpu",
  texts: readonly string[],
) => number | Promise<number>;

/**
 * The break-even batch size of the model `cpu = c·x`, `gpu = f + g·x` (x in MB), in UTF-16 code
 * units (1 MB = 10^6 units), or `null` when the GPU is not faster per MB.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { decideThreshold } from "./calibration.ts";
 * strictEqual(decideThreshold({ cpuMsPerMB: 30, gpuFixedMs: 2, gpuMsPerMB: 10 }), 100_000);
 * strictEqual(decideThreshold({ cpuMsPerMB: 30, gpuFixedMs: 2, gpuMsPerMB: 40 }), null);
 * ```
 */
export function decideThreshold(
  m: Pick<Calibration, "cpuMsPerMB" | "gpuFixedMs" | "gpuMsPerMB">,
): number | null {
  const gain = m.cpuMsPerMB - m.gpuMsPerMB;
  if (!(gain > 0) || !Number.isFinite(m.gpuFixedMs)) return null;
  return Math.max(1, Math.ceil((Math.max(0, m.gpuFixedMs) / gain) * 1e6));
}

/**
 * The fixed calibration batch of about `units` UTF-16 code units: prose, code and CJK lines
 * (deterministic, so every run and machine measures the same work).
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { calibrationTexts } from "./calibration.ts";
 * const texts = calibrationTexts(4096);
 * ok(texts.join("").length >= 4096);
 * ```
 */
export function calibrationTexts(units: number): string[] {
  const lines = [
    "The quick brown fox jumps over the lazy dog, then checks the weather for tomorrow.",
    'fn main() { let v: Vec<u32> = (0..10).map(|x| x * 2).collect(); println!("{v:?}"); }',
    "东京的天气今天晴朗，最高气温二十五度。明日は雨が降るでしょう。",
    "  if (value === undefined) return fallback; // 1234567890 items\n",
  ];
  const out: string[] = [];
  let n = 0;
  for (let i = 0; n < units; i++) {
    const t = `${lines[i % lines.length]} #${i}`;
    out.push(t);
    n += t.length;
  }
  return out;
}

/**
 * Measures the model on both backends with `time` (warm-up, then {@link CALIBRATION_ROUNDS}
 * interleaved rounds of CPU large, GPU small, GPU large; best of each) and decides the threshold.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { calibrate } from "./calibration.ts";
 * // Injected timings: the CPU at 40 ms/MB, the GPU at 3 ms + 10 ms/MB.
 * const c = await calibrate((b, texts) => {
 *   const mb = texts.join("").length / 1e6;
 *   return b === "cpu" ? 40 * mb : 3 + 10 * mb;
 * });
 * strictEqual(c.threshold, 100_000);
 * ```
 */
export async function calibrate(time: CalibrationTimer): Promise<Calibration> {
  const small = calibrationTexts(CALIBRATION_SIZES.small);
  const large = calibrationTexts(CALIBRATION_SIZES.large);
  const units = (t: string[]) => t.reduce((a, s) => a + s.length, 0) / 1e6;
  const s = units(small), l = units(large);
  await time("gpu", small); // pipelines, table upload
  await time("cpu", small); // the tokenizer's tables
  let cpuL = Infinity, gpuS = Infinity, gpuL = Infinity;
  for (let r = 0; r < CALIBRATION_ROUNDS; r++) {
    cpuL = Math.min(cpuL, await time("cpu", large));
    gpuS = Math.min(gpuS, await time("gpu", small));
    gpuL = Math.min(gpuL, await time("gpu", large));
  }
  const cpuMsPerMB = cpuL / l;
  const gpuMsPerMB = Math.max(0, (gpuL - gpuS) / (l - s));
  const gpuFixedMs = Math.max(0, gpuS - gpuMsPerMB * s);
  return {
    threshold: decideThreshold({ cpuMsPerMB, gpuFixedMs, gpuMsPerMB }),
    cpuMsPerMB,
    gpuFixedMs,
    gpuMsPerMB,
  };
}

/**
 * The cache key of a calibration: adapter, engine version and runtime (a new driver name, engine
 * or runtime version measures again).
 *
 * @example
 * ```ts
 * import { match } from "node:assert/strict";
 * import { calibrationKey } from "./calibration.ts";
 * match(calibrationKey("NVIDIA GeForce RTX 4090"), /^NVIDIA GeForce RTX 4090 \| harmony-engine /);
 * ```
 */
export function calibrationKey(adapter: string): string {
  const v = process.versions as Record<string, string | undefined>;
  const runtime = v.bun ? `bun ${v.bun}` : v.deno ? `deno ${v.deno}` : `node ${v.node}`;
  return `${adapter} | harmony-engine ${VERSION} | ${runtime}`;
}

/**
 * One line for `Engine.describe()` and the info's reason: what `auto` chose and why.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { describeCalibration } from "./calibration.ts";
 * strictEqual(
 *   describeCalibration({ threshold: 100_000, cpuMsPerMB: 40, gpuFixedMs: 3, gpuMsPerMB: 10 }, "measured"),
 *   "auto: GPU for batches of 100,000+ chars (measured: CPU 40.0 ms/MB, GPU 3.00 ms + 10.0 ms/MB)",
 * );
 * ```
 */
export function describeCalibration(c: Calibration, source: "measured" | "cached"): string {
  const why =
    `${source}: CPU ${c.cpuMsPerMB.toFixed(1)} ms/MB, GPU ${c.gpuFixedMs.toFixed(2)} ms + ` +
    `${c.gpuMsPerMB.toFixed(1)} ms/MB`;
  return c.threshold === null
    ? `auto: CPU for every batch, the GPU is not faster per MB (${why})`
    : `auto: GPU for batches of ${c.threshold.toLocaleString("en-US")}+ chars (${why})`;
}

/**
 * The default cache file, or undefined when no cache directory is known.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { defaultCalibrationPath } from "./calibration.ts";
 * const p = defaultCalibrationPath();
 * ok(p === undefined || p.endsWith("calibration.json"));
 * ```
 */
export function defaultCalibrationPath(): string | undefined {
  try {
    const env = process.env;
    const base = env.XDG_CACHE_HOME ||
      (process.platform === "win32" ? env.LOCALAPPDATA : undefined) ||
      join(homedir(), ".cache");
    return base ? join(base, "harmony-engine", "calibration.json") : undefined;
  } catch {
    return undefined; // no environment access (e.g. Deno without --allow-env): no cache
  }
}

/** The file's shape: entries by key. */
interface CacheFile {
  version: 1;
  entries: Record<string, CachedCalibration>;
}

function isCalibration(v: unknown): v is CachedCalibration {
  const c = v as Partial<CachedCalibration> | null;
  return typeof c === "object" && c !== null && typeof c.key === "string" &&
    (c.threshold === null || (typeof c.threshold === "number" && c.threshold > 0)) &&
    typeof c.cpuMsPerMB === "number" && typeof c.gpuFixedMs === "number" &&
    typeof c.gpuMsPerMB === "number" && typeof c.measuredAt === "string";
}

/**
 * The calibration cache file. A missing, unreadable or malformed file is a miss (the engine
 * measures again and rewrites it); writes go to a temporary name and are renamed.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { CalibrationCache } from "./calibration.ts";
 * const dir = mkdtempSync(join(tmpdir(), "cal-"));
 * const cache = new CalibrationCache(join(dir, "harmony-engine", "calibration.json"));
 * const c = { key: "k", threshold: 5, cpuMsPerMB: 1, gpuFixedMs: 1, gpuMsPerMB: 0.5, measuredAt: "now" };
 * cache.write(c);
 * deepStrictEqual(cache.read("k"), c);
 * rmSync(dir, { recursive: true });
 * ```
 */
export class CalibrationCache {
  /** The file. */
  readonly path: string;

  /** A cache in `path` (created on the first write). */
  constructor(path: string) {
    this.path = path;
  }

  #load(): CacheFile {
    try {
      const v = JSON.parse(readFileSync(this.path, "utf8")) as Partial<CacheFile>;
      if (v.version === 1 && typeof v.entries === "object" && v.entries !== null) {
        return { version: 1, entries: v.entries };
      }
    } catch {
      // missing or malformed: a miss, rewritten by the next write
    }
    return { version: 1, entries: {} };
  }

  /** The entry for `key`, or undefined. */
  read(key: string): CachedCalibration | undefined {
    const e = this.#load().entries[key];
    return isCalibration(e) && e.key === key ? e : undefined;
  }

  /**
   * Stores `entry` (keeping the other keys).
   *
   * @throws when the directory or file cannot be written (the engine warns and goes on).
   */
  write(entry: CachedCalibration): void {
    const file = this.#load();
    file.entries[entry.key] = entry;
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileDurably(this.path, JSON.stringify(file, null, 2) + "\n");
  }
}

/**
 * Whether this machine may have a GPU, from its device nodes alone (no GPU runtime is started):
 * on Linux a DRM render node (`/dev/dri/renderD*`), an NVIDIA device (`/dev/nvidia0`), WSL's
 * `/dev/dxg` or AMD's `/dev/kfd`; other systems always may.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { mayHaveGpu } from "./calibration.ts";
 * strictEqual(typeof mayHaveGpu(), "boolean");
 * ```
 */
export function mayHaveGpu(): boolean {
  if (process.platform !== "linux") return true;
  try {
    if (["/dev/nvidia0", "/dev/dxg", "/dev/kfd"].some((p) => existsSync(p))) return true;
    return existsSync("/dev/dri") && readdirSync("/dev/dri").some((f) => f.startsWith("renderD"));
  } catch {
    return true; // cannot tell: let the GPU runtime decide
  }
}
