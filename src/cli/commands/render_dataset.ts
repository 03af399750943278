/**
 * `harmony render-dataset`: conversations (JSONL, JSONL.gz, Parquet; harmony/OpenAI/ShareGPT
 * records) → token files a trainer reads (Megatron, JSONL, Parquet, flat bin) with loss masks.
 *
 * @module
 */

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Command } from "../commands.ts";
import type { Host } from "../host.ts";
import { asUsageError, checkInputFiles, UsageError } from "../args.ts";
import { conversationFromJson } from "../../chat/json.ts";
import { renderDataset, type RenderDatasetSummary } from "../../dataset/pipeline.ts";
import { INPUT_FORMATS, type InputFormat, type MappingDefaults } from "../../dataset/mapping.ts";
import { MAPPING_OPTIONS, mappingFlags, SYSTEM_OPTIONS } from "../mapping_flags.ts";
import {
  policyNotes,
  RECORD_POLICY_OPTIONS,
  recordPolicyFlags,
  reportPolicies,
} from "../record_policy_flags.ts";
import { OUTPUT_FORMATS, type OutputFormat } from "../../dataset/writers.ts";
import { resolveShard, type Shard, shardPrefix } from "../../dataset/shard.ts";
import { TRAIN_ON, type TrainOn } from "../../dataset/loss_mask.ts";
import { formatCount, formatDuration, Progress } from "../../dataset/progress.ts";
import { totalInputBytes } from "../../dataset/readers.ts";
import { loadTrainingRenderer } from "../../dataset/training_renderer.ts";
import { BACKEND_OPTION, openBackendOption } from "../backend.ts";

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/**
 * One summary line of a run.
 *
 * @example
 * ```ts ignore
 * import { summaryLine } from "./render_dataset.ts";
 * // summaryLine(summary, 2.5, { index: 0, count: 1 }, "cpu")
 * // → "render-dataset: 200 written, 0 failed, 200 read, 39.5k tokens (19.7k trained), …"
 * ```
 */
export function summaryLine(
  s: RenderDatasetSummary,
  seconds: number,
  shard: Shard,
  backend = "cpu",
): string {
  const inShard = s.written + s.failed;
  const parts = [
    `${s.written} written`,
    `${s.failed} failed`,
    `${s.read} read` +
    (shard.count > 1 ? ` (${inShard} in shard ${shard.index}/${shard.count})` : ""),
    `${formatCount(s.tokens)} tokens (${formatCount(s.trainedTokens)} trained)`,
    `${formatCount(s.tokens / Math.max(seconds, 1e-9))} tok/s`,
    formatDuration(seconds),
    backend,
  ];
  parts.push(...policyNotes(s));
  if (s.resumedFrom > 0) parts.push(`resumed after record ${s.resumedFrom}`);
  return `render-dataset: ${parts.join(", ")} → ${s.files[0]}${
    s.failed > 0 ? ` (errors: ${s.errorsFile})` : ""
  }`;
}

/**
 * Runs `render-dataset` with parsed options (shared with `demo`).
 *
 * @example
 * ```ts ignore
 * import { runRenderDataset } from "./render_dataset.ts";
 * import { memoryHost } from "../host.ts";
 * const { summary } = await runRenderDataset(memoryHost(), ["chats.jsonl"], { out: "out/train" });
 * ```
 */
export async function runRenderDataset(
  host: Host,
  inputs: string[],
  o: Record<string, string | boolean | string[] | undefined>,
): Promise<{ summary: RenderDatasetSummary; seconds: number; shard: Shard; backend: string }> {
  const out = str(o.out);
  if (!out) throw new UsageError("Cannot render dataset: --out PREFIX is required");
  checkInputFiles(inputs);
  const shard = asUsageError(() =>
    resolveShard({ shard: str(o.shard), shardCount: str(o["shard-count"]) }, (n) => host.env(n))
  );
  const prefix = shardPrefix(out, shard);
  mkdirSync(dirname(prefix), { recursive: true });
  const defaults: MappingDefaults = mappingFlags(o);
  const policy = recordPolicyFlags(o);
  const engine = await openBackendOption(host, o.backend, "render-dataset");
  let summary: RenderDatasetSummary;
  const progress = new Progress(host.stderr, { totalBytes: await totalInputBytes(inputs) });
  try {
    const renderBatch = await loadTrainingRenderer({ analysis: policy.analysis, encoder: engine });
    const every = str(o["checkpoint-every"]);
    summary = await renderDataset({
      inputs,
      prefix,
      outputFormat: (str(o["output-format"]) ?? "megatron") as OutputFormat,
      inputFormat: (str(o["input-format"]) ?? "auto") as InputFormat,
      trainOn: (str(o["train-on"]) ?? "assistant") as TrainOn,
      defaults,
      shard,
      resume: o.resume === true,
      settings: policy.settings,
      recordPolicy: policy.record,
      keepNullFields: policy.keepNullFields,
      maskColumn: policy.maskColumn,
      // GPU batches must be large to pay for the upload (and for `auto` to open the GPU at
      // all); CPU batches only amortize calls.
      batchSize: engine.kind === "cpu" ? 64 : 1024,
      checkpointEvery: every !== undefined ? positiveInt(every, "--checkpoint-every") : undefined,
      toConversation: conversationFromJson,
      renderBatch,
      onProgress: (p) => progress.update({ ...p, records: p.read }),
    });
  } finally {
    engine.destroy();
  }
  progress.end();
  return { summary, seconds: progress.elapsed, shard, backend: engine.describe() };
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`Cannot parse arguments: ${flag} takes a positive integer`);
  }
  return n;
}

/** The `render-dataset` command. */
export const command: Command = {
  spec: {
    name: "render-dataset",
    summary: "Render conversations into training token files (Megatron, JSONL, Parquet, bin)",
    description:
      "Reads JSONL (plain or gzip) and Parquet files of conversations — harmony JSON, OpenAI chat\n" +
      "or ShareGPT records (docs/input-formats.md) — renders each for training (gpt-oss harmony,\n" +
      "o200k_harmony) and writes tokens plus a loss mask. Records that fail are listed in\n" +
      "PREFIX.errors.jsonl; outputs appear under their final names only when the run completes.\n" +
      "With --shard i/n (or Slurm/Kubernetes array variables) the prefix gets .shard-I-of-N.",
    positionals: {
      name: "INPUT...",
      description: "Input files (.jsonl, .jsonl.gz, .parquet)",
      min: 1,
    },
    options: [
      { name: "out", type: "string", valueName: "PREFIX", description: "Output prefix (required)" },
      {
        name: "output-format",
        type: "string",
        choices: OUTPUT_FORMATS,
        default: "megatron",
        description: "Output files",
      },
      {
        name: "input-format",
        type: "string",
        choices: INPUT_FORMATS,
        default: "auto",
        description: "Record format (auto: detected per record)",
      },
      BACKEND_OPTION,
      {
        name: "train-on",
        type: "string",
        choices: TRAIN_ON,
        default: "assistant",
        description: "Loss mask on all assistant messages, or only final-channel ones",
      },
      ...RECORD_POLICY_OPTIONS,
      ...SYSTEM_OPTIONS,
      {
        name: "system",
        type: "boolean",
        default: true,
        description: "Add a default system message to records without one (--no-system: don't)",
      },
      ...MAPPING_OPTIONS,
      {
        name: "shard",
        type: "string",
        valueName: "I/N",
        description: "Render shard I of N (0-based)",
      },
      {
        name: "shard-count",
        type: "string",
        valueName: "N",
        description: "Shard count with JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)",
      },
      {
        name: "resume",
        type: "boolean",
        description: "Continue an interrupted run from its checkpoint",
      },
      {
        name: "checkpoint-every",
        type: "string",
        valueName: "N",
        description: "Records between checkpoints (default 8192)",
      },
    ],
    examples: [
      "harmony render-dataset chats.jsonl.gz --out data/train",
      "harmony render-dataset a.parquet b.jsonl --out data/train --output-format parquet",
      "harmony render-dataset chats.jsonl --out data/train --shard 3/8 && harmony merge data/train.shard-* --out data/train",
    ],
  },
  async run(args, host) {
    const r = await runRenderDataset(host, args.positionals, args.options);
    await host.stderr.write(summaryLine(r.summary, r.seconds, r.shard, r.backend) + "\n");
    await reportPolicies(host, r.summary, args.options);
    return r.summary.failed > 0 ? 1 : 0;
  },
};
