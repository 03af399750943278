/**
 * Runs the `harmony` CLI as a child process of the runtime running the bench and measures it from
 * outside: wall time, CPU time per thread (sampled from `/proc/PID/task/TID/stat`, so the main
 * thread's share is visible next to the workers'), peak RSS (`VmHWM` of `/proc/PID/status`) and
 * the machine's load average around the run. Without `/proc` (not Linux) only wall time is
 * measured. Private to `bench/`.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
const TICK = 100; // USER_HZ: clock ticks per second in /proc stat files on Linux

/** What one CLI run cost. */
export interface ChildRun {
  /** Exit code. */
  status: number | null;
  /** Wall milliseconds from spawn to exit. */
  wallMs: number;
  /** User + system CPU milliseconds of all threads (null without /proc). */
  cpuMs: number | null;
  /** CPU milliseconds of the main (JS) thread. */
  mainCpuMs: number | null;
  /** CPU milliseconds of the busiest other thread (a worker, when there are workers). */
  busiestOtherCpuMs: number | null;
  /** Peak resident set size in bytes (`VmHWM`), or null without /proc. */
  peakRssBytes: number | null;
  /** The 1-minute load average before and after. */
  load: [number, number];
  /** The child's stderr. */
  stderr: string;
}

/** The argv that runs the CLI in this runtime: `deno run -A src/cli.ts …` or `bun src/cli.ts …`. */
export function cliCommand(args: readonly string[]): [string, string[]] {
  return [process.execPath, isDeno ? ["run", "-A", CLI, ...args] : [CLI, ...args]];
}

function threadTicks(pid: number, into: Map<number, number>): void {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      // Fields after the parenthesized name: state is 0, utime 11, stime 12 (proc(5)).
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      into.set(Number(tid), Number(f[11]) + Number(f[12]));
    } catch {
      // the thread ended between readdir and read; its last sample stands
    }
  }
}

function hwm(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Runs `harmony ARGS…` in a child process and measures it (see the module doc). */
export function runCli(args: readonly string[], sampleMs = 50): Promise<ChildRun> {
  const [cmd, argv] = cliCommand(args);
  const load0 = loadavg()[0];
  const t0 = performance.now();
  const child = spawn(cmd, argv, { stdio: ["ignore", "ignore", "pipe"] });
  const pid = child.pid!;
  const ticks = new Map<number, number>();
  let peak: number | null = null;
  let proc = true;
  const sample = () => {
    if (!proc) return;
    threadTicks(pid, ticks);
    const h = hwm(pid);
    if (h === null && ticks.size === 0) proc = false;
    else if (h !== null) peak = Math.max(peak ?? 0, h);
  };
  const timer = setInterval(sample, sampleMs);
  let stderr = "";
  child.stderr!.on("data", (d: Uint8Array) => (stderr += new TextDecoder().decode(d)));
  return new Promise((resolve, reject) => {
    child.on("error", (e) => {
      clearInterval(timer);
      reject(e);
    });
    child.on("exit", (code) => {
      const wallMs = performance.now() - t0;
      clearInterval(timer);
      const all = [...ticks.entries()];
      const main = ticks.get(pid) ?? null;
      const others = all.filter(([tid]) => tid !== pid).map(([, t]) => t);
      resolve({
        status: code,
        wallMs,
        cpuMs: all.length ? all.reduce((a, [, t]) => a + t, 0) * (1000 / TICK) : null,
        mainCpuMs: main === null ? null : main * (1000 / TICK),
        busiestOtherCpuMs: others.length ? Math.max(...others) * (1000 / TICK) : null,
        peakRssBytes: peak,
        load: [load0, loadavg()[0]],
        stderr,
      });
    });
  });
}

/** Whether `harmony COMMAND --help` lists `flag` (e.g. `--workers` on parse-dataset). */
export async function cliHasFlag(command: string, flag: string): Promise<boolean> {
  const [cmd, argv] = cliCommand([command, "--help"]);
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Uint8Array) => (out += new TextDecoder().decode(d)));
  child.stderr!.on("data", (d: Uint8Array) => (out += new TextDecoder().decode(d)));
  await new Promise((r) => child.on("exit", r));
  return new RegExp(`^\\s+${flag}\\b`, "m").test(out);
}
