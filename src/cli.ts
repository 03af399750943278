#!/usr/bin/env -S deno run -A
/**
 * The `harmony` command: the one file that reads the real argv and sets the exit code.
 *
 * Runs as a program under Deno (`deno run -A src/cli.ts …`), Bun (`bun src/cli.ts …`) and Node
 * (`node dist/cli.js …`; Node before 24.2 has no `import.meta.main`, so there `process.argv[1]` is
 * compared with this file). The installed `harmony` command (`bin/harmony.mjs`) imports the built
 * `dist/cli.js` and calls {@link run}.
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

/**
 * Whether this module is the program: `import.meta.main` in Deno, Bun and Node ≥ 24.2; in older
 * Node (including `tsx src/cli.ts`), whether `process.argv[1]` is this file.
 */
async function isProgram(meta: { main?: boolean; url: string }): Promise<boolean> {
  if (meta.main !== undefined) return meta.main;
  const [{ default: process }, { realpathSync }, { fileURLToPath }] = await Promise.all([
    import("node:process"),
    import("node:fs"),
    import("node:url"),
  ]);
  const script = process.argv[1];
  if (script === undefined || !meta.url.startsWith("file:")) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(meta.url));
  } catch {
    return false; // argv[1] is not a file (e.g. `node -e`): not the program
  }
}

if (await isProgram(import.meta as { main?: boolean; url: string })) await run();
