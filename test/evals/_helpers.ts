// Shared set-up of the eval-parsing tests (private to test/evals): the tokenizer, the corpus
// (../shared when present, else the excerpts in test/fixtures/evals) and completion builders.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDataset } from "../../src/evals/parse_dataset.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import type { Tokenizer } from "../../src/tokenizer/mod.ts";
import { SHARED } from "../_support/shared_data.ts";

export const tokenizer: Tokenizer = await loadTokenizer();
export const encoding = { tokenizer };

const CORPUS = `${SHARED}corpus/`;
export const FIXTURES = fileURLToPath(new URL("../fixtures/evals/", import.meta.url));

/** Whether the shared corpus (CI, the lead's machine) is present. */
export const hasShared: boolean = SHARED !== undefined;

function jsonl<T>(path: string, limit = Infinity): T[] {
  const out: T[] = [];
  for (const l of readFileSync(path, "utf8").split("\n")) {
    if (out.length >= limit) break;
    if (l.trim() !== "") out.push(JSON.parse(l) as T);
  }
  return out;
}

/** A corpus conversation. */
export interface Convo {
  messages: {
    role: string;
    content: string | null;
    tool_calls?: { name: string; arguments: string | Record<string, unknown> }[];
  }[];
}

/** Conversations: some of each shared file, or the bundled excerpt. */
export function conversations(): Convo[] {
  if (!hasShared) return jsonl<Convo>(FIXTURES + "conversations_excerpt.jsonl");
  return [
    ...jsonl<Convo>(CORPUS + "conversations/gsm8k_test_train.jsonl", 150),
    ...jsonl<Convo>(CORPUS + "conversations/multilingual.jsonl", 150),
    ...jsonl<Convo>(CORPUS + "conversations/hh_rlhf_harmless_base_test.jsonl", 100),
    ...jsonl<Convo>(CORPUS + "conversations/mtbench_with_reference.jsonl"),
  ];
}

/** Tool-calling conversations (glaive). */
export function toolConversations(): Convo[] {
  return hasShared
    ? jsonl<Convo>(CORPUS + "conversations/tool_calling_glaive.jsonl")
    : jsonl<Convo>(FIXTURES + "glaive_excerpt.jsonl");
}

/** Rows of harmony_outputs.jsonl (text with special tokens). */
export function harmonyOutputs(): { text: string; source: string; tags?: string[] }[] {
  return hasShared
    ? jsonl(CORPUS + "harmony_outputs.jsonl")
    : jsonl(FIXTURES + "harmony_outputs_excerpt.jsonl");
}

/** The id of a special token. */
export function sp(literal: string): number {
  const id = tokenizer.specialTokens.get(literal);
  if (id === undefined) throw new Error(`no ${literal}`);
  return id;
}

/** Builds token ids from pieces: `<|...|>` literals become special ids, other text is ordinary. */
export function toks(...pieces: (string | number[])[]): number[] {
  const out: number[] = [];
  for (const p of pieces) {
    if (Array.isArray(p)) out.push(...p);
    else if (p.startsWith("<|") && p.endsWith("|>") && tokenizer.specialTokens.has(p)) {
      out.push(sp(p));
    } else out.push(...tokenizer.encodeOrdinary(p));
  }
  return out;
}

/** Encodes text with every special token allowed. */
export function enc(text: string): number[] {
  return [...tokenizer.encode(text, { allowedSpecial: "all" })];
}

let byteIds: number[] | undefined;

/** The token id whose bytes are exactly the single byte `b`. */
export function byteToken(b: number): number {
  if (!byteIds) {
    byteIds = new Array(256).fill(-1);
    let found = 0;
    for (let id = 0; id < tokenizer.vocabSize && found < 256; id++) {
      if (tokenizer.isSpecial(id)) continue;
      let bytes: Uint8Array;
      try {
        bytes = tokenizer.tokenBytes(id);
      } catch {
        continue;
      }
      if (bytes.length === 1 && byteIds[bytes[0]] < 0) {
        byteIds[bytes[0]] = id;
        found++;
      }
    }
  }
  return byteIds[b];
}

/** A sampled completion built from a conversation turn, with what parsing it must give. */
export interface BuiltCompletion {
  tokens: number[];
  final: string | null;
  analysis: string | null;
  toolCalls: { recipient: string; arguments: unknown; raw: string }[];
  stop: "return" | "call";
}

/**
 * Re-renders the assistant turns of a conversation as completions (after `<|start|>assistant`):
 * an analysis message (the previous user turn, cut to 300 characters) and the final answer
 * ending in `<|return|>`; or, for tool calls, one commentary message per call ending in `<|call|>`
 * (recipient before or after the channel, alternating).
 */
export function completionsOf(c: Convo): BuiltCompletion[] {
  const out: BuiltCompletion[] = [];
  let prevUser = "";
  for (const m of c.messages) {
    if (m.role === "user" && typeof m.content === "string") prevUser = m.content;
    if (m.role !== "assistant") continue;
    if (m.tool_calls?.length) {
      const tokens: number[] = [];
      const toolCalls: BuiltCompletion["toolCalls"] = [];
      m.tool_calls.forEach((call, i) => {
        const raw = typeof call.arguments === "string"
          ? call.arguments
          : JSON.stringify(call.arguments);
        const recipient = `functions.${call.name}`;
        if (i > 0) tokens.push(sp("<|start|>"), ...toks("assistant"));
        tokens.push(
          ...(out.length % 2 === 0
            ? toks("<|channel|>", `commentary to=${recipient} `, "<|constrain|>", "json")
            : toks(` to=${recipient}`, "<|channel|>", "commentary ", "<|constrain|>", "json")),
          ...toks("<|message|>", raw, i === m.tool_calls!.length - 1 ? "<|call|>" : "<|end|>"),
        );
        let args: unknown = null;
        try {
          args = JSON.parse(raw);
        } catch { /* arguments stay null */ }
        toolCalls.push({ recipient, arguments: args, raw });
      });
      out.push({ tokens, final: null, analysis: null, toolCalls, stop: "call" });
      continue;
    }
    if (typeof m.content !== "string") continue;
    const analysis = `The user asks: ${prevUser.slice(0, 300)}`;
    out.push({
      tokens: toks(
        "<|channel|>",
        "analysis",
        "<|message|>",
        analysis,
        "<|end|>",
        "<|start|>",
        "assistant",
        "<|channel|>",
        "final",
        "<|message|>",
        m.content,
        "<|return|>",
      ),
      final: m.content,
      analysis,
      toolCalls: [],
      stop: "return",
    });
  }
  return out;
}

/** An eval dataset: completions from the corpus as ids and as text, with bad records between. */
export function buildInput(): {
  lines: string[];
  bad: Set<number>;
  badKinds: Record<string, number>;
} {
  const lines: string[] = [];
  const bad = new Set<number>();
  const badKinds: Record<string, number> = {};
  const built = [
    ...conversations().slice(0, 15).flatMap(completionsOf),
    ...toolConversations().slice(0, 10).flatMap(completionsOf),
  ];
  built.forEach((b, i) => {
    const id = lines.length;
    const field = ["tokens", "completion_tokens", "output_ids"][i % 3];
    lines.push(JSON.stringify({ id, [field]: b.tokens, meta: { src: "corpus", n: i } }));
    if (i % 7 === 3) {
      bad.add(lines.length);
      const kinds: [string, string][] = [
        ["bad-json", `{"id": ${lines.length}, "tokens": [1, 2`], // the id cannot be carried
        ["no-completion", `{"id": ${lines.length}, "prompt": "no completion"}`],
        ["token-out-of-range", `{"id": ${lines.length}, "tokens": [5, 999999999]}`],
      ];
      const [kind, line] = kinds[bad.size % 3];
      badKinds[kind] = (badKinds[kind] ?? 0) + 1;
      lines.push(line);
    }
  });
  for (const row of harmonyOutputs().slice(0, 30)) {
    if (!row.text.startsWith("<|start|>")) {
      lines.push(JSON.stringify({ id: lines.length, text: row.text, source: row.source }));
    }
  }
  return { lines, bad, badKinds };
}

/** Runs `parseDataset` over `lines` (one JSONL file) with `extra` options: its stats and output lines. */
export async function parseLines(lines: string[], extra: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "harmony-evals-"));
  try {
    writeFileSync(join(dir, "in.jsonl"), lines.join("\n") + "\n");
    const { stats } = await parseDataset({
      inputs: [join(dir, "in.jsonl")],
      out: join(dir, "out.jsonl"),
      tokenizer,
      ...extra,
    });
    const out = readFileSync(join(dir, "out.jsonl"), "utf8").split("\n").filter((l) => l !== "");
    return { stats, out, rows: out.map((l) => JSON.parse(l)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
