/**
 * Sample texts for the backend conformance suite: a slice of every text kind of the shared corpus
 * (`../shared/corpus`, in CI) or, without it, of the excerpts in `test/fixtures/text` (origins and
 * licenses in its README.md), plus an adversarial list. Kept small: GPU tests run on software
 * adapters.
 *
 * @module
 */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SHARED } from "../_support/shared_data.ts";

const CORPUS = `${SHARED}corpus/`;
const FIXTURES = fileURLToPath(new URL("../fixtures/text/", import.meta.url));

/** Whether the shared corpus is present. */
export const hasSharedCorpus: boolean = SHARED !== undefined;

/** Texts built to break tokenizers. */
export const ADVERSARIAL: readonly string[] = [
  "",
  " ",
  "a",
  "hello world",
  "👨‍👩‍👧‍👦 family 🏳️‍🌈 flag 🇯🇵🇺🇸 flags 👍🏽 skin",
  "e\u0301 combining a\u0308\u0304 marks ก\u0e49\u0e33 ",
  "line one\r\nline two\r\n\r\n\ttab\r",
  "   leading and trailing spaces   \n\n\n    indented\n\t\t\tx",
  " ".repeat(150) + "x" + "\n".repeat(80),
  "1234567890 0000000000000 3.14159265358979 1,000,000",
  "I'm you're he'll we've they'd don't CAN'T Won'T it's",
  "<|start|>user<|message|>Hi<|end|><|start|>assistant",
  "<|reserved_200123|> <|endoftext|> <|startoftext|> <|return|> <|call|> <|constrain|>",
  "<|not_special|> <| start |> <|start| |start|> <<|end|>> <|<|end|>|>",
  "a".repeat(300),
  "日本語のテキストはスペースなしで長く続くことがあるので長い断片になります。中文也是一样的，没有空格。",
  "Ελληνικά Русский текст עִברִית العربية हिन्दी বাংলা తెలుగు ไทย ქართული",
  "\u0000\u0001\u001f\u007f\u0080\u00ff\ufeff\ufffd\u{10ffff}",
  "x".repeat(64) + " " + "y".repeat(65) + " " + "z".repeat(63),
  "```ts\nconst x = { a: [1, 2, 3] }; // comment\n```\n",
];

function slices(text: string, count: number, size: number): string[] {
  const out: string[] = [];
  if (text.length <= size) return [text];
  for (let k = 0; k < count; k++) {
    const at = Math.floor((text.length - size) * k / Math.max(1, count - 1));
    out.push(text.slice(at, at + size));
  }
  return out;
}

/** A few slices of every plain-text file (each text kind and language). */
export function textSamples(perFile = 2, size = 400): string[] {
  const dir = hasSharedCorpus ? CORPUS + "text/" : FIXTURES;
  const out: string[] = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()) {
    out.push(...slices(readFileSync(dir + f, "utf8"), perFile, size));
  }
  return out;
}

function jsonl(path: string, limit: number): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, "utf8").split("\n").filter((l) => l.trim() !== "");
  return lines.slice(0, limit).map((l) => JSON.parse(l));
}

/** Message contents of a few conversations of every conversation file. */
export function conversationSamples(perFile = 3): string[] {
  const files = hasSharedCorpus
    ? readdirSync(CORPUS + "conversations/").sort().map((f) => CORPUS + "conversations/" + f)
    : [FIXTURES + "conversations_excerpt.jsonl"];
  const out: string[] = [];
  for (const f of files) {
    for (const rec of jsonl(f, perFile)) {
      for (const m of (rec.messages as Array<{ content?: unknown }>) ?? []) {
        if (typeof m.content === "string") out.push(m.content);
      }
      if (rec.tools !== undefined) out.push(JSON.stringify(rec.tools));
    }
  }
  return out;
}

/** Harmony-formatted strings (with special tokens) from the corpus. */
export function harmonySamples(limit = 60): string[] {
  const f = hasSharedCorpus
    ? CORPUS + "harmony_outputs.jsonl"
    : FIXTURES + "harmony_outputs_excerpt.jsonl";
  return jsonl(f, limit).map((r) => String(r.text));
}

/** Tool-schema JSON strings. */
export function toolSamples(limit = 5): string[] {
  const f = hasSharedCorpus ? CORPUS + "tools.jsonl" : FIXTURES + "tools_excerpt.jsonl";
  return jsonl(f, limit).map((r) => JSON.stringify(r.tools));
}
