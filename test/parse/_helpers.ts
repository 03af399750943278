// Shared set-up of the parser tests (private to test/parse).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import type { Tokenizer } from "../../src/tokenizer/mod.ts";
import { type MessageJson, messageToJson } from "../../src/chat/json.ts";
import type { Message } from "../../src/chat/message.ts";
import { SHARED } from "../_support/shared_data.ts";

export const tokenizer: Tokenizer = await loadTokenizer();
export const encoding = { tokenizer };

/** Encodes text with every special token allowed (the reference's `encode_with_special_tokens`). */
export function enc(text: string): number[] {
  return [...tokenizer.encode(text, { allowedSpecial: "all" })];
}

/** Encodes text with no special tokens. */
export function ord(text: string): number[] {
  return [...tokenizer.encodeOrdinary(text)];
}

export function json(messages: readonly Message[]): MessageJson[] {
  return messages.map(messageToJson);
}

const FIXTURES = fileURLToPath(new URL("../fixtures/golden-parse/", import.meta.url));

/** Whether the shared folder (CI, the lead's machine) is present. */
export const hasShared: boolean = SHARED !== undefined;

/** A reference test-data file, read as the reference does (CRLF → LF, end trimmed). */
export function golden(name: string): string {
  const path = SHARED ? SHARED + "harmony-golden/" + name : FIXTURES + name;
  return readFileSync(path, "utf8").replaceAll("\r\n", "\n").trimEnd();
}

/** Token ids written as whitespace-separated numbers. */
export function goldenTokens(name: string): number[] {
  return golden(name).split(/\s+/).map(Number);
}

/** Rows of harmony_outputs.jsonl (the shared corpus, or the bundled excerpt). */
export function corpusRows(): { text: string; tags?: string[]; source: string }[] {
  const path = hasShared
    ? SHARED + "corpus/harmony_outputs.jsonl"
    : FIXTURES + "corpus_excerpt.jsonl";
  return readFileSync(path, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) =>
    JSON.parse(l)
  );
}
