/**
 * Facts about the machine a benchmark runs on, for every report: CPU model and cores, memory,
 * runtime and version, operating system. The GPU adapter is filled in by whoever opened one.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import os from "node:os";
import process from "node:process";
import type { MachineFacts } from "./results.ts";

/** The current runtime's name and version. */
export function runtimeFacts(): { runtime: string; version: string } {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return { runtime: "deno", version: g.Deno.version.deno };
  if (g.Bun) return { runtime: "bun", version: g.Bun.version };
  return { runtime: "node", version: process.versions.node };
}

function cpuModel(): string {
  const cpus = os.cpus();
  if (cpus.length && cpus[0].model && cpus[0].model !== "unknown") return cpus[0].model.trim();
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1].trim();
  } catch {
    // no /proc (not Linux): the model stays unknown
  }
  return "unknown CPU";
}

/**
 * Reads the machine's facts (the GPU fields are null; set them when an adapter is opened).
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { machineFacts } from "./machine.ts";
 * const m = machineFacts();
 * ok(m.cores >= 1 && m.memoryBytes > 0 && m.runtime.length > 0);
 * ```
 */
export function machineFacts(): MachineFacts {
  const { runtime, version } = runtimeFacts();
  const cores = typeof os.availableParallelism === "function"
    ? os.availableParallelism()
    : os.cpus().length;
  return {
    cpu: cpuModel(),
    cores: Math.max(1, cores),
    memoryBytes: os.totalmem(),
    runtime,
    runtimeVersion: version,
    os: `${os.platform()} ${os.arch()}`,
    gpuAdapter: null,
    gpuSoftware: null,
  };
}

/** The resident set size of this process now, in bytes. */
export function rssBytes(): number {
  return process.memoryUsage.rss();
}

/**
 * Tracks the peak resident set size while work runs: sampled every `intervalMs` (the timer fires
 * between batches of async work) and whenever {@link RssSampler.sample} is called.
 */
export class RssSampler {
  #peak = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Starts sampling every `intervalMs` milliseconds (default 25). */
  start(intervalMs = 25): void {
    this.#peak = rssBytes();
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Takes one sample now. */
  sample(): void {
    const r = rssBytes();
    if (r > this.#peak) this.#peak = r;
  }

  /** Stops sampling and returns the peak seen, in bytes. */
  stop(): number {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.sample();
    return this.#peak;
  }
}
