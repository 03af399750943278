/**
 * What `harmony bench` measures on: the records of the user's files (any input `render-dataset`
 * and `parse-dataset` read: JSONL, gzip, Parquet), or the bundled sample. Conversation records
 * (harmony JSON, OpenAI chat, ShareGPT) give every task; eval records (completions) only
 * `parse-dataset`.
 *
 * @module
 */

import { existsSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { conversationFromJson } from "../chat/json.ts";
import type { Conversation } from "../chat/message.ts";
import { recordToHarmonyJson } from "../dataset/mapping.ts";
import { readRecords, totalInputBytes } from "../dataset/readers.ts";
import { tempName } from "../io/durable_file.ts";
import { hashBytes } from "../tokenizer/vocabulary.ts";

const SAMPLE_URL = new URL("../../examples/sample.jsonl", import.meta.url);

/**
 * A local path of the bundled sample (300 conversations with tools, math, multilingual text and
 * chat): the file itself in a checkout or an npm install; when the module runs from a URL (JSR:
 * `https://jsr.io/...`), the sample is downloaded once into the temporary directory, under a name
 * holding its content's hash, written under a temporary name and renamed. `url` is for tests.
 *
 * @throws when the sample cannot be fetched.
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { readFileSync } from "node:fs";
 * import { bundledSamplePath } from "./inputs.ts";
 * ok(readFileSync(await bundledSamplePath(), "utf8").startsWith("{"));
 * ```
 */
export async function bundledSamplePath(url: URL = SAMPLE_URL): Promise<string> {
  if (url.protocol === "file:") return fileURLToPath(url);
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`Cannot fetch the bundled sample ${url.href}: HTTP ${response.status}`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  const path = join(
    tmpdir(),
    `harmony-engine-sample-${hashBytes(bytes, 0, bytes.length).toString(16)}.jsonl`,
  );
  if (!existsSync(path)) {
    const temp = tempName(path);
    writeFileSync(temp, bytes);
    renameSync(temp, path);
  }
  return path;
}

/** The records a bench run uses. */
export interface BenchInput {
  /** The files read, as given (the bundled sample by its name in the package). */
  files: string[];
  /** Bytes of the files read (whole files, even when `limit` cut the records). */
  fileBytes: number;
  /** Each record as one JSON line, in input order (what the dataset tasks are given). */
  lines: string[];
  /** UTF-8 bytes of `lines` (newlines included). */
  linesBytes: number;
  /** The records that are conversations, mapped to harmony conversations. */
  conversations: Conversation[];
  /** Records that are not conversations (eval records and unreadable ones). */
  otherRecords: number;
}

/**
 * Reads up to `limit` records from `files` (the bundled sample when empty).
 *
 * @throws when a file cannot be read.
 */
export async function loadBenchInput(files: readonly string[], limit: number): Promise<BenchInput> {
  const paths = files.length ? [...files] : [await bundledSamplePath()];
  const lines: string[] = [];
  const conversations: Conversation[] = [];
  let otherRecords = 0, linesBytes = 0;
  const enc = new TextEncoder();
  for await (const rec of readRecords(paths)) {
    if (lines.length >= limit) break;
    const text = rec.text ?? JSON.stringify(rec.value);
    if (text.trim() === "") continue;
    lines.push(text);
    linesBytes += enc.encode(text).length + 1;
    try {
      const value = rec.text !== undefined ? JSON.parse(rec.text) : rec.value;
      conversations.push(conversationFromJson(recordToHarmonyJson(value)));
    } catch {
      otherRecords++;
    }
  }
  return {
    files: files.length ? [...files] : ["examples/sample.jsonl (bundled)"],
    fileBytes: await totalInputBytes(paths),
    lines,
    linesBytes,
    conversations,
    otherRecords,
  };
}

/** The text parts of every message of the conversations, in order (the encode task's texts). */
export function messageTexts(conversations: readonly Conversation[]): string[] {
  const texts: string[] = [];
  for (const c of conversations) {
    for (const m of c.messages) {
      for (const part of m.content) if (part.type === "text") texts.push(part.text);
    }
  }
  return texts;
}

/** Splits `items` into batches of `size` (one batch of everything when `size` is null). */
export function batchesOf<T>(items: readonly T[], size: number | null): T[][] {
  if (size === null || size >= items.length) return [items.slice()];
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
