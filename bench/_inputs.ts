/**
 * Bench inputs made from the shared corpus (`../shared/corpus`, or the test fixtures without it):
 * distinct conversations for the dataset jobs, harmony completions as token ids for the eval
 * parsers, and vLLM `RequestOutput`-style records with n samples. Private to `bench/`.
 *
 * @module
 */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { HarmonyTokenizer } from "../src/tokenizer/tokenizer.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CORPUS = join(ROOT, "../shared/corpus/");
const FIXTURES = join(ROOT, "test/fixtures/");

/** The text kinds of the tokenizer benchmarks, in table order. */
export const KINDS = ["English prose", "CJK", "other scripts", "code", "emoji/chat"] as const;
/** One of {@link KINDS}. */
export type Kind = typeof KINDS[number];

function kindOf(file: string): Kind {
  if (file.startsWith("en_")) return "English prose";
  if (/^(zh|ja|ko)_/.test(file)) return "CJK";
  if (file.startsWith("code_")) return "code";
  if (file.startsWith("emoji_")) return "emoji/chat";
  return "other scripts";
}

/** Message contents of corpus conversations, joined by blank lines, up to about `bytes`. */
function chat(bytes: number, shared: boolean): string {
  const files = shared
    ? [
      join(CORPUS, "conversations/hh_rlhf_harmless_base_test.jsonl"),
      join(CORPUS, "conversations/tool_calling_glaive.jsonl"),
    ]
    : [join(FIXTURES, "text/conversations_excerpt.jsonl")];
  const parts: string[] = [];
  let size = 0;
  for (const file of files) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (line.trim() === "" || size >= bytes / files.length * (files.indexOf(file) + 1)) continue;
      for (const m of JSON.parse(line).messages as { content: unknown }[]) {
        if (typeof m.content !== "string") continue;
        parts.push(m.content);
        size += new TextEncoder().encode(m.content).length + 2;
      }
    }
  }
  return parts.join("\n\n");
}

/**
 * The tokenizer benchmarks' texts by kind: every file of `../shared/corpus/text` (or, without the
 * corpus, of test/fixtures/text) once, by its name's prefix, plus about 600 KB of corpus chat
 * message contents under emoji/chat. `shared` says whether the corpus was there.
 */
export function textKinds(): { kinds: Map<Kind, string[]>; shared: boolean } {
  const shared = existsSync(join(CORPUS, "README.md"));
  const dir = shared ? join(CORPUS, "text") : join(FIXTURES, "text");
  const kinds = new Map<Kind, string[]>(KINDS.map((k) => [k, []]));
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()) {
    kinds.get(kindOf(f))!.push(readFileSync(join(dir, f), "utf8"));
  }
  kinds.get("emoji/chat")!.push(chat(600_000, shared));
  return { kinds, shared };
}

/** A conversation record as the corpus holds it (OpenAI chat shape). */
export interface Convo {
  /** The messages. */
  messages: {
    role: string;
    content: string | null;
    tool_calls?: { name: string; arguments: string }[];
  }[];
}

/** Where the conversations come from: the corpus's files, or the test fixtures. */
export function conversationFiles(): string[] {
  const dir = join(CORPUS, "conversations");
  if (existsSync(dir)) {
    return readdirSync(dir).filter((f) => f.endsWith(".jsonl")).sort().map((f) => join(dir, f));
  }
  return ["glaive_excerpt.jsonl", "multilingual_excerpt.jsonl", "mixed.jsonl"].map((f) =>
    join(FIXTURES, "dataset", f)
  );
}

/** The non-blank lines of `files`. */
export function lines(files: readonly string[]): string[] {
  return files.flatMap((f) => readFileSync(f, "utf8").split("\n").filter((l) => l.trim() !== ""));
}

/**
 * Copy `k` of a conversation line, distinct from every other copy in its text (not only a
 * suffix): each number in every message is shifted by `k` and the first user message is tagged,
 * so tokenizer caches see new pieces as real data would give them. Copy 0 is the line itself.
 */
export function variant(line: string, k: number): string {
  if (k === 0) return line;
  const rec = JSON.parse(line) as Convo & Record<string, unknown>;
  let tagged = false;
  for (const m of rec.messages ?? []) {
    if (typeof m.content !== "string") continue;
    m.content = m.content.replace(/\d+/g, (d) => String(Number(d.slice(0, 12)) + k));
    if (!tagged && m.role === "user") {
      m.content = `${m.content} (variant ${k})`;
      tagged = true;
    }
  }
  return JSON.stringify(rec);
}

/**
 * `count` distinct conversation lines: the corpus's conversations, then copy 1 of each, copy 2, …
 * (see {@link variant}).
 */
export function distinctConversations(count: number): string[] {
  const base = lines(conversationFiles());
  const out: string[] = [];
  for (let k = 0; out.length < count; k++) {
    for (const l of base) {
      if (out.length >= count) break;
      out.push(variant(l, k));
    }
  }
  return out;
}

/** The harmony token ids the completions are built from. */
interface Specials {
  start: number;
  channel: number;
  message: number;
  end: number;
  ret: number;
  call: number;
  constrain: number;
}

function specials(tokenizer: HarmonyTokenizer): Specials {
  const sp = (s: string) => tokenizer.specialTokens.get(s)!;
  return {
    start: sp("<|start|>"),
    channel: sp("<|channel|>"),
    message: sp("<|message|>"),
    end: sp("<|end|>"),
    ret: sp("<|return|>"),
    call: sp("<|call|>"),
    constrain: sp("<|constrain|>"),
  };
}

/**
 * The assistant turns of a conversation as harmony completions (the tokens after
 * `<|start|>assistant`): tool calls on the commentary channel ending in `<|call|>`, or an analysis
 * message (restating the user's question) and a final answer ending in `<|return|>`.
 */
export function completions(tokenizer: HarmonyTokenizer, c: Convo): number[][] {
  const s = specials(tokenizer);
  const ord = (t: string) => [...tokenizer.encodeOrdinary(t)];
  const out: number[][] = [];
  let user = "";
  for (const m of c.messages) {
    if (m.role === "user" && typeof m.content === "string") user = m.content;
    if (m.role !== "assistant") continue;
    if (m.tool_calls?.length) {
      const t: number[] = [];
      for (const call of m.tool_calls) {
        if (t.length) t.push(s.start, ...ord("assistant"));
        t.push(s.channel, ...ord(`commentary to=functions.${call.name} `), s.constrain);
        t.push(...ord("json"), s.message, ...ord(call.arguments), s.end);
      }
      t[t.length - 1] = s.call;
      out.push(t);
    } else if (typeof m.content === "string") {
      out.push([
        s.channel,
        ...ord("analysis"),
        s.message,
        ...ord(`The user asks: ${user}`),
        s.end,
        s.start,
        ...ord("assistant"),
        s.channel,
        ...ord("final"),
        s.message,
        ...ord(m.content),
        s.ret,
      ]);
    }
  }
  return out;
}

/**
 * `count` distinct completions as `{"id", "tokens", "meta"}` JSONL lines (the flat token-id shape
 * `parse-dataset` reads), from {@link distinctConversations}; returns the lines and their tokens.
 */
export function completionLines(
  tokenizer: HarmonyTokenizer,
  count: number,
): { lines: string[]; tokens: number } {
  const out: string[] = [];
  let tokens = 0;
  let pool = Math.ceil(count / 2);
  while (out.length < count) {
    out.length = 0;
    tokens = 0;
    for (const l of distinctConversations(pool)) {
      for (const t of completions(tokenizer, JSON.parse(l))) {
        if (out.length >= count) break;
        out.push(JSON.stringify({ id: out.length, tokens: t, meta: { k: out.length % 7 } }));
        tokens += t.length;
      }
    }
    pool *= 2;
  }
  return { lines: out, tokens };
}

/**
 * `count` vLLM `RequestOutput` dumps with `n` samples each (`outputs[i].token_ids`, `text` as
 * vLLM decodes it by default, with special tokens skipped, and `finish_reason`), as JSONL lines:
 * sample 0 is a completion of the corpus, the others the next completions (so samples of one
 * request differ), and the last sample of every fourth request is cut at 80 % with
 * `finish_reason: "length"`. Returns the lines, the samples and their tokens.
 */
export function vllmLines(
  tokenizer: HarmonyTokenizer,
  count: number,
  n: number,
): { lines: string[]; samples: number; tokens: number } {
  const pool: { prompt: string; tokens: number[] }[] = [];
  for (const l of distinctConversations(Math.ceil((count * n) / 2) + 16)) {
    const c = JSON.parse(l) as Convo;
    const prompt = c.messages.find((m) => m.role === "user")?.content ?? "";
    for (const t of completions(tokenizer, c)) pool.push({ prompt, tokens: t });
    if (pool.length >= count * n) break;
  }
  const out: string[] = [];
  let samples = 0, tokens = 0;
  for (let i = 0; i < count; i++) {
    const first = pool[(i * n) % pool.length];
    const outputs = [];
    for (let j = 0; j < n; j++) {
      let ids = pool[(i * n + j) % pool.length].tokens;
      const cut = j === n - 1 && i % 4 === 0;
      if (cut) ids = ids.slice(0, Math.max(1, Math.floor(ids.length * 0.8)));
      outputs.push({
        index: j,
        text: tokenizer.decode(ids.filter((t) => !tokenizer.isSpecial(t))),
        token_ids: ids,
        cumulative_logprob: null,
        logprobs: null,
        finish_reason: cut ? "length" : "stop",
        stop_reason: null,
      });
      samples++;
      tokens += ids.length;
    }
    out.push(JSON.stringify({
      request_id: `cmpl-${i}`,
      prompt: first.prompt,
      prompt_token_ids: [...tokenizer.encodeOrdinary(first.prompt)],
      outputs,
      finished: true,
    }));
  }
  return { lines: out, samples, tokens };
}
