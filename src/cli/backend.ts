/**
 * The `--backend` option of every command that tokenizes or parses (one declaration, one
 * default), and how a command opens it: through the engine's one resolver, `openBackend`
 * (`src/engine/mod.ts`), which decides what runs each batch. Commands report
 * `engine.describe()`, read from the batches' stats, never their own guess.
 *
 * @module
 */

import { BACKEND_KINDS, type BackendKind } from "../engine/backend.ts";
import type { Engine } from "../engine/mod.ts";
import { UsageError } from "./args.ts";
import type { Host } from "./host.ts";

/** The `--backend` option (default `auto`, which never picks a software adapter). */
export const BACKEND_OPTION = {
  name: "backend",
  type: "string",
  choices: BACKEND_KINDS,
  default: "auto",
  description:
    "cpu: the CPU path; gpu: every batch on a WebGPU device; auto: a hardware GPU for large batches, else the CPU (same output on each)",
} as const;

/**
 * Opens the engine for a parsed `--backend` value; GPU warnings go to stderr (after `label: `
 * when a label is given).
 *
 * @throws {UsageError} on a value that is not a backend kind.
 * @throws {GpuUnavailableError} for `gpu` when no WebGPU adapter or device exists.
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { openBackendOption } from "./backend.ts";
 * import { memoryHost } from "./host.ts";
 * const engine = await openBackendOption(memoryHost(), "cpu");
 * strictEqual(engine.describe(), "cpu");
 * engine.destroy();
 * ```
 */
export async function openBackendOption(
  host: Host,
  value: unknown,
  label?: string,
): Promise<Engine> {
  const kind = value === undefined ? BACKEND_OPTION.default : String(value);
  if (!(BACKEND_KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(`Cannot open backend: unknown backend "${kind.slice(0, 32)}"`);
  }
  const { openBackend } = await import("../engine/mod.ts");
  return await openBackend(kind as BackendKind, {
    onWarning: (m) => void host.stderr.write(label ? `${label}: ${m}\n` : `${m}\n`),
  });
}
