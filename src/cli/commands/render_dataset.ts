/**
 * `harmony render-dataset`: conversations (JSONL, JSONL.gz, Parquet; harmony/OpenAI/ShareGPT
 * records) → token files a trainer reads (Megatron, JSONL, Parquet, flat bin) with loss masks.
 *
 * @module
 */

import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { Command } from "../commands.ts";
import { type Host, interruptExitCode } from "../host.ts";
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
import { InputShard, totalInputBytes } from "../../dataset/readers.ts";
import { loadTrainingRenderer } from "../../dataset/training_renderer.ts";
import { BACKEND_OPTION, openBackendOption } from "../backend.ts";
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
    // Rates count this run's tokens only (not those written before a resume).
    `${formatCount((s.tokens - s.resumedTokens) / Math.max(seconds, 1e-9))} tok/s`,
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
): Promise<{
  summary: RenderDatasetSummary;
  seconds: number;
  shard: Shard;
  backend: string;
  /** The exit code when a signal interrupted the run. */
  exitSignal?: number;
}> {
  const out = str(o.out);
  if (!out) throw new UsageError("Cannot render dataset: --out PREFIX is required");
  checkInputFiles(inputs);
  refusePipesOnResume(inputs, o.resume === true);
  const shard = asUsageError(() =>
    resolveShard({ shard: str(o.shard), shardCount: str(o["shard-count"]) }, (n) => host.env(n))
  );
  if (shard.count > 1) {
    const pipe = inputs.find((p) => !statSync(p).isFile());
    if (pipe !== undefined) {
      throw new UsageError(
        `Cannot shard "${
          pipe.slice(0, 32)
        }": it is a pipe, whose size is unknown (shard regular files, or run without --shard)`,
      );
    }
  }
  const prefix = shardPrefix(out, shard);
  mkdirSync(dirname(prefix), { recursive: true });
  const defaults: MappingDefaults = mappingFlags(o);
  const policy = recordPolicyFlags(o);
  const engine = await openBackendOption(host, o.backend, "render-dataset");
  let summary: RenderDatasetSummary;
  // Worker threads encode on the CPU: `--backend gpu` stays on the main thread; under `auto`
  // more than one worker means CPU workers (the GPU is for single-process runs).
  // A shard reads its byte range of the inputs (`shard.ts`): that is its progress total.
  const range = shard.count > 1 ? (await InputShard.open(inputs, shard)).range : undefined;
  const totalBytes = range ? range.end - range.start : await totalInputBytes(inputs);
  const workers = engine.kind === "gpu" ? 1 : resolveWorkers(str(o.workers), totalBytes);
  const progress = new Progress(host.stderr, {
    totalBytes,
    logEveryMs: progressEveryMs(str(o["progress-every"])),
  });
  const trapped = host.trapSignals?.();
  try {
    const renderBatch = workers > 1
      ? unusedRenderBatch
      : await loadTrainingRenderer({ analysis: policy.analysis, encoder: engine });
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
      analysis: policy.analysis,
      recordPolicy: policy.record,
      keepNullFields: policy.keepNullFields,
      maskColumn: policy.maskColumn,
      // GPU batches must be large to pay for the upload (and for `auto` to open the GPU at
      // all); CPU batches only amortize calls.
      batchSize: engine.kind === "cpu" ? 64 : 1024,
      checkpointEvery: checkpointEvery(str(o["checkpoint-every"])),
      toConversation: conversationFromJson,
      renderBatch,
      workers,
      signal: trapped?.signal,
      onProgress: (p) => progress.update({ ...p, records: p.read, resumedRecords: p.resumedFrom }),
    });
  } finally {
    trapped?.release();
    engine.destroy();
  }
  progress.end();
  const description = workers > 1 ? `${workers} workers, cpu` : engine.describe();
  return {
    summary,
    seconds: progress.elapsed,
    shard,
    backend: description,
    exitSignal: summary.interrupted && trapped ? interruptExitCode(trapped.signal) : undefined,
  };
}

const unusedRenderBatch = (): never => {
  throw new TypeError("Cannot render on the main thread: worker threads render");
};

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
      ...jobOptions("rendering"),
    ],
    examples: [
      "harmony render-dataset chats.jsonl.gz --out data/train",
      "harmony render-dataset a.parquet b.jsonl --out data/train --output-format parquet",
      "harmony render-dataset chats.jsonl --out data/train --shard 3/8 && harmony merge data/train.shard-* --out data/train",
    ],
  },
  async run(args, host) {
    const r = await runRenderDataset(host, args.positionals, args.options);
    if (r.summary.interrupted) {
      await host.stderr.write(
        `render-dataset: interrupted after ${r.summary.read} records; ` +
          "run again with --resume to continue\n",
      );
      return r.exitSignal ?? 130;
    }
    await host.stderr.write(summaryLine(r.summary, r.seconds, r.shard, r.backend) + "\n");
    await reportPolicies(host, r.summary, args.options, r.shard);
    return r.summary.failed > 0 ? 1 : 0;
  },
};
