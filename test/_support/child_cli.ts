// The CLI as a real child process of the runtime running the tests (signals, kill -9), shared by
// the render-dataset and parse-dataset signal tests.
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

/** A running CLI child: its process, its stderr so far and how it exited. */
export interface CliChild {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: string | null }>;
}

/** Starts `harmony ARGS` in this runtime, stdout ignored, stderr collected. */
export function spawnCli(args: string[]): CliChild {
  const argv = isDeno ? ["run", "-A", CLI, ...args] : [CLI, ...args];
  const child = spawn(process.execPath, argv, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d: Uint8Array) => (err += new TextDecoder().decode(d)));
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.on("exit", (code, signal) => r({ code, signal }))
  );
  return { child, stderr: () => err, exited };
}

/** Waits until `cond()` holds, polling every 20 ms; throws after `ms`. */
export async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
