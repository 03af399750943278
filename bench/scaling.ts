// Scaling of the dataset jobs (issue #12): `harmony render-dataset` and `harmony parse-dataset`
// run as child processes of this runtime on the same ≥ 100k-record input with --workers 1, 2, …
// (every count up to the available cores; parse-dataset only when its --help lists --workers),
// each of the 2 shards of `--shard i/2` against the whole run, and both shards run at once as two
// independent processes: the machine's own ceiling for the job on 2 cores (no shared heap, JIT or
// queue, only the hardware and the OS), the figure the worker threads are to be read against. Prints records/s, tokens/s,
// the speed-up over one worker (median wall times), CPU time (all threads, and the main thread
// alone: the part that does not scale) and peak RSS (VmHWM). Points are interleaved within each
// round, so a change in the machine's load hits all of them alike; the load average is printed.
//
//   npx bun bench/scaling.ts [--records 100000] [--rounds 3] [--json bench/results/scaling-bun.json]
//   npx deno run -A bench/scaling.ts …
//
// Input: distinct conversations made from ../shared/corpus/conversations (copies with every number
// shifted and the user turn tagged, bench/_inputs.ts), or the test fixtures; for parse-dataset the
// assistant turns of the same conversations as harmony completions (token ids).
// The goal of the issue: ≥ 0.85 × N the one-worker throughput on N cores (≥ 1.7× for 2), and ≥
// 0.85 × n for n shards on n machines (full run ÷ slowest shard).
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { completionLines, distinctConversations } from "./_inputs.ts";
import { type ChildRun, cliHasFlag, runCli } from "./_child.ts";
import { loadTokenizer } from "../src/tokenizer/mod.ts";
import { machineFacts } from "../src/bench/machine.ts";
import { spread } from "../src/bench/results.ts";
import { type JobBenchRun, type JobPoint, speedup } from "../src/bench/job_results.ts";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const records = Number(flag("--records", "100000"));
const rounds = Number(flag("--rounds", "3"));
const jsonOut = process.argv.includes("--json") ? flag("--json", "") : "";
const machine = machineFacts();
const work = mkdtempSync(join(tmpdir(), "harmony-scaling-bench-"));

const conversations = join(work, "conversations.jsonl");
writeFileSync(conversations, distinctConversations(records).join("\n") + "\n");
const tokenizer = await loadTokenizer();
const completions = completionLines(tokenizer, records);
const completionFile = join(work, "completions.jsonl");
writeFileSync(completionFile, completions.lines.join("\n") + "\n");
console.log(
  `input: ${records} distinct conversations (${
    (statSync(conversations).size / 1e6).toFixed(0)
  } MB), ${records} completions (${(completions.tokens / 1e6).toFixed(1)} M tokens, ${
    (statSync(completionFile).size / 1e6).toFixed(0)
  } MB); ${machine.runtime} ${machine.runtimeVersion}, ${machine.cpu}, ${machine.cores} cores`,
);

const counts = [...new Set([1, 2, machine.cores])].filter((n) => n <= Math.max(2, machine.cores))
  .sort((a, b) => a - b);
const parseWorkers = await cliHasFlag("parse-dataset", "--workers");
if (!parseWorkers) console.log("parse-dataset has no --workers yet: measured with one thread only");

interface Config {
  command: "render-dataset" | "parse-dataset";
  workers: number;
  shard: string | null;
  /**
   * Run every shard of `--shard i/n` (n = this) at the same time, each as its own process: the
   * machine's own ceiling for this job on n cores (nothing shared but the hardware and the OS),
   * against which the worker threads are measured.
   */
  together?: number;
}
const configs: Config[] = [
  ...counts.map((w) => ({ command: "render-dataset" as const, workers: w, shard: null })),
  { command: "render-dataset", workers: 1, shard: "0/2" },
  { command: "render-dataset", workers: 1, shard: "1/2" },
  { command: "render-dataset", workers: 1, shard: "0/2 + 1/2 at once", together: 2 },
  ...(parseWorkers ? counts : [1]).map((w) => ({
    command: "parse-dataset" as const,
    workers: w,
    shard: null,
  })),
  { command: "parse-dataset", workers: 1, shard: "0/2" },
  { command: "parse-dataset", workers: 1, shard: "1/2" },
  { command: "parse-dataset", workers: 1, shard: "0/2 + 1/2 at once", together: 2 },
];

function args(c: Config, out: string, shard = c.shard): string[] {
  const a = c.command === "render-dataset"
    ? ["render-dataset", conversations, "--out", out, "--progress-every", "0"]
    : ["parse-dataset", completionFile, "--out", `${out}.jsonl`];
  a.push("--backend", "cpu", "--stats", `${out}.stats.json`);
  if (c.command === "render-dataset" || parseWorkers) a.push("--workers", String(c.workers));
  if (shard) a.push("--shard", shard);
  return a;
}

/**
 * Runs the `together` shards of `c` at once, one process each, in `dir/shard-i/`; the result is
 * the machine's: wall time until the last one exits, CPU and peak RSS summed over the processes.
 */
async function runTogether(c: Config, dir: string): Promise<ChildRun> {
  const n = c.together!;
  const all = await Promise.all(Array.from({ length: n }, (_, i) => {
    const sub = join(dir, `shard-${i}`);
    mkdirSync(sub);
    return runCli(args(c, join(sub, "out"), `${i}/${n}`));
  }));
  const sum = (xs: (number | null)[]) =>
    xs.every((x) => x !== null) ? (xs as number[]).reduce((a, b) => a + b, 0) : null;
  return {
    status: all.find((r) => r.status !== 0)?.status ?? 0,
    wallMs: Math.max(...all.map((r) => r.wallMs)),
    cpuMs: sum(all.map((r) => r.cpuMs)),
    mainCpuMs: sum(all.map((r) => r.mainCpuMs)),
    busiestOtherCpuMs: null,
    peakRssBytes: sum(all.map((r) => r.peakRssBytes)),
    load: [Math.min(...all.map((r) => r.load[0])), Math.max(...all.map((r) => r.load[1]))],
    stderr: all.map((r) => r.stderr).join(""),
  };
}

/**
 * Records, samples and tokens from the run's --stats file (`out.stats*.json` in its directory:
 * under `--shard` both commands add the shard tag to the name; shard manifests `*.shard.json` are
 * other files).
 */
function statsOf(c: Config, dir: string): { records: number; samples: number; tokens: number } {
  if (c.together) {
    const parts = Array.from(
      { length: c.together },
      (_, i) => statsOf({ ...c, together: undefined }, join(dir, `shard-${i}`)),
    );
    return {
      records: parts.reduce((a, p) => a + p.records, 0),
      samples: parts.reduce((a, p) => a + p.samples, 0),
      tokens: parts.reduce((a, p) => a + p.tokens, 0),
    };
  }
  const file = readdirSync(dir).find((f) => /^out\.stats.*\.json$/.test(f));
  if (!file) throw new Error(`Cannot read the stats of ${c.command} in ${dir}: no --stats file`);
  const s = JSON.parse(readFileSync(join(dir, file), "utf8"));
  if (c.command === "render-dataset") {
    const n = s.records.written + s.records.failed;
    return { records: n, samples: n, tokens: s.tokens.total };
  }
  return { records: s.records, samples: s.samples ?? s.records, tokens: s.tokens };
}

const runs = configs.map(() => [] as ChildRun[]);
const sizes = configs.map(() => ({ records: 0, samples: 0, tokens: 0 }));
let n = 0;
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < configs.length; i++) {
    const c = configs[i];
    const dir = join(work, `run-${n++}`);
    mkdirSync(dir);
    const run = c.together ? await runTogether(c, dir) : await runCli(args(c, join(dir, "out")));
    if (run.status !== 0) {
      throw new Error(`Cannot benchmark ${c.command}: exit ${run.status}\n${run.stderr}`);
    }
    sizes[i] = statsOf(c, dir);
    runs[i].push(run);
    rmSync(dir, { recursive: true, force: true });
    console.log(
      `round ${r + 1}/${rounds} ${c.command} workers ${c.workers}${
        c.shard ? ` shard ${c.shard}` : ""
      }: ${(run.wallMs / 1000).toFixed(1)} s wall, ${
        run.cpuMs === null ? "?" : (run.cpuMs / 1000).toFixed(1)
      } s CPU (main thread ${
        run.mainCpuMs === null ? "?" : (run.mainCpuMs / 1000).toFixed(1)
      } s), load ${run.load.map((l) => l.toFixed(1)).join(" → ")}`,
    );
  }
}

const maybeSpread = (xs: (number | null)[]) =>
  xs.every((x) => x !== null) ? spread(xs as number[]) : null;
const points: JobPoint[] = configs.map((c, i) => {
  const wall = spread(runs[i].map((x) => x.wallMs));
  const secs = wall.median / 1000;
  const peaks = runs[i].map((x) => x.peakRssBytes);
  return {
    command: c.command,
    workers: c.workers,
    shard: c.shard,
    backend: "cpu",
    ...sizes[i],
    wallMs: wall,
    cpuMs: maybeSpread(runs[i].map((x) => x.cpuMs)),
    mainCpuMs: maybeSpread(runs[i].map((x) => x.mainCpuMs)),
    recordsPerSecond: sizes[i].records / secs,
    samplesPerSecond: sizes[i].samples / secs,
    tokensPerSecond: sizes[i].tokens / secs,
    peakRssBytes: peaks.every((p) => p !== null) ? Math.max(...(peaks as number[])) : null,
  };
});
const loads = runs.flat().flatMap((x) => x.load).concat(loadavg()[0]);
const result: JobBenchRun = {
  version: 1,
  kind: "scaling",
  date: new Date().toISOString(),
  machine,
  input: {
    description: `${records} distinct corpus conversations (render) and ${records} completions ` +
      `as token ids (parse)`,
    records,
    bytes: statSync(conversations).size,
  },
  rounds,
  load: { min: Math.min(...loads), max: Math.max(...loads) },
  points,
};
console.log(
  `\ncommand         workers shard  records/s  tokens/s  speed-up  wall s (min-max)  CPU s  main CPU s  peak RSS`,
);
for (const p of points) {
  const up = speedup(p, points);
  console.log(
    [
      p.command.padEnd(15),
      String(p.workers).padStart(7),
      (p.shard ?? "-").padStart(5),
      p.recordsPerSecond.toFixed(0).padStart(10),
      `${(p.tokensPerSecond / 1e6).toFixed(2)}M`.padStart(9),
      (up === null ? "" : `${up.toFixed(2)}×`).padStart(9),
      `${(p.wallMs.median / 1000).toFixed(1)} (${(p.wallMs.min / 1000).toFixed(1)}-${
        (p.wallMs.max / 1000).toFixed(1)
      })`.padStart(17),
      (p.cpuMs ? (p.cpuMs.median / 1000).toFixed(1) : "?").padStart(6),
      (p.mainCpuMs ? (p.mainCpuMs.median / 1000).toFixed(1) : "?").padStart(11),
      (p.peakRssBytes === null ? "?" : `${(p.peakRssBytes / 2 ** 20).toFixed(0)} MiB`).padStart(9),
    ].join(" "),
  );
}
console.log(
  `load average (1 min) during the runs: ${result.load.min.toFixed(1)}–${
    result.load.max.toFixed(1)
  } on ${machine.cores} cores`,
);
if (jsonOut) {
  writeFileSync(jsonOut, JSON.stringify(result, null, 2) + "\n");
  console.log(`wrote ${jsonOut}`);
}
rmSync(work, { recursive: true, force: true });
