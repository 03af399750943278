/**
 * `harmony parse-dataset`: sampled completions (JSONL, JSONL.gz, Parquet; token ids or text) →
 * one JSONL line of eval results per record (docs/parse-dataset.md).
 *
 * @module
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Command } from "../commands.ts";
import { type Host, interruptExitCode } from "../host.ts";
import { checkInputFiles, UsageError } from "../args.ts";
import type { Role } from "../../chat/role.ts";
import { resolveShard } from "../../dataset/shard.ts";
import { Progress } from "../../dataset/progress.ts";
import { totalInputBytes } from "../../dataset/readers.ts";
import { loadTokenizer } from "../../tokenizer/mod.ts";
import {
  parseDataset,
  type ParseDatasetSummary,
  shardOutputPath,
} from "../../evals/parse_dataset.ts";
import { formatStats, type ParseDatasetStats } from "../../evals/stats.ts";
import { BACKEND_OPTION, openBackendOption } from "../backend.ts";
import { parseFieldPath } from "../../evals/field_path.ts";
import {
  checkpointEvery,
  jobOptions,
  progressEveryMs,
  refusePipesOnResume,
  resolveWorkers,
} from "../job_flags.ts";

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/**
 * Runs `parse-dataset` with parsed options; returns the statistics and the output path.
 *
 * @throws {UsageError} when `--out` is missing, an input does not exist or the shard is malformed.
 */
export async function runParseDataset(
  host: Host,
  inputs: string[],
  o: Record<string, string | boolean | string[] | undefined>,
): Promise<{
  stats: ParseDatasetStats;
  out: string;
  statsFile?: string;
  /** Whether a signal stopped the run (a checkpoint was written). */
  interrupted: boolean;
  /** Records read before this run (from the checkpoint). */
  resumedFrom: number;
  /** The exit code when a signal interrupted the run. */
  exitSignal?: number;
}> {
  const outOpt = str(o.out);
  if (!outOpt) throw new UsageError("Cannot parse dataset: --out FILE is required");
  checkInputFiles(inputs);
  refusePipesOnResume(inputs, o.resume === true);
  let shard;
  try {
    shard = resolveShard(
      { shard: str(o.shard), shardCount: str(o["shard-count"]) },
      (n) => host.env(n),
    );
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const out = shardOutputPath(outOpt, shard);
  const statsOpt = str(o.stats);
  const statsFile = statsOpt === undefined ? undefined : shardOutputPath(statsOpt, shard);
  mkdirSync(dirname(out), { recursive: true });
  const roleOpt = str(o.role) ?? "assistant";
  const role: Role | null = roleOpt === "none" ? null : roleOpt as Role;
  const field = str(o.field);
  if (field !== undefined) {
    try {
      parseFieldPath(field);
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
  }
  const emit: ("openai" | "responses")[] = [];
  const emitOpt = o.emit;
  for (const v of Array.isArray(emitOpt) ? emitOpt : typeof emitOpt === "string" ? [emitOpt] : []) {
    for (const part of v.split(",")) {
      const name = part.trim();
      if (name !== "openai" && name !== "responses") {
        throw new UsageError(
          `Cannot parse dataset: --emit ${JSON.stringify(name)} is not openai or responses`,
        );
      }
      if (!emit.includes(name)) emit.push(name);
    }
  }
  const tokenizer = await loadTokenizer();
  const engine = await openBackendOption(host, o.backend, "parse-dataset");
  const totalBytes = await totalInputBytes(inputs);
  // Worker threads parse on the CPU: `--backend gpu` stays on the main thread, as in
  // render-dataset (under `auto`, a GPU that opened means one thread).
  const workers = engine.kind === "gpu" ? 1 : resolveWorkers(str(o.workers), totalBytes);
  const progress = new Progress(host.stderr, {
    totalBytes,
    logEveryMs: progressEveryMs(str(o["progress-every"])),
  });
  const trapped = host.trapSignals?.();
  let summary: ParseDatasetSummary;
  try {
    summary = await parseDataset({
      inputs,
      out,
      tokenizer,
      role,
      field,
      recover: str(o.recover) === "all" ? "all" : "first",
      stripped: str(o.stripped) !== "off",
      shard,
      emit,
      engine,
      workers,
      resume: o.resume === true,
      checkpointEvery: checkpointEvery(str(o["checkpoint-every"])),
      signal: trapped?.signal,
      onProgress: (p) =>
        progress.update({
          records: p.read,
          failed: p.failed,
          tokens: p.tokens,
          bytes: p.bytes,
          resumedRecords: p.resumedRead,
          resumedTokens: p.resumedTokens,
        }),
    });
  } finally {
    trapped?.release();
    engine.destroy();
  }
  progress.end();
  const stats = summary.stats;
  stats.backend = workers > 1 ? `${workers} workers, cpu` : engine.describe();
  if (statsFile !== undefined && !summary.interrupted) {
    mkdirSync(dirname(statsFile), { recursive: true });
    // A shard's stats carry its collector's state, which `merge --stats` combines.
    const file = shard.count > 1 ? { ...stats, snapshot: summary.snapshot } : stats;
    writeFileSync(statsFile, JSON.stringify(file, null, 2) + "\n");
  }
  return {
    stats,
    out,
    statsFile,
    interrupted: summary.interrupted,
    resumedFrom: summary.resumedFrom,
    exitSignal: summary.interrupted && trapped ? interruptExitCode(trapped.signal) : undefined,
  };
}

/** The `parse-dataset` command. */
export const command: Command = {
  spec: {
    name: "parse-dataset",
    summary: "Parse sampled completions (eval outputs) into structured results (JSONL)",
    description:
      "Reads JSONL (plain or gzip) and Parquet records holding a completion as token ids\n" +
      "(tokens, completion_tokens, output_ids, token_ids) or as text (text, completion, output,\n" +
      "response), or samples: vLLM outputs[*], SGLang, lm-eval resps, OpenAI choices[*] and batch\n" +
      'output; --field PATH picks another. Writes one line per sample ("sample": i), in order:\n' +
      "the record's other fields unchanged, then messages, final, analysis, tool_calls, stop\n" +
      "(return|call|end|none), status (ok|recovered|error) and error. Unreadable records get an\n" +
      "error line too, so outputs align with inputs. A summary goes to stderr (and --stats FILE).\n" +
      "See docs/parse-dataset.md for the exact rules.",
    positionals: {
      name: "INPUT...",
      description: "Input files (.jsonl, .jsonl.gz, .parquet)",
      min: 1,
    },
    options: [
      {
        name: "out",
        type: "string",
        valueName: "FILE",
        description: "Output JSONL (required; gzip when it ends in .gz)",
      },
      {
        name: "role",
        type: "string",
        choices: ["assistant", "none"],
        default: "assistant",
        description: "Completions start after <|start|>assistant, or (none) with <|start|>",
      },
      {
        name: "field",
        type: "string",
        valueName: "PATH",
        description:
          "Field path of the completion(s): outputs[*].token_ids, resps[0][0] ([*] marks samples)",
      },
      {
        name: "recover",
        type: "string",
        choices: ["first", "all"],
        default: "first",
        description: "Salvage malformed messages as the reference (first) or every one (all)",
      },
      {
        name: "stripped",
        type: "string",
        choices: ["on", "off"],
        default: "on",
        description: "Recover text decoded without special tokens (analysis…assistantfinal…)",
      },
      {
        name: "emit",
        type: "string",
        valueName: "FORMAT",
        multiple: true,
        description:
          'Add "openai" (chat-completions message) and/or "responses" (output items): openai,responses',
      },
      BACKEND_OPTION,
      {
        name: "shard",
        type: "string",
        valueName: "I/N",
        description: "Parse shard I of N (0-based); output gets .shard-I-of-N",
      },
      {
        name: "shard-count",
        type: "string",
        valueName: "N",
        description: "Shard count with JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)",
      },
      {
        name: "stats",
        type: "string",
        valueName: "FILE",
        description: "Also write the summary statistics as JSON (a shard: FILE with its shard tag)",
      },
      ...jobOptions("parsing"),
    ],
    examples: [
      "harmony parse-dataset samples.jsonl.gz --out results.jsonl --stats stats.json",
      "harmony parse-dataset generations.parquet --field output_ids --out results.jsonl.gz",
      "harmony parse-dataset vllm_n4.jsonl --field 'outputs[*].token_ids' --recover all --out r.jsonl",
      "harmony parse-dataset vllm_n4.jsonl --emit openai,responses --out r.jsonl",
      "harmony parse-dataset raw.jsonl --role none --field response --out parsed.jsonl --shard 0/4",
    ],
  },
  async run(args, host) {
    const r = await runParseDataset(host, args.positionals, args.options);
    if (r.interrupted) {
      await host.stderr.write(
        `parse-dataset: interrupted after ${r.stats.read} records; ` +
          "run again with --resume to continue\n",
      );
      return r.exitSignal ?? 130;
    }
    const notes = r.resumedFrom > 0 ? [`resumed after record ${r.resumedFrom}`] : [];
    await host.stderr.write(formatStats(r.stats, r.out, 5, notes));
    // One rule with render-dataset: exit 1 when a record of the shard could not be read.
    return r.stats.unreadable > 0 ? 1 : 0;
  },
};
