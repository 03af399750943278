/**
 * The settings a shard was made with, in a small sidecar `PREFIX.shard.json` next to its
 * outputs, so that `merge` can refuse shards that do not belong together: another command or
 * output format, other settings (mapping, flags), another vocabulary, another shard count, or
 * other inputs. Written durably by the run that produced the shard (only when sharded), before
 * its outputs are published.
 *
 * Inputs are compared by content, not by path or modification time (shards of one job may run on
 * machines that mount the inputs at other paths or copied them): each input's size and the hashes
 * of its first and last blocks (`checkpoint.ts`'s fingerprint).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { writeFileDurably } from "../io/durable_file.ts";
import type { InputFingerprint } from "./checkpoint.ts";
import { VOCAB_SIZE } from "../tokenizer/special_tokens.ts";
import type { Shard } from "./shard.ts";

/** The vocabulary every shard is tokenized with. */
export const VOCABULARY = `o200k_harmony/${VOCAB_SIZE}`;

/** What a shard records about itself. */
export interface ShardManifest {
  /** Manifest format version (1). */
  version: 1;
  /** The command that made it (`render-dataset`, `parse-dataset`). */
  command: string;
  /** Output format (`megatron`, `bin`, `jsonl`, `parquet`). */
  format: string;
  /** The vocabulary (see {@link VOCABULARY}). */
  vocabulary: string;
  /** This shard. */
  shard: Shard;
  /** SHA-256 of the settings (without the shard), as {@link settingsHash} gives it. */
  settings: string;
  /** SHA-256 of the inputs' content fingerprints, as {@link inputsHash} gives it. */
  inputs: string;
  /**
   * The output file's size (`parse-dataset`), which `merge` checks: a JSONL or gzip shard cut at
   * a line or member boundary is otherwise whole.
   */
  bytes?: number;
  /**
   * Parquet outputs: rows per row group, which `merge` cuts its row groups by (absent: the
   * writer's default).
   */
  rowGroupRows?: number;
  /**
   * gzip JSONL outputs (`parse-dataset`): records between checkpoints, each of which ends a gzip
   * member, and whether a record may make several lines (`--field` with `[*]`), so that `merge`
   * can end its members where the unsharded run ends them.
   */
  gzipMembers?: { checkpointEvery: number; samples: boolean };
}

/**
 * The sidecar path of a shard's output prefix.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { manifestPath } from "./shard_manifest.ts";
 * strictEqual(manifestPath("out/t.shard-00000-of-00002"), "out/t.shard-00000-of-00002.shard.json");
 * ```
 */
export function manifestPath(prefix: string): string {
  return `${prefix}.shard.json`;
}

/**
 * The hash of a settings object (keys sorted, recursively).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { settingsHash } from "./shard_manifest.ts";
 * strictEqual(settingsHash({ a: 1, b: [2] }), settingsHash({ b: [2], a: 1 }));
 * ```
 */
export function settingsHash(settings: unknown): string {
  return createHash("sha256").update(canonical(settings)).digest("hex");
}

/**
 * The hash of the inputs by content: size and first/last block hashes of each, in order.
 *
 * @example
 * ```ts
 * import { notStrictEqual } from "node:assert/strict";
 * import { inputsHash } from "./shard_manifest.ts";
 * const f = { path: "a", size: 1, mtimeMs: 0, head: "h", tail: "t" };
 * notStrictEqual(inputsHash([f]), inputsHash([{ ...f, size: 2 }]));
 * ```
 */
export function inputsHash(inputs: readonly InputFingerprint[]): string {
  return settingsHash(inputs.map((f) => [f.size, f.head, f.tail]));
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/**
 * Writes a shard's manifest durably (temporary name, fsync, rename).
 *
 * @example
 * ```ts ignore
 * import { writeShardManifest } from "./shard_manifest.ts";
 * writeShardManifest("out/t.shard-00000-of-00002", manifest);
 * ```
 */
export function writeShardManifest(prefix: string, manifest: ShardManifest): void {
  writeFileDurably(manifestPath(prefix), JSON.stringify(manifest) + "\n");
}

/**
 * Reads a shard's manifest, or undefined when it has none.
 *
 * @throws {SyntaxError} when it is not a version 1 manifest.
 * @example
 * ```ts ignore
 * import { readShardManifest } from "./shard_manifest.ts";
 * readShardManifest("out/t.shard-00000-of-00002")?.settings;
 * ```
 */
export function readShardManifest(prefix: string): ShardManifest | undefined {
  const path = manifestPath(prefix);
  if (!existsSync(path)) return undefined;
  let m: ShardManifest;
  try {
    m = JSON.parse(readFileSync(path, "utf8")) as ShardManifest;
  } catch (e) {
    throw new SyntaxError(`Cannot read ${path}: ${e instanceof Error ? e.message : e}`, {
      cause: e,
    });
  }
  if (m?.version !== 1) throw new SyntaxError(`Cannot read ${path}: not a version 1 manifest`);
  return m;
}

/**
 * Why the shards at `prefixes` (in the order given) do not belong to one run, or undefined when
 * they do: every one must have a manifest if any has, all must agree on command, format,
 * vocabulary, settings, inputs and shard count, and shard `i` must be the `i`-th given (the
 * merged records are then in input order).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { manifestsDisagree } from "./shard_manifest.ts";
 * const m = { version: 1, command: "render-dataset", format: "bin", vocabulary: "v", settings: "s", inputs: "i" } as const;
 * const a = { ...m, shard: { index: 0, count: 2 } };
 * const b = { ...m, shard: { index: 1, count: 2 }, settings: "t" };
 * strictEqual(manifestsDisagree([["p0", a], ["p1", b]]), "p1 was made with other settings than p0 (mapping or flags differ)");
 * ```
 */
export function manifestsDisagree(
  shards: ReadonlyArray<readonly [string, ShardManifest | undefined]>,
): string | undefined {
  const withOne = shards.find(([, m]) => m !== undefined);
  if (withOne === undefined) return undefined;
  const [refName, ref] = withOne as readonly [string, ShardManifest];
  const fields: Array<[keyof ShardManifest, string]> = [
    ["command", "another command"],
    ["format", "another output format"],
    ["vocabulary", "another vocabulary"],
    ["settings", "other settings"],
    ["inputs", "other inputs"],
    ["rowGroupRows", "another Parquet row-group size"],
  ];
  for (let i = 0; i < shards.length; i++) {
    const [name, m] = shards[i];
    if (m === undefined) return `${name} has no ${manifestPath(name)} (${refName} has one)`;
    for (const [k, what] of fields) {
      if (m[k] !== ref[k]) {
        const detail = k === "settings"
          ? " (mapping or flags differ)"
          : k === "inputs"
          ? " (their sizes or contents differ)"
          : ` (${String(m[k])}, ${refName}: ${String(ref[k])})`;
        return `${name} was made with ${what} than ${refName}${detail}`;
      }
    }
    if (m.shard.count !== ref.shard.count) {
      return `${name} is shard ${m.shard.index}/${m.shard.count}, ${refName} of ${ref.shard.count} shards`;
    }
    if (m.shard.index !== i) {
      return `${name} is shard ${m.shard.index}/${m.shard.count} but given as input ${
        i + 1
      } (give the shards in order)`;
    }
  }
  return undefined;
}
