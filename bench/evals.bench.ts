// Eval-output parsing throughput (`harmony parse-dataset`): completions re-rendered from the shared
// corpus (gsm8k, multilingual, glaive tool calls: analysis + final answer, or tool calls), as token
// ids and as text. End to end (file → parsed JSONL, CPU), and per record next to the reference's
// WASM parser (`openai-harmony`, messages only: no eval fields, no file I/O). The GPU row runs the
// engine (`createEngine({ backend: "gpu" })`: batch encode + strict parse) when an adapter exists;
// on a software adapter (llvmpipe) it measures the WebGPU path, not a GPU.
//
//   npx bun bench/evals.bench.ts      npx deno run -A bench/evals.bench.ts
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { bench, group, run, summary } from "mitata";
import { loadTokenizer } from "../src/tokenizer/mod.ts";
import { analyzeCompletion } from "../src/evals/completion.ts";
import { parseDataset } from "../src/evals/parse_dataset.ts";
import { createEngine, type Engine } from "../src/engine/mod.ts";
import { loadReferenceEncoding } from "../test/_support/reference_wasm.ts";

const tokenizer = await loadTokenizer();
const encoding = { tokenizer };
const ref = await loadReferenceEncoding();

const SHARED = fileURLToPath(new URL("../../shared/corpus/conversations/", import.meta.url));
const FIXTURES = fileURLToPath(new URL("../test/fixtures/evals/", import.meta.url));

interface Convo {
  messages: {
    role: string;
    content: string | null;
    tool_calls?: { name: string; arguments: string }[];
  }[];
}

function read(file: string, fallback: string, limit: number): Convo[] {
  const path = existsSync(SHARED + file) ? SHARED + file : FIXTURES + fallback;
  return readFileSync(path, "utf8").split("\n").filter((l) => l.trim() !== "").slice(0, limit)
    .map((l) => JSON.parse(l));
}

const sp = (s: string) => tokenizer.specialTokens.get(s)!;
const ord = (s: string) => [...tokenizer.encodeOrdinary(s)];
const [START, CHANNEL, MESSAGE, END, RETURN, CALL, CONSTRAIN] = [
  "<|start|>",
  "<|channel|>",
  "<|message|>",
  "<|end|>",
  "<|return|>",
  "<|call|>",
  "<|constrain|>",
].map(sp);

/** Assistant turns as completions after `<|start|>assistant`. */
function completions(c: Convo): number[][] {
  const out: number[][] = [];
  let user = "";
  for (const m of c.messages) {
    if (m.role === "user" && typeof m.content === "string") user = m.content;
    if (m.role !== "assistant") continue;
    if (m.tool_calls?.length) {
      const t: number[] = [];
      for (const call of m.tool_calls) {
        if (t.length) t.push(START, ...ord("assistant"));
        t.push(CHANNEL, ...ord(`commentary to=functions.${call.name} `), CONSTRAIN, ...ord("json"));
        t.push(MESSAGE, ...ord(call.arguments), END);
      }
      t[t.length - 1] = CALL;
      out.push(t);
    } else if (typeof m.content === "string") {
      out.push([
        CHANNEL,
        ...ord("analysis"),
        MESSAGE,
        ...ord(`The user asks: ${user}`),
        END,
        START,
        ...ord("assistant"),
        CHANNEL,
        ...ord("final"),
        MESSAGE,
        ...ord(m.content),
        RETURN,
      ]);
    }
  }
  return out;
}

const seqs = [
  ...read("gsm8k_test_train.jsonl", "conversations_excerpt.jsonl", 1500),
  ...read("multilingual.jsonl", "conversations_excerpt.jsonl", 1000),
  ...read("tool_calling_glaive.jsonl", "glaive_excerpt.jsonl", 600),
].flatMap(completions);
const typed = seqs.map((s) => Uint32Array.from(s));
const totalTokens = seqs.reduce((a, s) => a + s.length, 0);

const dir = mkdtempSync(join(tmpdir(), "harmony-evals-bench-"));
const idsLines = seqs.map((t, i) => JSON.stringify({ id: i, tokens: t, meta: { k: i % 7 } }))
  .join("\n") + "\n";
const textLines = seqs.map((t, i) => JSON.stringify({ id: i, text: tokenizer.decode(t) }))
  .join("\n") + "\n";
writeFileSync(join(dir, "ids.jsonl"), idsLines);
writeFileSync(join(dir, "ids.jsonl.gz"), gzipSync(idsLines));
writeFileSync(join(dir, "text.jsonl"), textLines);

// Same messages as the reference before timing.
for (const t of typed) {
  const ours = JSON.stringify(analyzeCompletion(encoding, t).messages);
  const theirs = JSON.stringify(JSON.parse(ref.parseMessagesFromCompletionTokens(t, "assistant")));
  if (ours !== theirs) throw new Error("Cannot benchmark: messages differ from the reference");
}

console.log(
  `${seqs.length} completions, ${totalTokens} tokens (${
    (totalTokens / seqs.length).toFixed(0)
  } per completion); JSONL of ids ${(idsLines.length / 1e6).toFixed(1)} MB`,
);

let gpu: Engine | undefined;
try {
  gpu = await createEngine({ backend: "gpu" });
} catch (e) {
  console.log(`no GPU row: ${e instanceof Error ? e.message : e}`);
}
const adapter = gpu?.info().adapter;

const e2e = (file: string, engine?: Engine) => () =>
  parseDataset({ inputs: [join(dir, file)], out: join(dir, "out.jsonl"), tokenizer, engine });

group("end to end: JSONL file → parsed JSONL (CPU)", () => {
  summary(() => {
    bench("parseDataset, token ids (.jsonl)", e2e("ids.jsonl"));
    bench("parseDataset, token ids (.jsonl.gz)", e2e("ids.jsonl.gz"));
    bench("parseDataset, text (encode + parse)", e2e("text.jsonl"));
    if (gpu) {
      bench(`parseDataset, token ids (.jsonl), GPU engine: ${adapter}`, e2e("ids.jsonl", gpu));
      bench(`parseDataset, text, GPU engine: ${adapter}`, e2e("text.jsonl", gpu));
    }
  });
});

group("per record, in memory (all completions)", () => {
  summary(() => {
    bench("analyzeCompletion (ours: messages + eval fields)", () => {
      let n = 0;
      for (const t of typed) n += analyzeCompletion(encoding, t).messages.length;
      return n;
    });
    bench("openai-harmony WASM parse (messages JSON only)", () => {
      let n = 0;
      for (const t of typed) n += ref.parseMessagesFromCompletionTokens(t, "assistant").length;
      return n;
    });
  });
});

await run();

// Throughput of one end-to-end pass per input kind, in records/s and tokens/s.
const runs: [string, string, Engine | undefined][] = [
  ["ids.jsonl", "CPU", undefined],
  ["ids.jsonl.gz", "CPU", undefined],
  ["text.jsonl", "CPU", undefined],
];
if (gpu) runs.push(["ids.jsonl", `GPU ${adapter}`, gpu], ["text.jsonl", `GPU ${adapter}`, gpu]);
for (const [file, label, engine] of runs) {
  const { stats: s } = await e2e(file, engine)();
  console.log(
    `${file} (${label}): ${s.records} records, ${
      (s.records_per_second / 1e3).toFixed(1)
    }k records/s, ${(s.tokens_per_second / 1e6).toFixed(2)}M tokens/s`,
  );
}
gpu?.destroy();
rmSync(dir, { recursive: true, force: true });
