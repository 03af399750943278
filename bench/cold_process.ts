// One pass in a fresh process: the tokenizer's cold figure with nothing warm at all, neither the
// JIT nor the caches nor the backtracking tables (which a process builds after 8 MiB of long
// pieces, so a single pass over the corpus never has them). Each run starts new processes, in
// turn: ours in Bun, ours in Deno, and the native peers in Node (bench/_native_peer.mjs: tiktoken's
// Rust core through N-API and Hugging Face `tokenizers`, when installed), so a machine whose speed
// swings slows every side alike. Every process loads its tokenizer (timed: "load", from the
// process's start, so the runtime's start-up and module loading are in it), then encodes the texts
// of bench/_inputs.ts once, kind after kind in table order (timed: "pass", and each kind within
// it; a native peer is asked for one kind at a time). Prints medians over the runs, the spread, and
// our pass speed as a multiple of each peer's. bench/encode.bench.ts's cold mode is the other cold
// figure: unseen text after the JIT has compiled the encoder, as a long job sees it.
//
//   npx bun bench/cold_process.ts [--runs 5]        (either runtime runs the parent)
//
// In a child it is run as `<runtime> bench/cold_process.ts --child JOB`; it prints one JSON line.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { spread } from "../src/bench/results.ts";
import { type Kind, KINDS, textKinds } from "./_inputs.ts";

/** What one process measured. */
interface ProcessRun {
  loadMs: number;
  passMs: number;
  kindMs: Partial<Record<Kind, number>>;
  tokens: number;
}

/** The job file: the texts by kind, in table order, and the tokenizer.json for HF tokenizers. */
interface Job {
  kinds: { kind: Kind; cold: string[]; warm: string }[];
  hfTokenizer: string;
  warmMs: number;
}

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { child: { type: "string" }, runs: { type: "string", default: "5" } },
});

if (values.child) {
  // A fresh process: load, then one pass. "load" is the time from the process's start (the
  // runtime's own start-up and the module graph included), as for the native peers.
  const { loadTokenizer } = await import("../src/tokenizer/mod.ts");
  const tok = await loadTokenizer();
  const loadMs = performance.now();
  const job = JSON.parse(readFileSync(values.child, "utf8")) as Job;
  const kindMs: Partial<Record<Kind, number>> = {};
  let tokens = 0;
  const s = performance.now();
  for (const { kind, cold } of job.kinds) {
    const k = performance.now();
    for (const t of cold) tokens += tok.encodeOrdinary(t).length;
    kindMs[kind] = performance.now() - k;
  }
  const run: ProcessRun = { loadMs, passMs: performance.now() - s, kindMs, tokens };
  console.log(JSON.stringify(run));
  process.exit(0);
}

const here = fileURLToPath(import.meta.url);
const root = fileURLToPath(new URL("../", import.meta.url));
const bin = (name: string) =>
  fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const peerScript = fileURLToPath(new URL("./_native_peer.mjs", import.meta.url));
const { kinds, shared } = textKinds();
const bytes = new Map<Kind, number>(
  KINDS.map((k) => [k, kinds.get(k)!.reduce((n, t) => n + new TextEncoder().encode(t).length, 0)]),
);
const total = [...bytes.values()].reduce((a, b) => a + b, 0);
const dir = mkdtempSync(tmpdir() + "/cold-process-");
const jobFile = dir + "/job.json";
const hfTokenizer = dir + "/o200k_tokenizer.json";
{
  const { loadVocabulary, ByteVocabulary } = await import("../src/tokenizer/vocabulary.ts");
  const { hfTokenizerJson } = await import("./_hf_tokenizer_json.ts");
  const vocab = await loadVocabulary();
  if (vocab instanceof ByteVocabulary) writeFileSync(hfTokenizer, hfTokenizerJson(vocab));
}
// One job for every side: ours reads the texts from it, the native peer answers a pass per kind.
const job: Job = {
  kinds: KINDS.map((k) => ({ kind: k, cold: kinds.get(k)!, warm: "" })),
  hfTokenizer,
  warmMs: 0,
};
writeFileSync(jobFile, JSON.stringify(job));

/** One fresh process of ours in `runtime`. */
function ours(runtime: "bun" | "deno"): ProcessRun {
  const args = runtime === "bun"
    ? [here, "--child", jobFile]
    : ["run", "-A", here, "--child", jobFile];
  const r = spawnSync(bin(runtime), args, { cwd: root, encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${runtime} child failed: ${r.stderr.slice(0, 500)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as ProcessRun;
}

/** The native peers that load here (asked once; none without `node`). */
function nativePeerNames(): string[] {
  const probe = spawnSync("node", [peerScript, jobFile], { input: "", encoding: "utf8" });
  if (probe.status !== 0) return [];
  return (JSON.parse(probe.stdout.split("\n")[0]) as { peers: string[] }).peers;
}

/** A fresh Node process loading only `peer`: its load (to its first line) and one pass. */
async function nativePeer(peer: string): Promise<ProcessRun> {
  const child = spawn("node", [peerScript, jobFile], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, NATIVE_PEER_ONLY: peer },
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value as string);
  const { readyMs } = await next() as { readyMs: number };
  const run: ProcessRun = { loadMs: readyMs, passMs: 0, kindMs: {}, tokens: 0 };
  for (const k of KINDS) {
    child.stdin.write(JSON.stringify({ peer, kind: k, mode: "cold" }) + "\n");
    const got = await next() as { ms: number; tokens: number };
    run.kindMs[k] = got.ms;
    run.passMs += got.ms;
    run.tokens += got.tokens;
  }
  child.stdin.end();
  return run;
}

const runs = Number(values.runs);
const byName = new Map<string, ProcessRun[]>();
const add = (name: string, r: ProcessRun) => {
  if (!byName.has(name)) byName.set(name, []);
  byName.get(name)!.push(r);
};
try {
  const peers = nativePeerNames();
  for (let i = 0; i < runs; i++) {
    add("harmony-engine (Bun)", ours("bun"));
    add("harmony-engine (Deno)", ours("deno"));
    for (const peer of peers) add(peer, await nativePeer(peer));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const mbps = (b: number, ms: number) => (b / ms / 1e3).toFixed(1);
const ourTokens = byName.get("harmony-engine (Bun)")![0].tokens;
console.log(
  `One pass in a fresh process, ${runs} runs, ${(total / 1e6).toFixed(2)} MB of ` +
    `${shared ? "../shared/corpus" : "test/fixtures"} text; ${cpus()[0]?.model.trim()}, ` +
    `${cpus().length} cores, load ${loadavg()[0].toFixed(1)} at the end`,
);
console.log(["process", "load ms", "pass MB/s", "pass MB/s (min-max)", ...KINDS].join(" | "));
const passes = new Map<string, number>();
for (const [name, list] of byName) {
  const pass = spread(list.map((r) => r.passMs));
  passes.set(name, pass.median);
  const perKind = KINDS.map((k) =>
    mbps(bytes.get(k)!, spread(list.map((r) => r.kindMs[k]!)).median)
  );
  console.log(
    [
      name,
      spread(list.map((r) => r.loadMs)).median.toFixed(0),
      mbps(total, pass.median),
      `${mbps(total, pass.max)}-${mbps(total, pass.min)}`,
      ...perKind,
    ].join(" | "),
  );
  if (list.some((r) => r.tokens !== ourTokens)) {
    console.error(`note: ${name} gives ${list[0].tokens} tokens, we give ${ourTokens}`);
  }
}
for (const ourName of ["harmony-engine (Bun)", "harmony-engine (Deno)"]) {
  const ratios = [...passes].filter(([n]) => !n.startsWith("harmony-engine")).map(([n, ms]) =>
    `x${(ms / passes.get(ourName)!).toFixed(2)} ${n}`
  );
  if (ratios.length) console.log(`${ourName} pass speed: ${ratios.join(", ")}`);
}
