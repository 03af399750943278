// Encoding throughput of the o200k_harmony CPU tokenizer next to its peers, in one process and on
// the same texts: js-tiktoken (pure JS), tiktoken (the Rust crate built to WASM) and
// gpt-tokenizer (pure JS, with a 100 000-entry merge cache). Texts come from the shared corpus
// (`../shared/corpus`) or, without it, from the excerpts in test/fixtures/text. Every peer's
// output is checked against ours before timing. Prints mitata's report, then MB/s (UTF-8 bytes)
// and our speed as a multiple of each peer's, plus vocabulary load time and memory and the pair
// table's size and build time. "piece cache cleared" empties the piece cache before every call
// (text not seen before; the pair memo and pair table stay, as in a long-running process).
//
//   npx bun bench/encode.bench.ts      npx deno run -A bench/encode.bench.ts
import { existsSync, readFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { bench, do_not_optimize, group, run, summary } from "mitata";

// Cold start: vocabulary load time and memory (measured first, before any peer is loaded).
const memBefore = process.memoryUsage();
const t0 = performance.now();
const { loadTokenizer } = await import("../src/tokenizer/mod.ts");
const tok = await loadTokenizer();
const loadMs = performance.now() - t0;
const t1 = performance.now();
tok.encodeOrdinary("warm up the class table and scratch buffers");
const firstEncodeMs = performance.now() - t1;
const memAfter = process.memoryUsage();

const { Tiktoken } = await import("js-tiktoken/lite");
const ranks = (await import("js-tiktoken/ranks/o200k_base")).default;
const jsTiktoken = new Tiktoken(ranks);
const { get_encoding } = await import("tiktoken");
const wasm = get_encoding("o200k_base");
const gpt = await import("gpt-tokenizer/encoding/o200k_base");

const SHARED = fileURLToPath(new URL("../../shared/corpus/", import.meta.url));
const FIXTURES = fileURLToPath(new URL("../test/fixtures/text/", import.meta.url));
const shared = existsSync(SHARED + "README.md");

/** About `bytes` UTF-8 bytes of whole lines from the start of a corpus text file. */
function excerpt(file: string, bytes: number): string {
  const text = readFileSync((shared ? SHARED + "text/" : FIXTURES) + file, "utf8");
  let out = "", size = 0;
  for (const line of text.split("\n")) {
    if (size >= bytes) break;
    out += line + "\n";
    size += new TextEncoder().encode(line).length + 1;
  }
  return out;
}

/** Message contents of corpus conversations, joined by blank lines, up to about `bytes`. */
function chat(bytes: number): string {
  const files = shared
    ? [
      SHARED + "conversations/hh_rlhf_harmless_base_test.jsonl",
      SHARED + "conversations/tool_calling_glaive.jsonl",
    ]
    : [FIXTURES + "conversations_excerpt.jsonl"];
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

const MULTI = [
  "ru_tata_mgsm.txt",
  "ar_tata.txt",
  "zh_prose_rust_book.txt",
  "ja_prose_rust_book.txt",
  "ko_prose_rust_book.txt",
  "he_readmes_javascript_algorithms.txt",
  "vi_readmes_javascript_algorithms.txt",
  "bn_mgsm.txt",
  "th_mgsm.txt",
  "uk_readmes_javascript_algorithms.txt",
  "yo_tata.txt",
];

const kinds: Array<[string, string]> = [
  ["English prose", excerpt("en_prose_rust_book.txt", 64_000)],
  ["multilingual", MULTI.map((f) => excerpt(f, 3_000)).join("\n")],
  [
    "code",
    excerpt("code_typescript.txt", 24_000) + excerpt("code_python.txt", 20_000) +
    excerpt("code_go.txt", 20_000),
  ],
  ["chat", chat(64_000)],
];

const encoders: Array<[string, (text: string) => ArrayLike<number>]> = [
  ["harmony-engine", (t) => tok.encodeOrdinary(t)],
  ["js-tiktoken", (t) => jsTiktoken.encode(t, [], [])],
  ["tiktoken (WASM)", (t) => wasm.encode_ordinary(t)],
  ["gpt-tokenizer", (t) => gpt.encode(t, { disallowedSpecial: new Set() })],
];

// Same ids from everyone (otherwise the comparison is meaningless).
for (const [kind, text] of kinds) {
  const ours = Array.from(tok.encodeOrdinary(text));
  for (const [name, f] of encoders.slice(1)) {
    const theirs = Array.from(f(text));
    const same = theirs.length === ours.length && theirs.every((t, i) => t === ours[i]);
    if (!same) console.error(`note: ${name} gives different ids than ours on ${kind}`);
  }
}

const bytesOf = new Map(kinds.map(([k, t]) => [k, new TextEncoder().encode(t).length]));
for (const [kind, text] of kinds) {
  group(`${kind} (${(bytesOf.get(kind)! / 1000).toFixed(1)} KB)`, () => {
    summary(() => {
      for (const [name, f] of encoders) bench(`${name} · ${kind}`, () => do_not_optimize(f(text)));
      bench(`harmony-engine, piece cache cleared · ${kind}`, () => {
        tok.clearCache();
        do_not_optimize(tok.encodeOrdinary(text));
      });
    });
  });
}

const result = await run();
wasm.free();

// MB/s per encoder and kind, and our multiple of each peer.
const mbps = new Map<string, number>();
for (const trial of result.benchmarks) {
  for (const r of trial.runs) {
    if (!r.stats) continue;
    const kind = r.name.split(" · ")[1];
    mbps.set(r.name, bytesOf.get(kind)! / r.stats.avg * 1e3);
  }
}
const names = [...encoders.map(([n]) => n), "harmony-engine, piece cache cleared"];
const runtime = "Bun" in globalThis ? "Bun" : "Deno" in globalThis ? "Deno" : "?";
console.log(`\nThroughput in MB/s (UTF-8 input), ${runtime}; ratio = harmony-engine / peer`);
console.log(
  ["text", ...names, ...names.slice(1).map((n) => `x ${n}`)].join(" | "),
);
for (const [kind] of kinds) {
  const ours = mbps.get(`harmony-engine · ${kind}`)!;
  const row = names.map((n) => mbps.get(`${n} · ${kind}`)!.toFixed(2));
  const ratios = names.slice(1).map((n) => (ours / mbps.get(`${n} · ${kind}`)!).toFixed(2));
  console.log([kind, ...row, ...ratios].join(" | "));
}
const mb = (n: number) => (n / 1048576).toFixed(1);
// The exact pair table is built lazily (after many pair-memo misses), so it is not in the load time.
const { PairTable } = await import("../src/tokenizer/_pair_table.ts");
const { pairTableBytes } = await import("../src/tokenizer/bpe.ts");
const builtInRun = pairTableBytes() > 0;
const tb = performance.now();
const table = PairTable.build(tok.vocabulary);
const buildMs = performance.now() - tb;
console.log(
  `Pair table (lazy; ${builtInRun ? "was" : "was not"} built during this run): ${table.pairs} ` +
    `pairs, ${mb(table.byteLength)} MB, built in ${buildMs.toFixed(0)} ms`,
);
console.log(
  `\nVocabulary load: ${loadMs.toFixed(0)} ms (first encode after it ${
    firstEncodeMs.toFixed(1)
  } ms); ` +
    `memory +${mb(memAfter.rss - memBefore.rss)} MB RSS, +${
      mb(memAfter.heapUsed - memBefore.heapUsed)
    } MB JS heap, ` +
    `${mb(tok.tableBytes)} MB of it in our typed arrays` +
    (shared ? "" : " (texts: bundled fixtures)"),
);
