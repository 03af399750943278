// Rendering throughput: harmony-engine next to the `openai-harmony` npm package (the reference
// compiled to WASM), on corpus conversations without tools and with tools.
//
//   npx bun bench/render.bench.ts
//   npx deno run -A bench/render.bench.ts
//
// Set-up (outside the timings): corpus rows become Conversations (ours) and plain JSON objects
// (the WASM API's input); both must render identical tokens before anything is timed. Each timed
// iteration renders the whole input set for completion. After mitata's table, a summary prints
// conversations/s, tokens/s and our speed-up over the reference.
import { bench, group, run, summary } from "mitata";
import { loadHarmonyEncoding } from "../src/encoding/mod.ts";
import { conversationFromJson } from "../src/chat/json.ts";
import type { Conversation } from "../src/chat/message.ts";
import { loadReferenceWasm } from "../test/_support/reference_wasm.ts";
import { corpusConversation, corpusRows, toolsRowConversation } from "../test/render/_corpus.ts";

const enc = await loadHarmonyEncoding("HarmonyGptOss");
const { enc: ref, close } = await loadReferenceWasm();

interface InputSet {
  name: string;
  json: unknown[];
  convos: Conversation[];
  tokens: number;
}

function inputSet(name: string, json: unknown[]): InputSet {
  const convos = json.map(conversationFromJson);
  let tokens = 0;
  for (let i = 0; i < json.length; i++) {
    // deno-lint-ignore no-explicit-any
    const a = ref.renderConversationForCompletion(json[i] as any, "assistant", {
      auto_drop_analysis: true,
    });
    const b = enc.renderConversationForCompletion(convos[i], "assistant");
    if (a.length !== b.length || a.some((t, j) => t !== b[j])) {
      throw new Error(`Cannot benchmark ${name}: conversation ${i} renders differently`);
    }
    tokens += b.length;
  }
  return { name, json, convos, tokens };
}

const plain = inputSet(
  "without tools",
  [
    ...corpusRows("conversations/multilingual.jsonl", 20, 100),
    ...corpusRows("conversations/gsm8k_test_train.jsonl", 80, 100),
    ...corpusRows("conversations/hh_rlhf_harmless_base_test.jsonl", 20, 100),
  ].map(corpusConversation),
);

const tools = inputSet("with tools", [
  ...corpusRows("conversations/tool_calling_glaive.jsonl", 3, 150).map(corpusConversation),
  ...corpusRows("tools.jsonl", 24, 150).map((r) => toolsRowConversation(r)),
]);

const sets = [plain, tools];
const names = new Map<string, { set: InputSet; who: string }>();
for (const set of sets) {
  group(`render for completion: ${set.convos.length} conversations ${set.name}`, () => {
    summary(() => {
      const ours = `harmony-engine (${set.name})`;
      const batch = `harmony-engine renderBatch (${set.name})`;
      const theirs = `openai-harmony WASM (${set.name})`;
      names.set(ours, { set, who: "ours" });
      names.set(batch, { set, who: "ours-batch" });
      names.set(theirs, { set, who: "wasm" });
      bench(ours, () => {
        let n = 0;
        for (const c of set.convos) n += enc.renderConversationForCompletion(c, "assistant").length;
        return n;
      });
      bench(batch, () => enc.renderBatch(set.convos, { mode: "completion" }).length);
      bench(theirs, () => {
        let n = 0;
        for (const c of set.json) {
          // deno-lint-ignore no-explicit-any
          n += ref.renderConversationForCompletion(c as any, "assistant", {
            auto_drop_analysis: true,
          }).length;
        }
        return n;
      });
    });
  });
}

const result = await run();
await close();

// Throughput summary.
const avg = new Map<string, number>();
for (const b of result.benchmarks) {
  for (const r of b.runs) if (r.stats) avg.set(r.name, r.stats.avg);
}
console.log("\nthroughput (one iteration renders the whole set):");
for (const set of sets) {
  const wasm = avg.get(`openai-harmony WASM (${set.name})`)!;
  for (const [name, info] of names) {
    if (info.set !== set) continue;
    const ns = avg.get(name)!;
    const convPerS = set.convos.length / (ns / 1e9);
    const tokPerS = set.tokens / (ns / 1e9);
    console.log(
      `  ${name.padEnd(48)} ${convPerS.toFixed(0).padStart(9)} conv/s ${
        (tokPerS / 1e6).toFixed(2).padStart(7)
      } Mtok/s  x${(wasm / ns).toFixed(2)} vs WASM`,
    );
  }
}
