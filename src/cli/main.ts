/**
 * The CLI's entry function: `main(args, host)` dispatches to a command and returns an exit code.
 * It never calls `exit` itself; `src/cli.ts` does.
 *
 * @module
 */

import { formatHelp, parseArgs, UsageError, usageLine } from "./args.ts";
import { COMMANDS } from "./commands.ts";
import type { Host } from "./host.ts";

/** Exit codes: 0 success, 1 some input failed (reported per line), 2 usage error, 3 crash. */
export const ExitCode = { Ok: 0, InputErrors: 1, Usage: 2, Internal: 3 } as const;

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const rows = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return [
    "harmony — render, parse and tokenize OpenAI's harmony format (o200k_harmony)",
    "",
    "Usage: harmony <command> [options]",
    "",
    "Commands:",
    ...rows,
    "",
    "Run `harmony <command> --help` for a command's options.",
    "",
  ].join("\n");
}

/**
 * Runs the CLI with `args` (without the program name) on `host`; returns the exit code.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * import { memoryHost } from "./host.ts";
 * const host = memoryHost("hello");
 * const code = await main(["encode"], host);
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(code, 0);
 * strictEqual(host.out(), "[24912]\n");
 * ```
 */
export async function main(args: readonly string[], host: Host): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    await host.stdout.write(topHelp());
    return name === undefined ? ExitCode.Usage : ExitCode.Ok;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    await host.stderr.write(`harmony: unknown command "${name.slice(0, 32)}"\n\n${topHelp()}`);
    return ExitCode.Usage;
  }
  const command = await entry.load();
  let parsed;
  try {
    parsed = parseArgs(command.spec, rest);
  } catch (e) {
    if (e instanceof UsageError) {
      await host.stderr.write(`harmony ${name}: ${e.message}\n${usageLine(command.spec)}\n`);
      return ExitCode.Usage;
    }
    throw e;
  }
  if (parsed.help) {
    await host.stdout.write(formatHelp(command.spec));
    return ExitCode.Ok;
  }
  try {
    return await command.run(parsed, host);
  } catch (e) {
    if (e instanceof UsageError) {
      await host.stderr.write(`harmony ${name}: ${e.message}\n${usageLine(command.spec)}\n`);
      return ExitCode.Usage;
    }
    const msg = e instanceof Error ? e.message : String(e);
    await host.stderr.write(`harmony ${name}: ${msg}\n`);
    return ExitCode.Internal;
  }
}
