/**
 * `harmony bench`: throughput of encode, render, parse, render-dataset and parse-dataset on the
 * user's own data (or the bundled sample), per backend, worker count and batch size, with the
 * installed peers side by side; prints a table, writes `--json` (the {@link BenchRun} record) and
 * `--report FILE.html` (charts, see src/bench/report.ts). The measuring lives in src/bench.
 *
 * @module
 */

import type { Command } from "../commands.ts";
import type { Host } from "../host.ts";
import { UsageError } from "../args.ts";
import { BENCH_TASKS, type BenchRun, type BenchTask } from "../../bench/results.ts";

function list(value: unknown, what: string): string[] {
  const s = String(value ?? "").trim();
  if (s === "") throw new UsageError(`Cannot bench: --${what} is empty`);
  return s.split(",").map((x) => x.trim()).filter((x) => x !== "");
}

function positiveInts(value: unknown, what: string): number[] {
  return list(value, what).map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) {
      throw new UsageError(`Cannot bench: --${what} takes positive whole numbers, not "${x}"`);
    }
    return n;
  });
}

function pad(s: string, n: number, left = false): string {
  return left ? s.padStart(n) : s.padEnd(n);
}

/** The plain-text table of a run (one line per point). */
export function formatBenchTable(run: BenchRun): string {
  const m = run.machine;
  let out = `${run.input.records} records from ${run.input.files.join(", ")}\n` +
    `${m.cpu}, ${m.cores} cores, ${
      (m.memoryBytes / 2 ** 30).toFixed(0)
    } GiB, ${m.runtime} ${m.runtimeVersion}` +
    (m.gpuAdapter ? `, GPU ${m.gpuAdapter}${m.gpuSoftware ? " (software)" : ""}` : "") + "\n";
  for (const c of run.coldStart) {
    out += `cold start: ${c.what} ${c.ms.toFixed(0)} ms, +${
      (c.rssBytes / 2 ** 20).toFixed(0)
    } MiB\n`;
  }
  out +=
    `${pad("task", 15)}${pad("implementation", 24)}${pad("backend", 10)}${
      pad("workers", 8, true)
    }` +
    `${pad("batch", 8, true)}${pad("median ms", 11, true)}${pad("items/s", 11, true)}` +
    `${pad("tokens/s", 12, true)}${pad("MB/s", 9, true)}${pad("peak RSS", 10, true)}\n`;
  for (const p of run.points) {
    out += `${pad(p.task, 15)}${pad(p.implementation, 24)}${pad(p.backend, 10)}` +
      `${pad(String(p.workers), 8, true)}${
        pad(p.batchSize === null ? "all" : String(p.batchSize), 8, true)
      }` +
      `${pad(p.ms.median.toFixed(1), 11, true)}${pad(String(p.itemsPerSecond), 11, true)}` +
      `${pad(String(p.tokensPerSecond), 12, true)}${pad(p.mbPerSecond.toFixed(2), 9, true)}` +
      `${pad(`${(p.peakRssBytes / 2 ** 20).toFixed(0)} MiB`, 10, true)}\n`;
  }
  for (const p of run.missingPeers) out += `peer not installed: ${p.name} (${p.install})\n`;
  return out;
}

/** The `bench` command. */
export const command: Command = {
  spec: {
    name: "bench",
    summary: "Measure throughput on your data: encode, render, parse and the dataset jobs",
    description:
      "Each task runs on the records of INPUT files (any input render-dataset or parse-dataset\n" +
      "reads; default: examples/sample.jsonl), first --limit records, timed over --repeats runs\n" +
      "after a warm-up (min/median/max), with peak memory sampled. encode: every message text;\n" +
      "render: each conversation for completion; parse: the rendered conversations as completions;\n" +
      "render-dataset / parse-dataset: the real commands on the same records. --peers adds the\n" +
      "installed peers on the same inputs, outputs checked identical first. GPU figures include\n" +
      "upload and read-back; software adapters (llvmpipe, lavapipe) show correctness, not speed.",
    positionals: { name: "INPUT...", description: "Input files (default: the bundled sample)" },
    options: [
      {
        name: "input",
        type: "string",
        multiple: true,
        valueName: "FILE",
        description: "Input file (repeatable; same as a positional INPUT)",
      },
      {
        name: "limit",
        type: "string",
        valueName: "N",
        default: "20000",
        description: "Records to use at most",
      },
      {
        name: "tasks",
        type: "string",
        valueName: "LIST",
        default: BENCH_TASKS.join(","),
        description: "Comma-separated tasks",
      },
      {
        name: "backend",
        type: "string",
        choices: ["cpu", "gpu", "both"],
        default: "cpu",
        description: "Backends to measure",
      },
      {
        name: "workers",
        type: "string",
        valueName: "LIST",
        default: "1",
        description: "Worker counts for the dataset tasks, e.g. 1,2,4",
      },
      {
        name: "batch-sizes",
        type: "string",
        valueName: "LIST",
        description: "Texts per batch for encode/render/parse, e.g. 100,1000,10000 (default: all)",
      },
      { name: "peers", type: "boolean", description: "Also run the installed peers" },
      {
        name: "repeats",
        type: "string",
        valueName: "N",
        default: "3",
        description: "Timed runs per point",
      },
      {
        name: "json",
        type: "string",
        valueName: "FILE",
        description: "Write the run as JSON to FILE; `-` prints one JSON line per point",
      },
      {
        name: "from",
        type: "string",
        multiple: true,
        valueName: "RUN.json",
        description: "Measure nothing: merge saved --json runs (repeatable) into one table/report",
      },
      {
        name: "report",
        type: "string",
        valueName: "FILE.html",
        description: "Write a self-contained HTML report with charts",
      },
    ],
    examples: [
      "harmony bench",
      "harmony bench --input data/train.jsonl --workers 1,2,4 --report bench.html",
      "harmony bench --backend both --batch-sizes 100,1000,10000 --json -",
      "harmony bench --peers --tasks encode,render,parse",
    ],
  },
  async run(args, host) {
    const tasks = list(args.options.tasks, "tasks");
    for (const t of tasks) {
      if (!(BENCH_TASKS as readonly string[]).includes(t)) {
        throw new UsageError(
          `Cannot bench: unknown task "${t}" (tasks: ${BENCH_TASKS.join(", ")})`,
        );
      }
    }
    const [limit] = positiveInts(args.options.limit, "limit");
    const [repeats] = positiveInts(args.options.repeats, "repeats");
    const workers = positiveInts(args.options.workers, "workers");
    const batchSizes = args.options["batch-sizes"] === undefined
      ? null
      : positiveInts(args.options["batch-sizes"], "batch-sizes");
    const inputs = [...args.positionals, ...(args.options.input as string[] | undefined ?? [])];
    const from = args.options.from as string[] | undefined ?? [];
    const run = from.length ? await mergeRuns(from) : await measure(args.options, host, {
      inputs,
      limit,
      repeats,
      tasks: tasks as BenchTask[],
      workers,
      batchSizes,
    });
    const json = args.options.json as string | undefined;
    if (json === "-") {
      for (const p of run.points) await host.stdout.write(JSON.stringify(p) + "\n");
    } else {
      await host.stdout.write(formatBenchTable(run));
      if (json !== undefined) {
        const { writeFile } = await import("node:fs/promises");
        await writeFile(json, JSON.stringify(run, null, 2) + "\n");
      }
    }
    const report = args.options.report as string | undefined;
    if (report !== undefined) {
      const { writeFile } = await import("node:fs/promises");
      const { renderReport } = await import("../../bench/report.ts");
      await writeFile(report, renderReport(run));
      await host.stderr.write(`harmony bench: report written to ${report}\n`);
    }
    return run.points.length > 0 ? 0 : 1;
  },
};

/** Reads saved runs and merges them: the first run's machine and input, every run's points. */
async function mergeRuns(files: readonly string[]): Promise<BenchRun> {
  const { readFile } = await import("node:fs/promises");
  const runs: BenchRun[] = [];
  for (const f of files) {
    let run: BenchRun;
    try {
      run = JSON.parse(await readFile(f, "utf8")) as BenchRun;
    } catch (e) {
      throw new UsageError(
        `Cannot read bench run "${f}": ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    if (run?.version !== 1 || !Array.isArray(run.points)) {
      throw new UsageError(`Cannot read bench run "${f}": not a harmony bench --json file`);
    }
    runs.push(run);
  }
  const [first, ...rest] = runs;
  const missing = new Map(first.missingPeers.map((p) => [p.name, p]));
  for (const r of rest) for (const p of r.missingPeers) missing.set(p.name, p);
  return {
    ...first,
    coldStart: runs.flatMap((r) => r.coldStart),
    points: runs.flatMap((r) => r.points),
    missingPeers: [...missing.values()],
  };
}

interface MeasureArgs {
  inputs: string[];
  limit: number;
  repeats: number;
  tasks: BenchTask[];
  workers: number[];
  batchSizes: number[] | null;
}

async function measure(
  options: Record<string, unknown>,
  host: Host,
  m: MeasureArgs,
): Promise<BenchRun> {
  const backendArg = String(options.backend);
  const { COMMANDS } = await import("../commands.ts");
  const optionNames = async (name: string) =>
    new Set((await COMMANDS[name].load()).spec.options.map((o) => o.name));
  const { runBench } = await import("../../bench/run.ts");
  const { main } = await import("../main.ts");
  const { memoryHost } = await import("../host.ts");
  return await runBench({
    ...m,
    backends: backendArg === "both" ? ["cpu", "gpu"] : [backendArg as "cpu" | "gpu"],
    peers: options.peers === true,
    commandOptions: {
      renderDataset: await optionNames("render-dataset"),
      parseDataset: await optionNames("parse-dataset"),
    },
    runCommand: async (argv) => {
      const h = memoryHost("", {});
      const code = await main(argv, h);
      return { code, stderr: h.err() };
    },
    onNote: (line) => void host.stderr.write(`harmony bench: ${line}\n`),
  });
}
