#!/usr/bin/env -S deno run -A
/**
 * The `harmony` command. Runs under Deno (`deno run -A src/cli.ts …`) and Bun (`bun src/cli.ts …`);
 * `npx harmony …` runs it with the Bun from this package's devDependencies.
 *
 * @module
 */

import { main } from "./cli/main.ts";
import { createHost } from "./cli/host.ts";

if (import.meta.main) {
  const deno = (globalThis as { Deno?: { args: string[]; exit(code: number): never } }).Deno;
  const { default: process } = deno ? { default: undefined } : await import("node:process");
  const args = deno ? deno.args : process!.argv.slice(2);
  const host = await createHost();
  const code = await main(args, host);
  if (deno) deno.exit(code);
  else process!.exitCode = code;
}
