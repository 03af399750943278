// Encoding throughput of the o200k_harmony CPU tokenizer next to its peers, in one run and on the
// same texts, per text kind (English prose, CJK, other scripts, code, emoji/chat):
//
// - cold: a fresh tokenizer instance (empty piece cache, pair memo and scratch) makes ONE pass over
//   every text of the kind, text it has never seen (the files of `../shared/corpus/text`, 7.5 MB,
//   or without it the excerpts in test/fixtures/text); median of COLD_REPS passes (default 5),
//   each on a new instance. This is what a dataset job sees after its first megabytes. Before the
//   passes of a kind, throwaway instances encode its texts until they have seen WARMUP_MB (default
//   8) megabytes of the kind and at least 3 passes, so that the JIT has compiled the encoder's
//   paths for that kind at its top tier (the fresh instances measured share nothing with them but
//   the vocabulary's tables, derived from the ranks alone: the vocabulary's cache of recently found
//   tokens is emptied before each pass): with one such pass, Bun's English prose passes
//   still ran 63, 37, 34, 32, 31, 30, 17, 18, 15, 15, 12, 10 ms (JSC tiering up over ~6 MB), and
//   the median of 5 showed a third of the steady cold speed. The peers' cold passes interleave
//   with ours: after each of our passes, one of tiktoken (WASM) (which gets the same untimed
//   passes first) and one of each native peer, so that a machine whose speed swings slows all
//   alike; a peer's cold figure is the median of its COLD_REPS passes too.
// - warm: mitata on a ~64 KB excerpt of the kind, encoded again and again (caches hot).
//
// Peers: js-tiktoken (pure JS), tiktoken (the Rust crate built to WASM), gpt-tokenizer (pure JS,
// with a merge cache) in this process, and two native ones that load only under Node, run by
// bench/_native_peer.mjs in a `node` child process on the same texts: tiktoken's Rust core through
// N-API (`@anysphere/tiktoken-node`) and Hugging Face `tokenizers` (Rust through N-API) over an
// o200k tokenizer.json made from our vocabulary (bench/_hf_tokenizer_json.ts). Install those two
// with `npm install --no-save @anysphere/tiktoken-node tokenizers` (a missing one is skipped with a
// note). Every peer's output is checked against ours (ids for the in-process peers, token counts
// for the native ones).
// Prints mitata's report, then MB/s (UTF-8 bytes) and our speed as a multiple of each peer's,
// vocabulary load time and memory, and the pair table's size and build time.
//
//   npx bun bench/encode.bench.ts      npx deno run -A bench/encode.bench.ts
//   COLD_REPS=9 WARM_PEERS=0 ...       (more cold passes; skip the slow warm peers)
//   WARMUP_MB=1 ...                    (less JIT warm-up before the cold passes)
//   ... --json bench/results/encode/bun.json   (also write the figures; scripts/encode_tables.ts
//                                                makes the README's tokenizer tables from them)
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { bench, do_not_optimize, group, run, summary } from "mitata";
import { type Kind, KINDS, textKinds } from "./_inputs.ts";

// Cold start: vocabulary load time and memory (measured first, before any peer is loaded).
const memBefore = process.memoryUsage();
const t0 = performance.now();
const { loadTokenizer, HarmonyTokenizer } = await import("../src/tokenizer/mod.ts");
const { ByteVocabulary } = await import("../src/tokenizer/vocabulary.ts");
const tok = await loadTokenizer();
const loadMs = performance.now() - t0;
const t1 = performance.now();
tok.encodeOrdinary("warm up the class table and scratch buffers");
const firstEncodeMs = performance.now() - t1;
const memAfter = process.memoryUsage();

const COLD_REPS = Number(process.env.COLD_REPS ?? 5);
const WARMUP_MB = Number(process.env.WARMUP_MB ?? 8);
const WARM_PEERS = process.env.WARM_PEERS !== "0";
const utf8Length = (t: string) => new TextEncoder().encode(t).length;

/** About `bytes` UTF-8 bytes of whole lines from the start of `text`. */
function excerpt(text: string, bytes: number): string {
  let out = "", size = 0;
  for (const line of text.split("\n")) {
    if (size >= bytes) break;
    out += line + "\n";
    size += utf8Length(line) + 1;
  }
  return out;
}

// Cold texts: every text file once (plus chat message contents for emoji/chat).
const { kinds: cold, shared } = textKinds();
// Warm texts: about 64 KB of each kind, taken evenly from its files.
const warm = new Map<Kind, string>(KINDS.map((k) => {
  const texts = cold.get(k)!;
  return [k, texts.map((t) => excerpt(t, 64_000 / texts.length)).join("\n")];
}));
const bytesOf = (texts: string[]) => texts.reduce((n, t) => n + utf8Length(t), 0);
const coldBytes = new Map(KINDS.map((k) => [k, bytesOf(cold.get(k)!)]));
const warmBytes = new Map(KINDS.map((k) => [k, utf8Length(warm.get(k)!)]));
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
/** Untimed passes over a kind's cold texts before its timed ones (see the header). */
const warmupPasses = (k: Kind) => Math.max(3, Math.ceil(WARMUP_MB * 1e6 / coldBytes.get(k)!));

// The native peers (Node child process), asked for one pass at a time so that their cold passes
// interleave with ours (on a machine whose speed swings, peers measured minutes apart moved the
// ratios by up to 2x between runs).
/** The native peers' child process (bench/_native_peer.mjs): one JSON line each way. */
class NativePeers {
  readonly names: string[];
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #replies: AsyncIterator<string>;

  private constructor(
    child: ChildProcessWithoutNullStreams,
    replies: AsyncIterator<string>,
    names: string[],
  ) {
    this.#child = child;
    this.#replies = replies;
    this.names = names;
  }

  /** Starts the child on `job` (a file); resolves with it and the note on peers it lacks. */
  static async start(job: string): Promise<{ peers?: NativePeers; note: string }> {
    const script = fileURLToPath(new URL("./_native_peer.mjs", import.meta.url));
    const child = spawn("node", [script, job], { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => stderr += d);
    child.on("error", (e) => stderr += String(e)); // no `node`: the peers are skipped
    const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await replies.next().catch(() => undefined);
    if (!first || first.done) return { note: `native peers skipped: ${stderr.slice(0, 200)}` };
    const hello = JSON.parse(first.value) as { peers: string[]; missing: Record<string, string> };
    const note = Object.entries(hello.missing).map(([n, why]) => `${n} skipped: ${why}`).join("; ");
    return { peers: new NativePeers(child, replies, hello.peers), note };
  }

  /** One request (see bench/_native_peer.mjs). */
  async ask(peer: string, kind: Kind, mode: "cold" | "warm"): Promise<Record<string, number>> {
    this.#child.stdin.write(JSON.stringify({ peer, kind, mode }) + "\n");
    const r = await this.#replies.next();
    if (r.done) throw new Error(`native peer ${peer} ended on ${kind} (${mode})`);
    return JSON.parse(r.value);
  }

  /** Ends the child. */
  close(): void {
    this.#child.stdin.end();
  }
}

const benchDir = mkdtempSync(tmpdir() + "/encode-bench-");
let native: NativePeers | undefined, nativeNote: string;
try {
  const hfTokenizer = benchDir + "/o200k_tokenizer.json";
  if (tok.vocabulary instanceof ByteVocabulary) {
    const { hfTokenizerJson } = await import("./_hf_tokenizer_json.ts");
    writeFileSync(hfTokenizer, hfTokenizerJson(tok.vocabulary));
  }
  const job = {
    warmMs: 1500,
    hfTokenizer,
    kinds: KINDS.map((k) => ({ kind: k, cold: cold.get(k), warm: warm.get(k) })),
  };
  writeFileSync(benchDir + "/job.json", JSON.stringify(job));
  ({ peers: native, note: nativeNote } = await NativePeers.start(benchDir + "/job.json"));
} finally {
  // The child has read both files once it has answered (or failed).
  rmSync(benchDir, { recursive: true, force: true });
}

// tiktoken (WASM) is loaded now, so that its cold passes interleave with ours too (its tables live
// in WASM memory, outside the JS heap; the pure-JS peers are loaded after our passes, see below).
const { get_encoding } = await import("tiktoken");
const wasm = get_encoding("o200k_base");

// Cold: one pass per fresh instance. The backtracking tables, which a process builds once it has
// merged BACKTRACK_AFTER_BYTES of long pieces (a dataset job after its first megabytes of CJK), are
// built first, so that no pass pays their one-time build (printed below) or runs without them.
{
  const { backtrackTables } = await import("../src/tokenizer/_backtrack.ts");
  if (tok.vocabulary instanceof ByteVocabulary) backtrackTables(tok.vocabulary);
}
const coldMbps = new Map<string, number>();
const ourCold = new Map<Kind, number[]>();
const ourColdTokens = new Map<Kind, number>();
for (const k of KINDS) {
  const texts = cold.get(k)!;
  // JIT warm-up (see the header): throwaway instances; the measured ones start empty. tiktoken
  // (WASM) gets the same untimed passes, the native peers one.
  for (let w = warmupPasses(k); w > 0; w--) {
    const jit = new HarmonyTokenizer(tok.vocabulary);
    for (const t of texts) do_not_optimize(jit.encodeOrdinary(t));
    for (const t of texts) do_not_optimize(wasm.encode_ordinary(t));
  }
  for (const name of native?.names ?? []) await native!.ask(name, k, "cold");
  const ms: number[] = [], wasmMs: number[] = [];
  const peerMs = new Map<string, number[]>((native?.names ?? []).map((n) => [n, []]));
  for (let r = 0; r < COLD_REPS; r++) {
    // Nothing the warm-up passes saw may help: a new instance (piece cache, pair memo, scratch)
    // and the vocabulary's small cache of recently found tokens emptied.
    if (tok.vocabulary instanceof ByteVocabulary) tok.vocabulary.clearFront();
    const fresh = new HarmonyTokenizer(tok.vocabulary);
    let n = 0;
    const s = performance.now();
    for (const t of texts) n += fresh.encodeOrdinary(t).length;
    ms.push(performance.now() - s);
    ourColdTokens.set(k, n);
    // The peers' passes right after ours. tiktoken (WASM) keeps no cache: every pass is cold.
    const w = performance.now();
    for (const t of texts) do_not_optimize(wasm.encode_ordinary(t));
    wasmMs.push(performance.now() - w);
    for (const [name, list] of peerMs) {
      const got = await native!.ask(name, k, "cold");
      list.push(got.ms);
      if (got.tokens !== n) {
        console.error(`note: ${name} gives ${got.tokens} tokens on ${k}, we give ${n}`);
      }
    }
  }
  ourCold.set(k, ms);
  coldMbps.set(`harmony-engine · ${k}`, coldBytes.get(k)! / median(ms) / 1e3);
  coldMbps.set(`tiktoken (WASM) · ${k}`, coldBytes.get(k)! / median(wasmMs) / 1e3);
  for (const [name, list] of peerMs) {
    coldMbps.set(`${name} · ${k}`, coldBytes.get(k)! / median(list) / 1e3);
  }
}
// The native peers' warm figures (the warm text for 1.5 s each), before mitata's warm runs.
const warmMbps = new Map<string, number>();
const nativeWarmTokens = new Map<string, number>();
for (const name of native?.names ?? []) {
  for (const k of KINDS) {
    const got = await native!.ask(name, k, "warm");
    warmMbps.set(`${name} · ${k}`, got.mbps);
    nativeWarmTokens.set(`${name} · ${k}`, got.tokens);
  }
}
native?.close();

// The in-process peers are loaded only now: their tables (js-tiktoken's and gpt-tokenizer's maps of
// strings) grow the JS heap, and every fresh instance's typed arrays then start collections that
// mark it all (with them loaded first, our cold prose passes took 1.2-1.9x as long in Bun; a
// dataset job has none of them).
const { Tiktoken } = await import("js-tiktoken/lite");
const ranks = (await import("js-tiktoken/ranks/o200k_base")).default;
const jsTiktoken = new Tiktoken(ranks);
const gpt = await import("gpt-tokenizer/encoding/o200k_base");
const encoders: Array<[string, (text: string) => ArrayLike<number>]> = [
  ["harmony-engine", (t) => tok.encodeOrdinary(t)],
  ["tiktoken (WASM)", (t) => wasm.encode_ordinary(t)],
  ...(WARM_PEERS
    ? [
      ["js-tiktoken", (t: string) => jsTiktoken.encode(t, [], [])],
      ["gpt-tokenizer", (t: string) => gpt.encode(t, { disallowedSpecial: new Set() })],
    ] as Array<[string, (text: string) => ArrayLike<number>]>
    : []),
];

// Same ids from everyone (otherwise the comparison is meaningless).
for (const k of KINDS) {
  const text = warm.get(k)!;
  const ours = Array.from(tok.encodeOrdinary(text));
  for (const [name, f] of encoders.slice(1)) {
    const theirs = Array.from(f(text));
    const same = theirs.length === ours.length && theirs.every((t, i) => t === ours[i]);
    if (!same) console.error(`note: ${name} gives different ids than ours on ${k}`);
  }
  for (const name of native?.names ?? []) {
    if (nativeWarmTokens.get(`${name} · ${k}`) !== ours.length) {
      console.error(`note: ${name} gives a different token count than ours on ${k}`);
    }
  }
}

for (const k of KINDS) {
  const text = warm.get(k)!;
  group(`${k} (${(warmBytes.get(k)! / 1000).toFixed(1)} KB)`, () => {
    summary(() => {
      for (const [name, f] of encoders) bench(`${name} · ${k}`, () => do_not_optimize(f(text)));
    });
  });
}

const result = await run();
wasm.free();

for (const trial of result.benchmarks) {
  for (const r of trial.runs) {
    if (!r.stats) continue;
    const kind = r.name.split(" · ")[1] as Kind;
    warmMbps.set(r.name, warmBytes.get(kind)! / r.stats.avg * 1e3);
  }
}

const runtime = "Bun" in globalThis ? "Bun" : "Deno" in globalThis ? "Deno" : "?";
function table(title: string, mbps: Map<string, number>, names: string[]): void {
  const present = names.filter((n) => mbps.has(`${n} · ${KINDS[0]}`));
  console.log(`\n${title}, ${runtime}, MB/s of UTF-8 input; ratio = harmony-engine / peer`);
  console.log(["text", ...present, ...present.slice(1).map((n) => `x ${n}`)].join(" | "));
  for (const k of KINDS) {
    const ours = mbps.get(`harmony-engine · ${k}`)!;
    const row = present.map((n) => mbps.get(`${n} · ${k}`)!.toFixed(1));
    const ratios = present.slice(1).map((n) => (ours / mbps.get(`${n} · ${k}`)!).toFixed(2));
    console.log([k, ...row, ...ratios].join(" | "));
  }
}
const peers = [
  "harmony-engine",
  "tiktoken-node",
  "HF tokenizers",
  "tiktoken (WASM)",
  "js-tiktoken",
  "gpt-tokenizer",
];
table(`Cold (fresh instance, one pass, median of ${COLD_REPS})`, coldMbps, peers);
console.log(
  "cold passes (ms): " +
    KINDS.map((k) =>
      `${k} ${(coldBytes.get(k)! / 1e6).toFixed(2)} MB: ${
        ourCold.get(k)!.map((x) => x.toFixed(0)).join(" ")
      }`
    ).join("; "),
);
table("Warm (same ~64 KB text again and again)", warmMbps, peers);
if (nativeNote) console.log(nativeNote);

const mb = (n: number) => (n / 1048576).toFixed(1);
// The exact pair table is built lazily (after many pair-memo misses), so it is not in the load time.
const { PairTable } = await import("../src/tokenizer/_pair_table.ts");
const tb = performance.now();
const pairs = PairTable.build(tok.vocabulary);
const buildMs = performance.now() - tb;
console.log(
  `Pair table (lazy): ${pairs.pairs} pairs, ${mb(pairs.byteLength)} MB, built in ${
    buildMs.toFixed(0)
  } ms`,
);
// The backtracking tables are built once a process has merged BACKTRACK_AFTER_BYTES of long pieces.
const { BacktrackTables } = await import("../src/tokenizer/_backtrack.ts");
const tbt = performance.now();
const bt = BacktrackTables.build(
  tok.vocabulary as import("../src/tokenizer/vocabulary.ts").ByteVocabulary,
);
console.log(
  `Backtracking tables (lazy): ${mb(bt.byteLength)} MB, built in ${
    (performance.now() - tbt).toFixed(0)
  } ms`,
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

// --json FILE: the figures as JSON for scripts/encode_tables.ts (README tokenizer tables).
const jsonAt = process.argv.indexOf("--json");
if (jsonAt >= 0) {
  const file = process.argv[jsonAt + 1];
  if (!file) throw new TypeError("Cannot write results: --json needs a file name");
  const { cpus, loadavg, totalmem } = await import("node:os");
  const version = runtime === "Bun"
    ? (globalThis as unknown as { Bun: { version: string } }).Bun.version
    : runtime === "Deno"
    ? (globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno
    : "?";
  const pick = (m: Map<string, number>, k: Kind) =>
    Object.fromEntries(
      peers.filter((n) => m.has(`${n} · ${k}`)).map((n) => [n, m.get(`${n} · ${k}`)!]),
    );
  const out = {
    version: 1,
    date: new Date().toISOString(),
    machine: {
      runtime,
      runtimeVersion: version,
      cpu: cpus()[0]?.model.trim() ?? "?",
      cores: cpus().length,
      memoryBytes: totalmem(),
      loadAverage: loadavg()[0],
    },
    coldReps: COLD_REPS,
    texts: shared ? "../shared/corpus/text" : "test/fixtures/text",
    kinds: KINDS.map((k) => ({
      kind: k,
      coldBytes: coldBytes.get(k)!,
      warmBytes: warmBytes.get(k)!,
      cold: pick(coldMbps, k),
      warm: pick(warmMbps, k),
    })),
    vocabulary: {
      loadMs,
      rssBytes: memAfter.rss - memBefore.rss,
      heapBytes: memAfter.heapUsed - memBefore.heapUsed,
      tableBytes: tok.tableBytes,
    },
  };
  writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
  console.log(`wrote ${file}`);
}
