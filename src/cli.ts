#!/usr/bin/env -S deno run -A
/**
 * The `harmony` command: the one file that reads the real argv and sets the exit code.
 *
 * Runs as a program under Deno (`deno run -A src/cli.ts …`) and Bun (`bun src/cli.ts …`), where
 * `import.meta.main` says so; Node ≥ 20 has no `import.meta.main`, so there the installed
 * `harmony` command (`bin/harmony.mjs`, which imports the built `dist/cli.js`) calls {@link run}.
 * Every runtime runs the CLI in-process: nothing spawns another runtime.
 *
 * @module
 */

import { main } from "./cli/main.ts";
import { createHost } from "./cli/host.ts";

/**
 * Runs the CLI with this process's arguments (`Deno.args`, or `process.argv` after the script)
 * and sets the process's exit code from {@link main}'s result.
 *
 * @returns once the command has finished and its output is written.
 *
 * @example
 * ```ts ignore
 * import { run } from "./cli.ts";
 * await run();
 * ```
 */
export async function run(): Promise<void> {
  const deno = (globalThis as { Deno?: { args: string[]; exit(code: number): never } }).Deno;
  if (deno) {
    const code = await main(deno.args, await createHost());
    deno.exit(code);
  }
  const { default: process } = await import("node:process");
  process.exitCode = await main(process.argv.slice(2), await createHost());
}

if ((import.meta as { main?: boolean }).main) await run();
