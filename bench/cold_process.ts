// One pass in a fresh process: the tokenizer's cold figure with nothing warm at all, neither the
// JIT nor the caches nor the backtracking tables (which a process builds after 8 MiB of long
// pieces, so a single pass over the corpus never has them). Each run starts new processes, in
// turn: ours in Bun, ours in Deno, and the native peers in Node (bench/_native_peer.mjs: tiktoken's
// Rust core through N-API and Hugging Face `tokenizers`, when installed), so a machine whose speed
// swings slows every side alike. Every process loads its tokenizer (timed: "load", from the
// process's start, so the runtime's start-up and module loading are in it), then encodes the texts of bench/_inputs.ts once, kind after kind in table order
// (timed: "pass", and each kind within it). Prints medians over the runs, our pass time as a
// multiple of each peer's, and the spread. bench/encode.bench.ts's cold mode is the other cold
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
// The native peer takes the pass as one kind holding every text (it times requests, not kinds).
const job: Job = {
  kinds: KINDS.map((k) => ({ kind: k, cold: kinds.get(k)!, warm: "" })),
  hfTokenizer,
  warmMs: 0,
};
writeFileSync(jobFile, JSON.stringify(job));
const nativeJob = dir + "/native.json";
writeFileSync(
  nativeJob,
  JSON.stringify({ ...job, kinds: [{ kind: "all", cold: KINDS.flatMap((k) => kinds.get(k)!) }] }),
);

/** One fresh process of ours in `runtime`. */
function ours(runtime: "bun" | "deno"): ProcessRun {
  const args = runtime === "bun"
    ? [here, "--child", jobFile]
    : ["run", "-A", here, "--child", jobFile];
  const r = spawnSync(bin(runtime), args, { cwd: root, encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${runtime} child failed: ${r.stderr.slice(0, 500)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as ProcessRun;
}

/** One fresh Node process per native peer: load (to its first line) and one pass. */
async function nativePeers(): Promise<Map<string, ProcessRun>> {
  const out = new Map<string, ProcessRun>();
  const script = fileURLToPath(new URL("./_native_peer.mjs", import.meta.url));
  const probe = spawnSync("node", [script, nativeJob], { input: "", encoding: "utf8" });
  if (probe.status !== 0) return out;
  const names = (JSON.parse(probe.stdout.split("\n")[0]) as { peers: string[] }).peers;
  for (const peer of names) {
    // Only this peer is loaded, so its load time is its own.
    const child = spawn("node", [script, nativeJob], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, NATIVE_PEER_ONLY: peer },
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const hello = JSON.parse((await lines.next()).value as string) as { readyMs: number };
    const loadMs = hello.readyMs;
    child.stdin.write(JSON.stringify({ peer, kind: "all", mode: "cold" }) + "\n");
    const got = JSON.parse((await lines.next()).value as string) as { ms: number; tokens: number };
    child.stdin.end();
    out.set(peer, { loadMs, passMs: got.ms, kindMs: {}, tokens: got.tokens });
  }
  return out;
}

const runs = Number(values.runs);
const byName = new Map<string, ProcessRun[]>();
const add = (name: string, r: ProcessRun) => {
  if (!byName.has(name)) byName.set(name, []);
  byName.get(name)!.push(r);
};
try {
  for (let i = 0; i < runs; i++) {
    add("harmony-engine (Bun)", ours("bun"));
    add("harmony-engine (Deno)", ours("deno"));
    for (const [name, r] of await nativePeers()) add(name, r);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
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
  const pass = median(list.map((r) => r.passMs));
  passes.set(name, pass);
  const speeds = list.map((r) => total / r.passMs / 1e3);
  const perKind = KINDS.map((k) =>
    list[0].kindMs[k] === undefined
      ? ""
      : mbps(bytes.get(k)!, median(list.map((r) => r.kindMs[k]!)))
  );
  console.log(
    [
      name,
      median(list.map((r) => r.loadMs)).toFixed(0),
      mbps(total, pass),
      `${Math.min(...speeds).toFixed(1)}-${Math.max(...speeds).toFixed(1)}`,
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
