/**
 * The command registry: each command's module is loaded only when that command runs, so `--help`
 * and the data-model-only commands never load the vocabulary or GPU code.
 *
 * @module
 */

import type { Host } from "./host.ts";
import type { CommandSpec, ParsedArgs } from "./args.ts";

/** A CLI command: its spec and what it does. Returns the exit code. */
export interface Command {
  /** The declarative spec (`--help` is generated from it). */
  spec: CommandSpec;
  /** Runs the command. */
  run(args: ParsedArgs, host: Host): Promise<number>;
}

/** Command name → its one-line summary and a lazy loader of its module. */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  encode: {
    summary: "Text on stdin → token ids (o200k_harmony)",
    load: async () => (await import("./commands/encode.ts")).command,
  },
  decode: {
    summary: "Token ids on stdin → text",
    load: async () => (await import("./commands/decode.ts")).command,
  },
  render: {
    summary: "Conversations on stdin (JSONL, harmony JSON) → token ids",
    load: async () => (await import("./commands/render.ts")).command,
  },
  parse: {
    summary: "Completion token ids on stdin → harmony messages (JSON lines)",
    load: async () => (await import("./commands/parse.ts")).command,
  },
  "render-dataset": {
    summary: "Conversations (JSONL/Parquet) → training token files (Megatron, JSONL, Parquet, bin)",
    load: async () => (await import("./commands/render_dataset.ts")).command,
  },
  merge: {
    summary: "Concatenate shard outputs of render-dataset (Megatron, bin) into one dataset",
    load: async () => (await import("./commands/merge.ts")).command,
  },
  "parse-dataset": {
    summary: "Sampled completions (eval outputs; JSONL/Parquet) → structured results (JSONL)",
    load: async () => (await import("./commands/parse_dataset.ts")).command,
  },
  bench: {
    summary: "Encode/parse throughput of the CPU and GPU backends on sample data",
    load: async () => (await import("./commands/bench.ts")).command,
  },
  demo: {
    summary: "Run the bundled example job and print a summary (what `npm start` runs)",
    load: async () => (await import("./commands/demo.ts")).command,
  },
};
