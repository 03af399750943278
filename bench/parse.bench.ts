// Parser throughput: completion tokens → messages, ours next to the reference's WASM build
// (`openai-harmony` npm package). Inputs: conversations of the shared corpus (hh-rlhf and the
// multilingual set), rendered as harmony token streams
// (`<|start|>{role}<|message|>{text}<|end|>`, assistant turns on the final channel).
// Results are checked identical to the reference's before timing.
//
//   npx bun bench/parse.bench.ts      npx deno run -A bench/parse.bench.ts
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { bench, group, run, summary } from "mitata";
import { loadTokenizer } from "../src/tokenizer/mod.ts";
import { messageToJson } from "../src/chat/json.ts";
import { parseMessagesFromCompletionTokens, StreamableParser } from "../src/parse/mod.ts";
import { loadReferenceEncoding } from "../test/_support/reference_wasm.ts";

const tokenizer = await loadTokenizer();
const encoding = { tokenizer };
const ref = await loadReferenceEncoding();

const CORPUS = fileURLToPath(new URL("../../shared/corpus/conversations/", import.meta.url));
const FALLBACK = [
  { messages: [{ role: "user", content: "What is 2 + 2?" }, { role: "assistant", content: "4." }] },
];

function readConversations(
  file: string,
  limit: number,
): { messages: { role: string; content: string }[] }[] {
  const path = CORPUS + file;
  if (!existsSync(path)) return FALLBACK;
  return readFileSync(path, "utf8").split("\n").filter((l) => l.trim() !== "").slice(0, limit)
    .map((l) => JSON.parse(l));
}

const START = 200006, MESSAGE = 200008, END = 200007, CHANNEL = 200005;
const FINAL = [...tokenizer.encodeOrdinary("final")];

function render(conv: { messages: { role: string; content: string }[] }): Uint32Array {
  const out: number[] = [];
  for (const m of conv.messages) {
    out.push(START, ...tokenizer.encodeOrdinary(m.role));
    if (m.role === "assistant") out.push(CHANNEL, ...FINAL);
    out.push(MESSAGE, ...tokenizer.encodeOrdinary(m.content), END);
  }
  return Uint32Array.from(out);
}

const inputs: Record<string, Uint32Array[]> = {
  "hh-rlhf (English dialogues)": readConversations("hh_rlhf_harmless_base_test.jsonl", 400).map(
    render,
  ),
  "multilingual (MGSM, TaTA, zh)": readConversations("multilingual.jsonl", 300).map(render),
};

// Same results as the reference before timing.
for (const [name, seqs] of Object.entries(inputs)) {
  for (const t of seqs) {
    const ours = JSON.stringify(parseMessagesFromCompletionTokens(encoding, t).map(messageToJson));
    const theirs = JSON.stringify(JSON.parse(ref.parseMessagesFromCompletionTokens(t, null)));
    if (ours !== theirs) {
      throw new Error(`Cannot benchmark: results differ from the reference on ${name}`);
    }
  }
}

function ours(seqs: Uint32Array[]): number {
  let n = 0;
  for (const t of seqs) n += parseMessagesFromCompletionTokens(encoding, t).length;
  return n;
}
function oursJson(seqs: Uint32Array[]): number {
  let n = 0;
  for (const t of seqs) {
    n += JSON.stringify(parseMessagesFromCompletionTokens(encoding, t).map(messageToJson)).length;
  }
  return n;
}
function oursStreaming(seqs: Uint32Array[]): number {
  let n = 0;
  for (const t of seqs) {
    const p = new StreamableParser(encoding, null);
    for (let i = 0; i < t.length; i++) {
      p.process(t[i]);
      const d = p.lastContentDelta;
      if (d !== undefined) n += d.length;
    }
  }
  return n;
}
function reference(seqs: Uint32Array[]): number {
  let n = 0;
  for (const t of seqs) n += ref.parseMessagesFromCompletionTokens(t, null).length;
  return n;
}

// Tokens per second: the best pass of at least 5 and at least 1 s of passes, so that the JIT has
// warmed up each function (mitata's report follows).
function rate(f: (s: Uint32Array[]) => number, seqs: Uint32Array[], tokens: number): number {
  let best = Infinity;
  const until = performance.now() + 1000;
  for (let i = 0; i < 5 || performance.now() < until; i++) {
    const t0 = performance.now();
    f(seqs);
    best = Math.min(best, performance.now() - t0);
  }
  return tokens / (best / 1000);
}
const runtime = "Deno" in globalThis ? "deno" : "bun";
for (const [name, seqs] of Object.entries(inputs)) {
  const tokens = seqs.reduce((a, s) => a + s.length, 0);
  const r = rate(reference, seqs, tokens);
  const o = rate(ours, seqs, tokens);
  const j = rate(oursJson, seqs, tokens);
  const s = rate(oursStreaming, seqs, tokens);
  const fmt = (x: number) => `${(x / 1e6).toFixed(2)} M tok/s`;
  console.log(
    `${runtime} ${name}: ${tokens} tokens; reference ${fmt(r)}; ours ${fmt(o)} (${
      (o / r).toFixed(1)
    }x), ` +
      `ours+JSON ${fmt(j)} (${(j / r).toFixed(1)}x), ours streaming+deltas ${fmt(s)} (${
        (s / r).toFixed(1)
      }x)`,
  );
}

for (const [name, seqs] of Object.entries(inputs)) {
  group(name, () => {
    summary(() => {
      bench("harmony-engine parseMessagesFromCompletionTokens", () => ours(seqs));
      bench("harmony-engine parse + messageToJson + stringify", () => oursJson(seqs));
      bench("harmony-engine StreamableParser (per token, deltas)", () => oursStreaming(seqs));
      bench(
        "openai-harmony (WASM reference) parseMessagesFromCompletionTokens",
        () => reference(seqs),
      );
    });
  });
}
await run();
