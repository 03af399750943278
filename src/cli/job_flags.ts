/**
 * The flags of long dataset jobs, shared by `render-dataset` and `parse-dataset` so both follow
 * one rule: `--resume` (refused for inputs that cannot be re-read), `--workers N` (the default
 * worker count), `--progress-every SECONDS` and `--checkpoint-every N`.
 *
 * @module
 */

import { statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { type OptionSpec, UsageError } from "./args.ts";

/** Inputs smaller than this (8 MiB) default to one thread; `--workers N` still starts N. */
export const MIN_WORKER_INPUT_BYTES = 8 << 20;

/**
 * The flags' specs; `what` names the work the workers do ("rendering", "parsing").
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { jobOptions } from "./job_flags.ts";
 * strictEqual(jobOptions("parsing").some((o) => o.name === "resume"), true);
 * ```
 */
export function jobOptions(what: string): OptionSpec[] {
  return [
    {
      name: "resume",
      type: "boolean",
      description: "Continue an interrupted run from its checkpoint",
    },
    {
      name: "workers",
      type: "string",
      valueName: "N",
      description:
        `Worker threads ${what} batches (default: available cores, at most 16; one thread for inputs under 8 MiB)`,
    },
    {
      name: "progress-every",
      type: "string",
      valueName: "SECONDS",
      description: "Progress line interval when stderr is not a terminal (default 10; 0: off)",
    },
    {
      name: "checkpoint-every",
      type: "string",
      valueName: "N",
      description: "Records between checkpoints (default 8192)",
    },
  ];
}

/**
 * The worker count of `--workers` (default: the available cores, at most 16, for inputs of at
 * least {@link MIN_WORKER_INPUT_BYTES}; one thread for smaller ones).
 *
 * @throws {UsageError} unless a positive integer.
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { resolveWorkers } from "./job_flags.ts";
 * strictEqual(resolveWorkers(undefined, 1000), 1);
 * strictEqual(resolveWorkers("3", 1000), 3);
 * ```
 */
export function resolveWorkers(text: string | undefined, inputBytes = Infinity): number {
  if (text !== undefined) return positiveInt(text, "--workers");
  // Each worker loads the vocabulary (about a second) before it works: below a few MB of input
  // one thread finishes first, so the default only starts workers for inputs worth it.
  if (inputBytes < MIN_WORKER_INPUT_BYTES) return 1;
  return Math.max(1, Math.min(availableParallelism(), 16));
}

/**
 * `--progress-every SECONDS` in milliseconds (default 10 s; 0 turns the log lines off).
 *
 * @throws {UsageError} unless a number ≥ 0.
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { progressEveryMs } from "./job_flags.ts";
 * strictEqual(progressEveryMs(undefined), 10_000);
 * ```
 */
export function progressEveryMs(text: string | undefined): number {
  if (text === undefined) return 10_000;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || text.trim() === "") {
    throw new UsageError("Cannot parse arguments: --progress-every takes seconds (0: off)");
  }
  return n * 1000;
}

/**
 * `--checkpoint-every N`, or undefined (the job's default) when absent.
 *
 * @throws {UsageError} unless a positive integer.
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { checkpointEvery } from "./job_flags.ts";
 * strictEqual(checkpointEvery("64"), 64);
 * ```
 */
export function checkpointEvery(text: string | undefined): number | undefined {
  return text === undefined ? undefined : positiveInt(text, "--checkpoint-every");
}

/**
 * Refuses `--resume` over an input that is not a regular file (a pipe cannot be re-read).
 *
 * @throws {UsageError} naming the input.
 * @example
 * ```ts ignore
 * import { refusePipesOnResume } from "./job_flags.ts";
 * refusePipesOnResume(["/dev/stdin"], true); // throws UsageError
 * ```
 */
export function refusePipesOnResume(inputs: readonly string[], resume: boolean): void {
  if (!resume) return;
  const pipe = inputs.find((p) => !statSync(p).isFile());
  if (pipe !== undefined) {
    throw new UsageError(
      `Cannot resume from "${
        pipe.slice(0, 32)
      }": it is a pipe, which cannot be re-read (run without --resume)`,
    );
  }
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`Cannot parse arguments: ${flag} takes a positive integer`);
  }
  return n;
}
