// Shared helpers of the dataset tests: temporary directories, corpus location, readers of every
// output format, and an independent reference (the encoding + a mask computed here).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parquetReadObjects } from "hyparquet";
import { conversationFromJson } from "../../src/chat/json.ts";
import { loadHarmonyEncoding } from "../../src/encoding/mod.ts";
import { recordToHarmonyJson } from "../../src/dataset/mapping.ts";
import { openMegatronDataset } from "../../src/dataset/megatron.ts";
import { openBinDataset } from "../../src/dataset/bin_format.ts";
import { fileAsyncBuffer } from "../../src/dataset/readers.ts";
import type { OutputFormat } from "../../src/dataset/writers.ts";
import { SHARED } from "../_support/shared_data.ts";

export const FIXTURES = fileURLToPath(new URL("../fixtures/dataset/", import.meta.url));
/**
 * The corpus's conversation files: the shared corpus's, or without ../shared the excerpts of the
 * same files in test/fixtures/render-corpus/conversations (licenses in its README.md).
 */
export const CORPUS_CONVERSATIONS: string = SHARED
  ? join(SHARED, "corpus/conversations")
  : fileURLToPath(new URL("../fixtures/render-corpus/conversations", import.meta.url));
/** Fewer records than CORPUS_CONVERSATIONS holds (16.7k shared, 125 in the excerpts). */
export const CORPUS_CONVERSATION_RECORDS: number = SHARED ? 16000 : 120;

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTmp<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "harmony-dataset-test-"));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One record read back: tokens and mask as plain arrays. */
export interface Row {
  tokens: number[];
  mask: number[];
}

/** Reads back every record of a dataset written in `format` at `prefix`. */
export async function readBack(format: OutputFormat, prefix: string): Promise<Row[]> {
  switch (format) {
    case "megatron": {
      const ds = openMegatronDataset(prefix);
      const ms = openMegatronDataset(`${prefix}.loss_mask`);
      const rows: Row[] = [];
      for (let i = 0; i < ds.length; i++) {
        rows.push({ tokens: [...ds.get(i)], mask: [...ms.get(i)] });
      }
      ds.close();
      ms.close();
      return rows;
    }
    case "bin": {
      const ds = openBinDataset(prefix);
      const rows: Row[] = [];
      for (let i = 0; i < ds.length; i++) {
        const r = ds.get(i);
        rows.push({ tokens: [...r.tokens], mask: [...r.mask] });
      }
      ds.close();
      return rows;
    }
    case "jsonl":
      return readFileSync(`${prefix}.jsonl`, "utf8").split("\n").filter((l) => l !== "").map(
        (l) => {
          const r = JSON.parse(l) as { input_ids: number[]; loss_mask: number[] };
          return { tokens: r.input_ids, mask: r.loss_mask };
        },
      );
    case "parquet": {
      const file = await fileAsyncBuffer(`${prefix}.parquet`);
      try {
        const rows = await parquetReadObjects({ file });
        return rows.map((r) => ({
          tokens: [...(r.input_ids as number[])],
          mask: [...(r.loss_mask as number[])],
        }));
      } finally {
        await file.close();
      }
    }
  }
}

/**
 * The expected output of a JSONL record, computed independently of the pipeline: tokens from
 * `renderConversationForTraining`, the mask from the spans (assistant messages, from the sampled
 * start through the stop token).
 */
export async function expectedRow(
  text: string,
  trainOn: "assistant" | "final" = "assistant",
): Promise<Row> {
  const enc = await loadHarmonyEncoding("HarmonyGptOss");
  const convo = conversationFromJson(recordToHarmonyJson(JSON.parse(text)));
  const tokens = enc.renderConversationForTraining(convo);
  const { tokens: t2, spans } = enc.renderConversationWithSpans(convo, { mode: "training" });
  if (t2.length !== tokens.length) {
    throw new Error("span rendering differs from training rendering");
  }
  const mask = new Array<number>(tokens.length).fill(0);
  for (const s of spans) {
    if (s.role !== "assistant" || (trainOn === "final" && s.channel !== "final")) continue;
    for (let i = s.sampledStart; i < s.end; i++) mask[i] = 1;
  }
  return { tokens: [...tokens], mask };
}

/** Non-blank lines of a file. */
export function nonBlankLines(path: string): string[] {
  return readFileSync(path, "utf8").split("\n").filter((l) => l.trim() !== "");
}
