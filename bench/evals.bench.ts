// Eval-output parsing throughput (`harmony parse-dataset`): completions re-rendered from the shared
// corpus (gsm8k, multilingual, glaive tool calls: analysis + final answer, or tool calls), as token
// ids and as text. End to end (file → parsed JSONL, CPU), and per record next to the reference's
// WASM parser (`openai-harmony`, messages only: no eval fields, no file I/O). The GPU row runs the
// engine (`createEngine({ backend: "gpu" })`: batch encode + strict parse) when an adapter exists;
// on a software adapter (llvmpipe) it measures the WebGPU path, not a GPU.
//
//   npx bun bench/evals.bench.ts      npx deno run -A bench/evals.bench.ts
//
// `--vllm [--records 20000] [--samples 4] [--rounds 3] [--json FILE]` instead measures the
// `harmony parse-dataset` command (a child process, as users run it) on a vLLM `RequestOutput`
// dump with n samples per record (`outputs[*].token_ids`, `text`, `finish_reason`; distinct
// completions from the corpus, bench/_inputs.ts) with `--backend cpu` and `--backend gpu`:
// records/s, samples/s, tokens/s, peak RSS. Here the GPU is a software adapter (llvmpipe), so the
// GPU row measures the WebGPU path, not a GPU.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import process from "node:process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { bench, group, run, summary } from "mitata";
import { loadTokenizer } from "../src/tokenizer/mod.ts";
import { analyzeCompletion } from "../src/evals/completion.ts";
import { parseDataset } from "../src/evals/parse_dataset.ts";
import { createEngine, type Engine } from "../src/engine/mod.ts";
import { loadReferenceEncoding } from "../test/_support/reference_wasm.ts";
import { completions, type Convo, vllmLines } from "./_inputs.ts";
import { type ChildRun, runCli } from "./_child.ts";
import { machineFacts } from "../src/bench/machine.ts";
import { spread } from "../src/bench/results.ts";
import type { JobBenchRun, JobPoint } from "../src/bench/job_results.ts";

const tokenizer = await loadTokenizer();
if (process.argv.includes("--vllm")) {
  await samplesBench();
  process.exit(0);
}
const encoding = { tokenizer };
const ref = await loadReferenceEncoding();

const SHARED = fileURLToPath(new URL("../../shared/corpus/conversations/", import.meta.url));
const FIXTURES = fileURLToPath(new URL("../test/fixtures/evals/", import.meta.url));

function read(file: string, fallback: string, limit: number): Convo[] {
  const path = existsSync(SHARED + file) ? SHARED + file : FIXTURES + fallback;
  return readFileSync(path, "utf8").split("\n").filter((l) => l.trim() !== "").slice(0, limit)
    .map((l) => JSON.parse(l));
}

const seqs = [
  ...read("gsm8k_test_train.jsonl", "conversations_excerpt.jsonl", 1500),
  ...read("multilingual.jsonl", "conversations_excerpt.jsonl", 1000),
  ...read("tool_calling_glaive.jsonl", "glaive_excerpt.jsonl", 600),
].flatMap((c) => completions(tokenizer, c));
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

/** `--vllm`: parse-dataset on a vLLM dump with n samples per record, CPU and GPU backend. */
async function samplesBench(): Promise<void> {
  const flag = (name: string, fallback: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
  };
  const records = Number(flag("--records", "20000"));
  const n = Number(flag("--samples", "4"));
  const rounds = Number(flag("--rounds", "3"));
  const jsonOut = process.argv.includes("--json") ? flag("--json", "") : "";
  const machine = machineFacts();
  const work = mkdtempSync(join(tmpdir(), "harmony-evals-samples-bench-"));
  const input = join(work, `vllm_n${n}.jsonl`);
  const dump = vllmLines(tokenizer, records, n);
  writeFileSync(input, dump.lines.join("\n") + "\n");
  const bytes = readFileSync(input).length;
  console.log(
    `input: ${records} vLLM RequestOutput records, n = ${n} (${dump.samples} samples, ${
      (dump.tokens / 1e6).toFixed(1)
    } M tokens), ${(bytes / 1e6).toFixed(0)} MB; ${machine.runtime} ${machine.runtimeVersion}`,
  );
  const backends = ["cpu", "gpu"];
  const runs = backends.map(() => [] as ChildRun[]);
  const labels = backends.slice();
  const stats = backends.map(() => ({ records: 0, samples: 0, tokens: 0 }));
  let k = 0;
  for (let r = 0; r < rounds; r++) {
    for (let b = 0; b < backends.length; b++) {
      if (labels[b] === "") continue; // no adapter: found in round 1
      const out = join(work, `out-${k++}`);
      const run = await runCli([
        "parse-dataset",
        input,
        "--out",
        `${out}.jsonl`,
        "--stats",
        `${out}.stats.json`,
        "--backend",
        backends[b],
      ]);
      if (run.status !== 0) {
        if (backends[b] === "gpu" && r === 0 && run.status === 3) {
          console.log(`no GPU row: ${run.stderr.trim().split("\n").pop()}`);
          labels[b] = "";
          continue;
        }
        throw new Error(`Cannot benchmark parse-dataset: exit ${run.status}\n${run.stderr}`);
      }
      const s = JSON.parse(readFileSync(`${out}.stats.json`, "utf8"));
      stats[b] = { records: s.records, samples: s.samples, tokens: s.tokens };
      if (s.samples !== dump.samples || s.records !== records) {
        throw new Error(`Cannot benchmark: ${s.records} records, ${s.samples} samples parsed`);
      }
      const used = /tokens\/s \((.*)\); [\d.]+s/.exec(run.stderr);
      if (used) labels[b] = used[1];
      runs[b].push(run);
      rmSync(`${out}.jsonl`, { force: true });
      console.log(
        `round ${r + 1}/${rounds} ${labels[b]}: ${(run.wallMs / 1000).toFixed(1)} s wall, ${
          run.cpuMs === null ? "?" : (run.cpuMs / 1000).toFixed(1)
        } s CPU, load ${run.load.map((l) => l.toFixed(1)).join(" → ")}`,
      );
    }
  }
  const points: JobPoint[] = [];
  for (let b = 0; b < backends.length; b++) {
    if (!runs[b].length) continue;
    const wall = spread(runs[b].map((x) => x.wallMs));
    const secs = wall.median / 1000;
    const cpu = runs[b].map((x) => x.cpuMs), main = runs[b].map((x) => x.mainCpuMs);
    const peaks = runs[b].map((x) => x.peakRssBytes);
    points.push({
      command: "parse-dataset",
      workers: 1,
      shard: null,
      backend: labels[b],
      ...stats[b],
      wallMs: wall,
      cpuMs: cpu.every((x) => x !== null) ? spread(cpu as number[]) : null,
      mainCpuMs: main.every((x) => x !== null) ? spread(main as number[]) : null,
      recordsPerSecond: stats[b].records / secs,
      samplesPerSecond: stats[b].samples / secs,
      tokensPerSecond: stats[b].tokens / secs,
      peakRssBytes: peaks.every((p) => p !== null) ? Math.max(...(peaks as number[])) : null,
    });
  }
  const loads = runs.flat().flatMap((x) => x.load).concat(loadavg()[0]);
  const result: JobBenchRun = {
    version: 1,
    kind: "evals-samples",
    date: new Date().toISOString(),
    machine,
    input: {
      description: `${records} vLLM RequestOutput records with n = ${n} samples ` +
        `(outputs[*].token_ids) from corpus completions`,
      records,
      bytes,
    },
    rounds,
    load: { min: Math.min(...loads), max: Math.max(...loads) },
    points,
  };
  for (const p of points) {
    console.log(
      `${p.backend}: ${(p.recordsPerSecond / 1e3).toFixed(2)}k records/s, ${
        (p.samplesPerSecond / 1e3).toFixed(2)
      }k samples/s, ${(p.tokensPerSecond / 1e6).toFixed(2)} M tokens/s, median ${
        (p.wallMs.median / 1000).toFixed(1)
      } s, peak RSS ${p.peakRssBytes === null ? "?" : (p.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
    );
  }
  console.log(`load average (1 min): ${result.load.min.toFixed(1)}–${result.load.max.toFixed(1)}`);
  if (jsonOut) {
    writeFileSync(jsonOut, JSON.stringify(result, null, 2) + "\n");
    console.log(`wrote ${jsonOut}`);
  }
  rmSync(work, { recursive: true, force: true });
}
