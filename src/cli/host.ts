/**
 * The runtime host of the CLI: standard streams, environment and TTY facts for Deno and Bun.
 * This is one of the two places (with `src/cli.ts`) that touch `Deno`, `Bun` or `process`.
 *
 * @module
 */

/** A text/byte sink with backpressure. */
export interface Output {
  /** Writes text (UTF-8) or bytes. */
  write(data: string | Uint8Array): Promise<void>;
  /** Whether this stream is a terminal. */
  readonly isTTY: boolean;
}

/** What a command may use of its runtime. Tests pass their own. */
export interface Host {
  /** Standard input as byte chunks. */
  stdin(): AsyncIterable<Uint8Array>;
  /** Standard output (data). */
  stdout: Output;
  /** Standard error (diagnostics, progress). */
  stderr: Output;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
  /** Name of the runtime: `deno` or `bun` (or `test`). */
  runtime: string;
  /**
   * Claims SIGINT and SIGTERM for a long job: until `release()`, a signal aborts `signal` (its
   * reason is `"SIGINT"` or `"SIGTERM"`) instead of ending the process, so the job can write a
   * checkpoint; a second signal ends the process at once. Absent where signals do not exist.
   */
  trapSignals?(): TrappedSignals;
}

/** What {@link Host.trapSignals} returns. */
export interface TrappedSignals {
  /** Aborted by the first SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** Gives the signals back their default action. */
  release(): void;
}

/** The signals a job traps, with the exit codes of a process they end (128 + number). */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * The exit code for a job stopped by `signal` (130 for SIGINT, 143 for SIGTERM, else 130).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { interruptExitCode } from "./host.ts";
 * const c = new AbortController();
 * c.abort("SIGTERM");
 * deepStrictEqual(interruptExitCode(c.signal), 143);
 * ```
 */
export function interruptExitCode(signal: AbortSignal): number {
  return signal.reason === "SIGTERM" ? SIGNAL_EXIT_CODES.SIGTERM : SIGNAL_EXIT_CODES.SIGINT;
}

type SignalName = keyof typeof SIGNAL_EXIT_CODES;
const SIGNALS: SignalName[] = ["SIGINT", "SIGTERM"];

function trapper(
  on: (sig: SignalName, fn: () => void) => void,
  off: (sig: SignalName, fn: () => void) => void,
  exit: (code: number) => void,
): () => TrappedSignals {
  return () => {
    const ctrl = new AbortController();
    const handlers = SIGNALS.map((sig) => {
      const fn = () => {
        if (ctrl.signal.aborted) exit(SIGNAL_EXIT_CODES[sig]);
        else ctrl.abort(sig);
      };
      on(sig, fn);
      return [sig, fn] as const;
    });
    let held = true;
    return {
      signal: ctrl.signal,
      release() {
        if (!held) return;
        held = false;
        for (const [sig, fn] of handlers) off(sig, fn);
      },
    };
  };
}

interface DenoLike {
  stdin: { readable: ReadableStream<Uint8Array> };
  stdout: { writable: WritableStream<Uint8Array>; isTerminal(): boolean };
  stderr: { writable: WritableStream<Uint8Array>; isTerminal(): boolean };
  env: { get(name: string): string | undefined };
  addSignalListener(sig: string, fn: () => void): void;
  removeSignalListener(sig: string, fn: () => void): void;
  exit(code: number): never;
}

/** Creates the host for the current runtime (Deno, or Bun/Node through `node:process`). */
export async function createHost(): Promise<Host> {
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (deno) {
    const enc = new TextEncoder();
    const sink = (w: WritableStream<Uint8Array>, tty: boolean): Output => {
      const writer = w.getWriter();
      return {
        isTTY: tty,
        write: (d) => writer.write(typeof d === "string" ? enc.encode(d) : d),
      };
    };
    return {
      runtime: "deno",
      stdin: () => deno.stdin.readable,
      stdout: sink(deno.stdout.writable, deno.stdout.isTerminal()),
      stderr: sink(deno.stderr.writable, deno.stderr.isTerminal()),
      env: (n) => deno.env.get(n),
      trapSignals: trapper(
        (sig, fn) => deno.addSignalListener(sig, fn),
        (sig, fn) => deno.removeSignalListener(sig, fn),
        (code) => deno.exit(code),
      ),
    };
  }
  const { default: process } = await import("node:process");
  const sink = (s: NodeJS.WriteStream): Output => ({
    isTTY: Boolean(s.isTTY),
    write: (d) =>
      new Promise<void>((resolve, reject) => {
        s.write(d, (err) => (err ? reject(err) : resolve()));
      }),
  });
  return {
    runtime: typeof (globalThis as { Bun?: unknown }).Bun !== "undefined" ? "bun" : "node",
    stdin: () => process.stdin as AsyncIterable<Uint8Array>,
    stdout: sink(process.stdout),
    stderr: sink(process.stderr),
    env: (n) => process.env[n],
    trapSignals: trapper(
      (sig, fn) => process.on(sig, fn),
      (sig, fn) => process.off(sig, fn),
      (code) => process.exit(code),
    ),
  };
}

/**
 * A host backed by memory, for tests: `stdin` is the given text, output is collected.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { memoryHost } from "./host.ts";
 * const host = memoryHost("hello\n");
 * await host.stdout.write("x");
 * strictEqual(host.out(), "x");
 * ```
 */
export function memoryHost(
  input: string | Uint8Array = "",
  env: Record<string, string> = {},
): Host & { out(): string; err(): string } {
  const outParts: Uint8Array[] = [];
  const errParts: Uint8Array[] = [];
  const enc = new TextEncoder();
  const bytes = typeof input === "string" ? enc.encode(input) : input;
  const collect = (parts: Uint8Array[]): Output => ({
    isTTY: false,
    write: (d) => {
      parts.push(typeof d === "string" ? enc.encode(d) : d.slice());
      return Promise.resolve();
    },
  });
  const join = (parts: Uint8Array[]) => {
    const n = parts.reduce((a, p) => a + p.length, 0);
    const all = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return new TextDecoder().decode(all);
  };
  return {
    runtime: "test",
    // Deliver input in small chunks so line splitting across chunks is exercised.
    stdin: async function* () {
      for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
    },
    stdout: collect(outParts),
    stderr: collect(errParts),
    env: (n) => env[n],
    out: () => join(outParts),
    err: () => join(errParts),
  };
}
