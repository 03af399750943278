/**
 * The CLI's entry function: `main(args, host)` dispatches to a command and returns an exit code.
 * It never calls `exit` itself; `src/cli.ts` does.
 *
 * @module
 */

import { formatHelp, parseArgs, UsageError, usageLine } from "./args.ts";
import { COMMANDS } from "./commands.ts";
import type { Host } from "./host.ts";
import { VERSION } from "../version.ts";

/** Exit codes: 0 success, 1 some input failed (reported per line), 2 usage error, 3 crash. */
export const ExitCode = { Ok: 0, InputErrors: 1, Usage: 2, Internal: 3 } as const;

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const rows = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return [
    "harmony — render, parse and tokenize OpenAI's harmony format (o200k_harmony)",
    "",
    "Usage: harmony <command> [options]",
    "       harmony --version",
    "",
    "Commands:",
    ...rows,
    "",
    "Run `harmony <command> --help` for a command's options.",
    "",
  ].join("\n");
}

/**
 * Edit distance (insertions, deletions, substitutions; an adjacent swap counts once) between two
 * short strings, in O(|a|·|b|).
 */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0].push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, rows[i - 2][j - 2] + 1);
      }
      rows[i].push(d);
    }
  }
  return rows[a.length][b.length];
}

/**
 * The command a mistyped `name` most likely meant: the closest by edit distance (at most 2, and
 * less than half the name), else the shortest command that `name` is a prefix of when every other
 * such command extends it (`rend` → `render`, not `render-dataset`); `undefined` if none.
 *
 * @param name The word the user typed.
 * @param commands The known command names.
 * @returns The suggested command, or `undefined`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { suggestCommand } from "./main.ts";
 * deepStrictEqual(suggestCommand("rendr", ["render", "parse"]), "render");
 * deepStrictEqual(suggestCommand("zzz", ["render", "parse"]), undefined);
 * ```
 */
export function suggestCommand(name: string, commands: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of commands) {
    const d = editDistance(lower, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  if (best !== undefined && bestDistance <= Math.min(2, Math.floor((lower.length - 1) / 2))) {
    return best;
  }
  const prefixed = lower.length >= 2 ? commands.filter((c) => c.startsWith(lower)) : [];
  const shortest = prefixed.reduce<string | undefined>(
    (a, c) => (a === undefined || c.length < a.length ? c : a),
    undefined,
  );
  return shortest !== undefined && prefixed.every((c) => c.startsWith(shortest))
    ? shortest
    : undefined;
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
  if (name === "--version" || name === "-V") {
    await host.stdout.write(`harmony-engine ${VERSION}\n`);
    return ExitCode.Ok;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    const guess = suggestCommand(name, Object.keys(COMMANDS));
    const hint = guess === undefined ? "" : `; did you mean "${guess}"?`;
    await host.stderr.write(
      `harmony: unknown command "${name.slice(0, 32)}"${hint}\n\n${topHelp()}`,
    );
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
