/**
 * Declarative command-line specs: parsing (unknown flags are errors) and `--help` text generated
 * from the same spec.
 *
 * @module
 */

import { statSync } from "node:fs";

/** One option of a command. */
export interface OptionSpec {
  /** Long name without dashes, e.g. `allowed-special`. */
  name: string;
  /** `boolean` flags take no value (`--no-NAME` sets false); `string` options take one. */
  type: "boolean" | "string";
  /** One line for `--help`. */
  description: string;
  /** Default value, shown in `--help`. */
  default?: string | boolean;
  /** Allowed values of a string option. */
  choices?: readonly string[];
  /** Placeholder in `--help`, e.g. `FILE`. */
  valueName?: string;
  /** Whether the option may repeat (values collected into an array). */
  multiple?: boolean;
}

/** A command: name, one-line summary, usage, options and positional arguments. */
export interface CommandSpec {
  /** Command name, e.g. `encode`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Longer description for `--help` (optional). */
  description?: string;
  /** Options, `--help` excluded (always present). */
  options: readonly OptionSpec[];
  /** Positional arguments, e.g. `INPUT...`; absent means none are accepted. */
  positionals?: { name: string; description: string; min?: number; max?: number };
  /** Example invocations for `--help`. */
  examples?: readonly string[];
}

/** Parsed arguments: option values by name, and positionals. */
export interface ParsedArgs {
  /** Option values; absent options hold their default (or are absent). */
  options: Record<string, string | boolean | string[] | undefined>;
  /** Positional arguments in order. */
  positionals: string[];
  /** Whether `--help` (or `-h`) was given. */
  help: boolean;
}

/** A usage error: the CLI prints it with the command's usage line and exits with code 2. */
export class UsageError extends Error {
  /** Stable code for callers. */
  readonly code = "usage";
  /** Creates a usage error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses `argv` (without the command name) against a spec.
 *
 * @throws {UsageError} on an unknown flag, a missing or disallowed value, or too many/few
 * positionals.
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseArgs } from "./args.ts";
 * const spec = { name: "x", summary: "", options: [{ name: "jsonl", type: "boolean", description: "" }] } as const;
 * strictEqual(parseArgs(spec, ["--jsonl"]).options.jsonl, true);
 * ```
 */
export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const byName = new Map(spec.options.map((o) => [o.name, o]));
  const options: ParsedArgs["options"] = {};
  for (const o of spec.options) {
    if (o.default !== undefined) options[o.name] = o.multiple ? [] : o.default;
    else if (o.multiple) options[o.name] = [];
  }
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg.startsWith("-") && arg !== "-") {
        throw new UsageError(`Cannot parse arguments: unknown option "${arg}"`);
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    let opt = byName.get(name);
    if (!opt && name.startsWith("no-") && inline === undefined) {
      const base = byName.get(name.slice(3));
      if (base?.type === "boolean") {
        opt = base;
        name = base.name;
        inline = "false";
      }
    }
    if (!opt) throw new UsageError(`Cannot parse arguments: unknown option "--${name}"`);
    let value: string | boolean;
    if (opt.type === "boolean") {
      if (inline === undefined) value = true;
      else if (inline === "true" || inline === "false") value = inline === "true";
      else {throw new UsageError(
          `Cannot parse arguments: --${name} takes true or false, got "${inline}"`,
        );}
    } else {
      if (inline === undefined) {
        if (i + 1 >= argv.length) {
          throw new UsageError(`Cannot parse arguments: --${name} needs a value`);
        }
        inline = argv[++i];
      }
      if (opt.choices && !opt.choices.includes(inline)) {
        throw new UsageError(
          `Cannot parse arguments: --${name} must be one of ${opt.choices.join("|")}, got "${
            inline.slice(0, 32)
          }"`,
        );
      }
      value = inline;
    }
    if (opt.multiple) (options[name] as string[]).push(String(value));
    else options[name] = value;
  }
  if (!help && spec.positionals) {
    const { min = 0, max = Infinity, name } = spec.positionals;
    if (positionals.length < min) {
      throw new UsageError(`Cannot parse arguments: ${name} is required`);
    }
    if (positionals.length > max) {
      throw new UsageError(`Cannot parse arguments: too many arguments ("${positionals[max]}")`);
    }
  } else if (!help && positionals.length > 0) {
    throw new UsageError(
      `Cannot parse arguments: unexpected argument "${positionals[0].slice(0, 32)}"`,
    );
  }
  return { options, positionals, help };
}

/** The usage line of a command. */
export function usageLine(spec: CommandSpec): string {
  const pos = spec.positionals ? ` ${spec.positionals.name}` : "";
  return `Usage: harmony ${spec.name} [options]${pos}`;
}

/** `--help` text for a command, generated from its spec. */
export function formatHelp(spec: CommandSpec): string {
  const lines = [usageLine(spec), "", spec.summary];
  if (spec.description) lines.push("", spec.description);
  if (spec.positionals) {
    lines.push(
      "",
      "Arguments:",
      `  ${spec.positionals.name.padEnd(28)} ${spec.positionals.description}`,
    );
  }
  lines.push("", "Options:");
  const all: OptionSpec[] = [...spec.options, {
    name: "help",
    type: "boolean",
    description: "Show this help",
  }];
  for (const o of all) {
    const value = o.type === "string"
      ? ` ${o.valueName ?? (o.choices ? o.choices.join("|") : "VALUE")}`
      : "";
    const left = `  --${o.name}${value}`;
    let desc = o.description;
    if (o.default !== undefined && o.default !== false) desc += ` (default: ${o.default})`;
    if (o.multiple) desc += " (repeatable)";
    lines.push(
      left.length > 30 ? `${left}\n${" ".repeat(31)}${desc}` : `${left.padEnd(30)} ${desc}`,
    );
  }
  if (spec.examples?.length) {
    lines.push("", "Examples:", ...spec.examples.map((e) => `  ${e}`));
  }
  return lines.join("\n") + "\n";
}

/**
 * Checks that every input path names a readable regular file: a missing path or a directory is
 * a usage error (exit 2), reported before any work starts.
 *
 * @param paths the input paths.
 * @param suffix appended to each path before the check (e.g. `.idx` for a dataset prefix).
 * @throws {UsageError} naming the first bad path.
 * @example
 * ```ts ignore
 * import { checkInputFiles } from "./args.ts";
 * checkInputFiles(["data/chats.jsonl"]);
 * ```
 */
export function checkInputFiles(paths: readonly string[], suffix = ""): void {
  for (const p of paths) {
    const path = p + suffix;
    let st;
    try {
      st = statSync(path);
    } catch {
      throw new UsageError(`Cannot read input "${shortPath(path)}": no such file`);
    }
    if (st.isDirectory()) {
      throw new UsageError(`Cannot read input "${shortPath(path)}": it is a directory`);
    }
  }
}

/**
 * Runs `fn`, turning any error it throws into a {@link UsageError} with the same message: for
 * checks of option values done outside the argument parser (e.g. `--shard 3/3`).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { asUsageError } from "./args.ts";
 * deepStrictEqual(asUsageError(() => Number("1")), 1);
 * ```
 */
export function asUsageError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function shortPath(p: string): string {
  return p.length > 48 ? "…" + p.slice(-47) : p;
}
