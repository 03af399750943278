/**
 * Runs `harmony bench`: every requested task on every requested configuration (backend, workers,
 * batch size), each timed over `repeats` runs after a warm-up, with peak memory sampled, plus the
 * installed peers on the same input with outputs checked identical before timing. The result is a
 * {@link BenchRun}, which `--json`, `--report` and the README tables are all made from.
 *
 * In-process tasks (`encode`, `render`, `parse`) go through the engine's batch API; the dataset
 * tasks run the real `render-dataset` / `parse-dataset` commands through the `runCommand` the CLI
 * passes in, on the selected records written to a temporary folder.
 *
 * @module
 */

import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { messageToJson } from "../chat/json.ts";
import { loadHarmonyEncoding } from "../encoding/mod.ts";
import { createEngine, type Engine } from "../engine/mod.ts";
import { batchesOf, type BenchInput, loadBenchInput, messageTexts } from "./inputs.ts";
import { machineFacts, rssBytes, RssSampler } from "./machine.ts";
import { loadEncodePeers, loadHarmonyPeer, type MissingPeer } from "./peers.ts";
import {
  type BenchPoint,
  type BenchRun,
  type BenchTask,
  type ColdStart,
  spread,
} from "./results.ts";

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Input files (default: the bundled sample). */
  inputs?: readonly string[];
  /** Records to use at most (default 20,000). */
  limit?: number;
  /** Tasks (default: all five). */
  tasks?: readonly BenchTask[];
  /** Backends (default `["cpu"]`). */
  backends?: readonly ("cpu" | "gpu")[];
  /** Worker counts for the dataset tasks (default `[1]`). */
  workers?: readonly number[];
  /** Texts/conversations per batch for encode, render, parse (default: one batch of all). */
  batchSizes?: readonly number[] | null;
  /** Run the installed peers too (default false). */
  peers?: boolean;
  /** Timed repeats per point (default 3). */
  repeats?: number;
  /**
   * Runs a CLI command (`["render-dataset", …]`) in this process and returns its exit code and
   * standard error. Needed for the dataset tasks; without it they are skipped.
   */
  runCommand?: (args: string[]) => Promise<{ code: number; stderr: string }>;
  /**
   * The option names `render-dataset` and `parse-dataset` accept (from their specs), so flags this
   * build lacks (`--workers`, `--progress-every`) are not passed. Default: none of those.
   */
  commandOptions?: { renderDataset: ReadonlySet<string>; parseDataset: ReadonlySet<string> };
  /** Progress and notes (one line each, no newline). */
  onNote?: (line: string) => void;
}

interface Counts {
  /** Host milliseconds of the repeat, or null when unknown. */
  hostMs?: number | null;
  items: number;
  tokens: number;
  inputBytes: number;
  dispatches: number;
  bytesMoved: number;
  gpuTimeNs: number;
  backend: string;
}

const utf8 = new TextEncoder();

function utf8Bytes(texts: readonly string[]): number {
  let n = 0;
  for (const t of texts) n += utf8.encode(t).length;
  return n;
}

/** Times `run` over `repeats` runs after one warm-up; the last run's counts describe a repeat. */
async function measure(
  task: BenchTask,
  implementation: string,
  workers: number,
  batchSize: number | null,
  repeats: number,
  run: () => Promise<Counts>,
): Promise<BenchPoint> {
  const sampler = new RssSampler();
  sampler.start();
  try {
    await run();
    const ms: number[] = [];
    let counts: Counts | undefined;
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      counts = await run();
      ms.push(performance.now() - t0);
      sampler.sample();
    }
    const c = counts as Counts;
    const s = spread(ms);
    const sec = s.median / 1000;
    const mb = c.inputBytes / 1e6;
    const perMB = (v: number) => Math.round((v / mb) * 100) / 100;
    const hostMs = c.hostMs === undefined ? (c.backend === "cpu" ? s.median : null) : c.hostMs;
    return {
      task,
      implementation,
      backend: c.backend,
      workers,
      batchSize,
      items: c.items,
      tokens: c.tokens,
      inputBytes: c.inputBytes,
      repeats,
      ms: s,
      itemsPerSecond: Math.round(c.items / sec),
      tokensPerSecond: Math.round(c.tokens / sec),
      mbPerSecond: Math.round((c.inputBytes / 1e6 / sec) * 100) / 100,
      wallMsPerMB: perMB(s.median),
      hostMsPerMB: hostMs === null ? null : perMB(hostMs),
      deviceMsPerMB: c.gpuTimeNs > 0 ? perMB(c.gpuTimeNs / 1e6) : null,
      peakRssBytes: sampler.stop(),
      gpu: c.dispatches > 0 || c.bytesMoved > 0
        ? {
          dispatches: c.dispatches,
          bytesMoved: c.bytesMoved,
          deviceMs: c.gpuTimeNs > 0 ? c.gpuTimeNs / 1e6 : null,
        }
        : null,
    };
  } finally {
    sampler.stop();
  }
}

/** Describes which backends ran the batches of one repeat: `cpu`, `gpu`, or `cpu 3 · gpu 2`. */
function backendsOf(kinds: readonly string[]): string {
  const n = new Map<string, number>();
  for (const k of kinds) n.set(k, (n.get(k) ?? 0) + 1);
  if (n.size === 1) return kinds[0];
  return [...n].map(([k, v]) => `${k} ${v}`).join(" · ");
}

function engineTask(
  engine: Engine,
  batches: readonly (() => Promise<{ tokens: number }>)[],
  items: number,
  inputBytes: number,
): () => Promise<Counts> {
  return async () => {
    let tokens = 0, dispatches = 0, bytesMoved = 0, gpuTimeNs = 0;
    let hostMs: number | null = 0;
    const kinds: string[] = [];
    for (const b of batches) {
      const t0 = performance.now();
      tokens += (await b()).tokens;
      const wall = performance.now() - t0;
      const s = engine.lastStats();
      // The CPU backend's host time is its whole time; the GPU backend reports its own.
      const host = s.backend === "cpu" ? wall : s.hostMs;
      hostMs = hostMs === null || host === undefined ? null : hostMs + host;
      kinds.push(s.backend);
      dispatches += s.dispatches;
      bytesMoved += s.bytesMoved;
      gpuTimeNs += s.gpuTimeNs;
    }
    return {
      items,
      tokens,
      inputBytes,
      dispatches,
      bytesMoved,
      gpuTimeNs,
      hostMs,
      backend: backendsOf(kinds),
    };
  };
}

async function engineTasks(
  engine: Engine,
  input: BenchInput,
  tasks: ReadonlySet<BenchTask>,
  batchSizes: readonly (number | null)[],
  repeats: number,
  completions: Uint32Array[],
): Promise<BenchPoint[]> {
  const points: BenchPoint[] = [];
  const texts = messageTexts(input.conversations);
  const textBytes = utf8Bytes(texts);
  const convos = input.conversations;
  const completionBytes = completions.reduce((n, c) => n + c.length * 4, 0);
  // One entry per in-process task: its items and how one batch of them is run.
  const jobs: Array<{
    task: BenchTask;
    count: number;
    bytes: number;
    batches: (size: number | null) => Array<() => Promise<{ tokens: number }>>;
  }> = [
    {
      task: "encode",
      count: texts.length,
      bytes: textBytes,
      batches: (size) =>
        batchesOf(texts, size).map((b) => async () => {
          const r = await engine.encodeBatch(b, { disallowedSpecial: [] });
          return { tokens: r.tokens.length };
        }),
    },
    {
      task: "render",
      count: convos.length,
      bytes: textBytes,
      batches: (size) =>
        batchesOf(convos, size).map((b) => async () => {
          const items = await engine.renderBatch(b, { mode: "completion" });
          let tokens = 0;
          for (const it of items) if (it.tokens) tokens += it.tokens.length;
          return { tokens };
        }),
    },
    {
      task: "parse",
      count: completions.length,
      bytes: completionBytes,
      batches: (size) =>
        batchesOf(completions, size).map((b) => async () => {
          await engine.parseBatch(b, { role: null });
          let tokens = 0;
          for (const c of b) tokens += c.length;
          return { tokens };
        }),
    },
  ];
  for (const size of batchSizes) {
    for (const job of jobs) {
      if (!tasks.has(job.task) || job.count === 0) continue;
      const run = engineTask(engine, job.batches(size), job.count, job.bytes);
      points.push(await measure(job.task, "ours", 1, size, repeats, run));
    }
  }
  return points;
}

async function peerPoints(
  input: BenchInput,
  tasks: ReadonlySet<BenchTask>,
  repeats: number,
  completions: Uint32Array[],
  note: (line: string) => void,
): Promise<{ points: BenchPoint[]; missing: MissingPeer[] }> {
  const points: BenchPoint[] = [];
  const missing: MissingPeer[] = [];
  const encoding = await loadHarmonyEncoding("HarmonyGptOss");
  const texts = messageTexts(input.conversations);
  const textBytes = utf8Bytes(texts);
  const idle = { dispatches: 0, bytesMoved: 0, gpuTimeNs: 0, backend: "cpu" };
  if (tasks.has("encode") && texts.length) {
    const loaded = await loadEncodePeers();
    missing.push(...loaded.missing);
    const ours = texts.map((t) => encoding.tokenizer.encodeOrdinary(t));
    for (const peer of loaded.peers) {
      const bad = texts.findIndex((t, i) => !sameTokens(peer.encode(t), ours[i]));
      if (bad >= 0) {
        note(`${peer.name}: text ${bad} encodes differently from ours; not timed`);
        continue;
      }
      const p = await measure("encode", peer.name, 1, null, repeats, () => {
        let tokens = 0;
        for (const t of texts) tokens += peer.encode(t).length;
        return Promise.resolve({ items: texts.length, tokens, inputBytes: textBytes, ...idle });
      });
      points.push({ ...p, checked: true });
    }
  }
  if ((tasks.has("render") || tasks.has("parse")) && input.conversations.length) {
    const loaded = await loadHarmonyPeer();
    if (loaded.missing) missing.push(loaded.missing);
    const ref = loaded.peer;
    if (ref && tasks.has("render")) {
      const json = input.conversations.map((c) => ({ messages: c.messages.map(messageToJson) }));
      const same = input.conversations.every((c, i) =>
        sameTokens(
          ref.renderConversationForCompletion(json[i], "assistant", { auto_drop_analysis: true }),
          encoding.renderConversationForCompletion(c, "assistant"),
        )
      );
      if (!same) note("openai-harmony: a conversation renders differently from ours; not timed");
      else {
        const p = await measure("render", "openai-harmony (WASM)", 1, null, repeats, () => {
          let tokens = 0;
          for (const j of json) {
            tokens += ref.renderConversationForCompletion(j, "assistant", {
              auto_drop_analysis: true,
            }).length;
          }
          return Promise.resolve({
            items: json.length,
            tokens,
            inputBytes: textBytes,
            ...idle,
          });
        });
        points.push({ ...p, checked: true });
      }
    }
    if (ref && tasks.has("parse") && completions.length) {
      const same = completions.every((t) =>
        JSON.stringify(JSON.parse(ref.parseMessagesFromCompletionTokens(t, null))) ===
          JSON.stringify(encoding.parseMessagesFromCompletionTokens(t, null).map(messageToJson))
      );
      if (!same) note("openai-harmony: a completion parses differently from ours; not timed");
      else {
        const bytes = completions.reduce((n, c) => n + c.length * 4, 0);
        const p = await measure("parse", "openai-harmony (WASM)", 1, null, repeats, () => {
          let tokens = 0;
          for (const t of completions) {
            ref.parseMessagesFromCompletionTokens(t, null);
            tokens += t.length;
          }
          return Promise.resolve({ items: completions.length, tokens, inputBytes: bytes, ...idle });
        });
        points.push({ ...p, checked: true });
      }
    }
  }
  return { points, missing };
}

function sameTokens(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function datasetPoints(
  input: BenchInput,
  tasks: ReadonlySet<BenchTask>,
  backends: readonly ("cpu" | "gpu")[],
  workers: readonly number[],
  repeats: number,
  options: BenchOptions,
  completions: Uint32Array[],
  note: (line: string) => void,
): Promise<BenchPoint[]> {
  const runCommand = options.runCommand;
  if (!runCommand) return [];
  const points: BenchPoint[] = [];
  const dir = await mkdtemp(join(tmpdir(), "harmony-bench-"));
  try {
    const records = join(dir, "records.jsonl");
    await writeFile(records, input.lines.join("\n") + "\n");
    const evals = join(dir, "completions.jsonl");
    const evalLines = input.conversations.length
      ? completions.map((t) => JSON.stringify({ tokens: Array.from(t) }))
      : input.lines;
    await writeFile(evals, evalLines.join("\n") + "\n");
    const evalBytes = (await stat(evals)).size;
    let run = 0;
    const none = new Set<string>();
    const renderFlags = options.commandOptions?.renderDataset ?? none;
    const parseFlags = options.commandOptions?.parseDataset ?? none;
    // Each command gets the worker counts only if it takes --workers (else it runs once, as 1).
    const countsFor = (name: string, flags: ReadonlySet<string>) => {
      if (flags.has("workers")) return workers;
      if (workers.some((w) => w !== 1)) note(`${name} takes no --workers: measured with 1`);
      return [1];
    };
    const renderWorkers = tasks.has("render-dataset")
      ? countsFor("render-dataset", renderFlags)
      : [];
    const parseWorkers = tasks.has("parse-dataset") ? countsFor("parse-dataset", parseFlags) : [];
    const workerCounts = [...new Set([...renderWorkers, ...parseWorkers])];
    // Runs one dataset command with the point's backend and workers (and no log progress),
    // where the command takes those flags; a failure of the run as a whole is an error.
    const command = async (
      name: string,
      flags: ReadonlySet<string>,
      args: string[],
      backend: string,
      w: number,
    ) => {
      const r = await runCommand([
        name,
        ...args,
        "--backend",
        backend,
        ...(flags.has("progress-every") ? ["--progress-every", "0"] : []),
        ...(flags.has("workers") ? ["--workers", String(w)] : []),
      ]);
      if (r.code > 1) throw new Error(`${name} failed (exit ${r.code}): ${r.stderr.trim()}`);
      return backendFromSummary(r.stderr, backend);
    };
    const noGpu = { dispatches: 0, bytesMoved: 0, gpuTimeNs: 0 };
    for (const backend of backends) {
      for (const w of workerCounts) {
        if (renderWorkers.includes(w) && input.conversations.length) {
          points.push(
            await measure("render-dataset", "ours", w, null, repeats, async () => {
              const prefix = join(dir, `r${run++}`);
              const ran = await command(
                "render-dataset",
                renderFlags,
                [
                  records,
                  "--out",
                  prefix,
                  "--output-format",
                  "megatron",
                ],
                backend,
                w,
              );
              const tokens = (await stat(`${prefix}.bin`)).size / 4;
              const failed = await lineCount(`${prefix}.errors.jsonl`);
              await rmPrefix(dir, prefix);
              return {
                items: input.lines.length - failed,
                tokens,
                inputBytes: input.linesBytes,
                ...noGpu,
                backend: ran,
              };
            }),
          );
        }
        if (parseWorkers.includes(w) && evalLines.length) {
          points.push(
            await measure("parse-dataset", "ours", w, null, repeats, async () => {
              const out = join(dir, `p${run++}.jsonl`);
              const statsFile = `${out}.stats.json`;
              const ran = await command(
                "parse-dataset",
                parseFlags,
                [
                  evals,
                  "--out",
                  out,
                  "--stats",
                  statsFile,
                ],
                backend,
                w,
              );
              const stats = JSON.parse(await readFile(statsFile, "utf8")) as {
                records: number;
                tokens: number;
              };
              await rm(out, { force: true });
              await rm(statsFile, { force: true });
              return {
                items: stats.records,
                tokens: stats.tokens,
                inputBytes: evalBytes,
                ...noGpu,
                backend: ran,
              };
            }),
          );
        }
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return points;
}

async function lineCount(path: string): Promise<number> {
  try {
    const text = await readFile(path, "utf8");
    return text.split("\n").filter((l) => l.length > 0).length;
  } catch {
    return 0;
  }
}

async function rmPrefix(dir: string, prefix: string): Promise<void> {
  const { readdir } = await import("node:fs/promises");
  const base = prefix.slice(dir.length + 1);
  for (const f of await readdir(dir)) {
    if (f === base || f.startsWith(base + ".") || f.startsWith(base + "_")) {
      await rm(join(dir, f), { recursive: true, force: true });
    }
  }
}

/** The backend a dataset command says it used (`backend: …` in its summary), else the asked one. */
function backendFromSummary(stderr: string, asked: string): string {
  const m = /\bbackend[:=]\s*([^,;\n]+)/.exec(stderr);
  return m ? m[1].trim() : asked;
}

/**
 * Runs the benchmark.
 *
 * @throws when an input cannot be read, or a dataset command fails outright.
 */
export async function runBench(options: BenchOptions = {}): Promise<BenchRun> {
  const note = options.onNote ?? (() => {});
  const tasks = new Set<BenchTask>(
    options.tasks ?? ["encode", "render", "parse", "render-dataset", "parse-dataset"],
  );
  const backends = options.backends ?? ["cpu"];
  const repeats = Math.max(1, options.repeats ?? 3);
  const batchSizes = options.batchSizes?.length ? options.batchSizes : [null];
  const date = new Date().toISOString();
  const machine = machineFacts();
  const input = await loadBenchInput(options.inputs ?? [], options.limit ?? 20_000);
  note(
    `${input.lines.length} records (${input.conversations.length} conversations) from ${
      input.files.join(", ")
    }`,
  );
  const coldStart: ColdStart[] = [];
  let rss0 = rssBytes(), t0 = performance.now();
  const encoding = await loadHarmonyEncoding("HarmonyGptOss");
  coldStart.push({ what: "vocabulary", ms: performance.now() - t0, rssBytes: rssBytes() - rss0 });
  const completions = input.conversations.map((c) => encoding.renderConversation(c));
  const points: BenchPoint[] = [];
  for (const backend of backends) {
    rss0 = rssBytes();
    t0 = performance.now();
    let engine: Engine;
    try {
      engine = await createEngine({ backend, timestamps: backend === "gpu" });
      if (backend === "gpu") {
        await engine.encodeBatch(["warm up the GPU tables and pipelines"], {
          disallowedSpecial: [],
        });
        const info = engine.info();
        machine.gpuAdapter = info.adapter ?? null;
        machine.gpuSoftware = info.software ?? null;
        coldStart.push({ what: "gpu", ms: performance.now() - t0, rssBytes: rssBytes() - rss0 });
      }
    } catch (e) {
      note(`${backend}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    try {
      note(`measuring encode/render/parse on ${backend}`);
      points.push(...await engineTasks(engine, input, tasks, batchSizes, repeats, completions));
    } finally {
      engine.destroy();
    }
  }
  const usable = backends.filter((b) => b === "cpu" || machine.gpuAdapter !== null);
  if (tasks.has("render-dataset") || tasks.has("parse-dataset")) note("measuring dataset jobs");
  points.push(
    ...await datasetPoints(
      input,
      tasks,
      usable,
      options.workers ?? [1],
      repeats,
      options,
      completions,
      note,
    ),
  );
  let missingPeers: MissingPeer[] = [];
  if (options.peers) {
    note("measuring peers");
    const r = await peerPoints(input, tasks, repeats, completions, note);
    points.push(...r.points);
    missingPeers = r.missing;
  }
  return {
    version: 1,
    date,
    machine,
    input: { files: input.files, records: input.lines.length, bytes: input.fileBytes },
    coldStart,
    points,
    missingPeers,
  };
}
