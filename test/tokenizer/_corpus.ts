/**
 * The texts tokenizer tests and benchmarks run over: the shared corpus (`../shared/corpus`, in CI)
 * or, when it is missing, the excerpts bundled in `test/fixtures/text` (see its README.md for
 * origins and licenses).
 *
 * @module
 */

import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SHARED } from "../_support/shared_data.ts";

const CORPUS = `${SHARED}corpus/`;
const FIXTURES = fileURLToPath(new URL("../fixtures/text/", import.meta.url));

/** Whether the full shared corpus is there. */
export const hasSharedCorpus: boolean = SHARED !== undefined;

/** One source file and the texts it yields, in file order. */
export interface CorpusFile {
  /** Path relative to the corpus (or fixture) folder. */
  name: string;
  texts: string[];
}

const read = (path: string) => readFileSync(path, "utf8");
const jsonLines = (path: string): Record<string, unknown>[] =>
  read(path).split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));

/** Strings of a conversation record: every message content, tool calls and tool schemas (JSON). */
function conversationTexts(rec: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const m of (rec.messages as Record<string, unknown>[] | undefined) ?? []) {
    if (typeof m.content === "string") out.push(m.content);
    if (m.tool_calls !== undefined) out.push(JSON.stringify(m.tool_calls));
  }
  if (rec.tools !== undefined) {
    out.push(typeof rec.tools === "string" ? rec.tools : JSON.stringify(rec.tools, null, 2));
  }
  return out;
}

/** Strings of a tools record: the schema JSON, question, system, turns. */
function toolTexts(rec: Record<string, unknown>): string[] {
  const out = [JSON.stringify(rec.tools ?? rec.function_raw_bfcl_types ?? null)];
  for (const k of ["question", "system"]) {
    if (typeof rec[k] === "string") out.push(rec[k] as string);
  }
  if (Array.isArray(rec.turns)) out.push(JSON.stringify(rec.turns));
  return out;
}

/** Plain text files (`text/*.txt`), one text each. */
export function textFiles(): CorpusFile[] {
  const dir = hasSharedCorpus ? CORPUS + "text/" : FIXTURES;
  return readdirSync(dir).filter((f) => f.endsWith(".txt")).sort().map((f) => ({
    name: (hasSharedCorpus ? "text/" : "") + f,
    texts: [read(dir + f)],
  }));
}

/**
 * JSON-lines sources: conversation contents, tool schemas and questions, harmony outputs (these
 * hold special-token literals).
 */
export function jsonlFiles(): CorpusFile[] {
  if (!hasSharedCorpus) {
    return [
      {
        name: "conversations_excerpt.jsonl",
        texts: jsonLines(FIXTURES + "conversations_excerpt.jsonl").flatMap(conversationTexts),
      },
      {
        name: "tools_excerpt.jsonl",
        texts: jsonLines(FIXTURES + "tools_excerpt.jsonl").flatMap(toolTexts),
      },
      {
        name: "harmony_outputs_excerpt.jsonl",
        texts: jsonLines(FIXTURES + "harmony_outputs_excerpt.jsonl").map((r) => String(r.text)),
      },
    ];
  }
  const out: CorpusFile[] = [];
  for (
    const f of readdirSync(CORPUS + "conversations").filter((f) => f.endsWith(".jsonl")).sort()
  ) {
    out.push({
      name: "conversations/" + f,
      texts: jsonLines(CORPUS + "conversations/" + f).flatMap(conversationTexts),
    });
  }
  for (const f of readdirSync(CORPUS).filter((f) => /^tools.*\.jsonl$/.test(f)).sort()) {
    out.push({ name: f, texts: jsonLines(CORPUS + f).flatMap(toolTexts) });
  }
  out.push({
    name: "harmony_outputs.jsonl",
    texts: jsonLines(CORPUS + "harmony_outputs.jsonl").map((r) => String(r.text)),
  });
  return out;
}

/**
 * Splits a long text into pieces of about `size` characters ending at line ends (each chunk is
 * then encoded on its own by both sides of a comparison).
 */
export function chunkLines(text: string, size = 8000): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf("\n", at + size);
    end = end < 0 ? text.length : end + 1;
    out.push(text.slice(at, end));
    at = end;
  }
  return out;
}
