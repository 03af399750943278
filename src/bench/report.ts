/**
 * The HTML report of `harmony bench --report FILE.html`: one self-contained page (inline CSS and
 * SVG, no script, no network) with four charts — throughput per task and backend, scaling against
 * workers with the ideal line, GPU against CPU over batch size, ours against the peers — and the
 * raw figures in a table beneath. Readable in light and dark mode (`prefers-color-scheme`).
 *
 * @module
 */

import type { BenchPoint, BenchRun } from "./results.ts";
import { barChart, escapeXml, lineChart, type Series, shortNumber } from "./svg.ts";

const CSS = `
:root { color-scheme: light dark; --fg: #1d2329; --muted: #5b6670; --bg: #ffffff; --card: #f5f7f9;
  --grid: #dde3e8; --c0: #2f6fdf; --c1: #e3761c; --c2: #2a9d5c; --c3: #b1399e; --c4: #8a6d1f; --c5: #4aa3b8; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ec; --muted: #9aa5af; --bg: #14181c;
  --card: #1d2328; --grid: #33404a; --c0: #6ea2ff; --c1: #ffa45c; --c2: #5fd08f; --c3: #e57bd3;
  --c4: #d9b54e; --c5: #7fd3e6; } }
body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 24px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.muted { color: var(--muted); } .grid2 { display: flex; flex-wrap: wrap; gap: 16px; }
figure { background: var(--card); border-radius: 8px; padding: 8px; margin: 0; }
figcaption { color: var(--muted); max-width: 640px; padding: 4px 8px; }
.chart text { fill: var(--fg); font-family: system-ui, sans-serif; font-size: 12px; } .chart .title { font-weight: 600; font-size: 13px; }
.chart .tick, .chart .label { fill: var(--muted); } .chart .grid { stroke: var(--grid); stroke-width: 1; }
.chart .axis { stroke: var(--muted); } .chart .line { fill: none; stroke-width: 2.5; }
.chart .ideal { fill: none; stroke: var(--muted); stroke-dasharray: 5 4; stroke-width: 1.5; }
${
  [0, 1, 2, 3, 4, 5].map((i) =>
    `.chart .s${i} { fill: var(--c${i}); } .chart .line.s${i} { stroke: var(--c${i}); fill: none; }`
  ).join("\n")
}
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--grid); text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2), th:nth-child(3), td:nth-child(3) { text-align: left; }
.note { background: var(--card); border-radius: 8px; padding: 12px; max-width: 620px; }
`;

/** Our points at one worker, largest batch per task and backend: the headline figures. */
function headline(points: readonly BenchPoint[]): BenchPoint[] {
  const best = new Map<string, BenchPoint>();
  for (const p of points) {
    if (p.implementation !== "ours" || p.workers !== 1) continue;
    const key = `${p.task}\u0000${p.backend}`;
    const prev = best.get(key);
    if (!prev || (p.batchSize ?? 0) > (prev.batchSize ?? 0)) best.set(key, p);
  }
  return [...best.values()];
}

function uniq<T>(xs: Iterable<T>): T[] {
  return [...new Set(xs)];
}

function throughputChart(points: readonly BenchPoint[]): string | null {
  const h = headline(points);
  if (h.length === 0) return null;
  const tasks = uniq(h.map((p) => p.task));
  const backends = uniq(h.map((p) => p.backend));
  const series: Series[] = backends.map((b) => ({
    name: b,
    values: tasks.map((t) =>
      h.find((p) => p.task === t && p.backend === b)?.tokensPerSecond ?? null
    ),
  }));
  return barChart(tasks, series, { title: "Throughput per task and backend", unit: "tokens/s" });
}

function scalingChart(points: readonly BenchPoint[]): string | null {
  const ds = points.filter((p) => p.implementation === "ours" && p.task.endsWith("-dataset"));
  const workers = uniq(ds.map((p) => p.workers)).sort((a, b) => a - b);
  if (workers.length < 2) return null;
  const keys = uniq(ds.map((p) => `${p.task} · ${p.backend}`));
  const series: Series[] = keys.map((k) => {
    const mine = ds.filter((p) => `${p.task} · ${p.backend}` === k);
    const base = mine.find((p) => p.workers === workers[0]);
    return {
      name: k,
      values: workers.map((w) => {
        const p = mine.find((q) => q.workers === w);
        return p && base ? p.itemsPerSecond / base.itemsPerSecond : null;
      }),
    };
  });
  return lineChart(workers, series, {
    title: "Scaling against workers",
    unit: `speed-up over ${workers[0]} worker${workers[0] === 1 ? "" : "s"}`,
    xLabel: "workers",
    ideal: { name: "ideal", values: workers.map((w) => w / workers[0]) },
  });
}

function batchChart(points: readonly BenchPoint[]): string | null {
  const enc = points.filter((p) =>
    p.implementation === "ours" && p.batchSize !== null && p.workers === 1
  );
  const sizes = uniq(enc.map((p) => p.batchSize as number)).sort((a, b) => a - b);
  const backends = uniq(enc.map((p) => p.backend));
  if (sizes.length < 2 || backends.length < 1) return null;
  const tasks = uniq(enc.map((p) => p.task));
  const series: Series[] = [];
  for (const t of tasks) {
    for (const b of backends) {
      const mine = enc.filter((p) => p.task === t && p.backend === b);
      if (mine.length === 0) continue;
      series.push({
        name: `${t} · ${b}`,
        values: sizes.map((s) => mine.find((p) => p.batchSize === s)?.mbPerSecond ?? null),
      });
    }
  }
  return lineChart(sizes, series, {
    title: "GPU and CPU against batch size",
    unit: "MB/s of input",
    xLabel: "texts per batch (log scale)",
    logX: true,
  });
}

function peersChart(points: readonly BenchPoint[]): string | null {
  const peers = points.filter((p) => p.implementation !== "ours");
  if (peers.length === 0) return null;
  const tasks = uniq(peers.map((p) => p.task));
  const impls = ["ours", ...uniq(peers.map((p) => p.implementation))];
  const series: Series[] = impls.map((impl) => ({
    name: impl,
    values: tasks.map((t) => {
      const candidates = points.filter((p) =>
        p.task === t && p.implementation === impl && p.workers === 1 &&
        (impl !== "ours" || p.backend === "cpu")
      );
      return candidates.length ? Math.max(...candidates.map((p) => p.mbPerSecond)) : null;
    }),
  }));
  return barChart(tasks, series, {
    title: "Ours and the peers, same input",
    unit: "MB/s of input",
    // Over each peer's bar: how many times faster ours is.
    barLabel: (si, ci, v) => {
      const ours = series[0].values[ci];
      return si === 0 || ours === null || !(v > 0) ? null : `${(ours / v).toFixed(1)}×`;
    },
  });
}

/** How many times faster ours (CPU, one worker, best batch size) is than a peer, by MB/s. */
function ratioToOurs(p: BenchPoint, all: readonly BenchPoint[]): string {
  if (p.implementation === "ours" || !(p.mbPerSecond > 0)) return "";
  const ours = all.filter((q) =>
    q.task === p.task && q.implementation === "ours" && q.backend === "cpu" && q.workers === 1
  );
  if (ours.length === 0) return "";
  return `${(Math.max(...ours.map((q) => q.mbPerSecond)) / p.mbPerSecond).toFixed(1)}×`;
}

function table(run: BenchRun): string {
  const head = [
    "task",
    "implementation",
    "backend",
    "workers",
    "batch",
    "items",
    "tokens",
    "ms min / median / max",
    "items/s",
    "tokens/s",
    "MB/s",
    "peak RSS",
    "ours ×",
  ];
  let rows = "";
  for (const p of run.points) {
    const cells = [
      p.task,
      p.implementation + (p.checked ? " ✓" : ""),
      p.backend,
      String(p.workers),
      p.batchSize === null ? "" : String(p.batchSize),
      String(p.items),
      String(p.tokens),
      `${p.ms.min.toFixed(1)} / ${p.ms.median.toFixed(1)} / ${p.ms.max.toFixed(1)}`,
      shortNumber(p.itemsPerSecond),
      shortNumber(p.tokensPerSecond),
      p.mbPerSecond.toFixed(2),
      `${(p.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
      ratioToOurs(p, run.points),
    ];
    rows += `<tr>${cells.map((c) => `<td>${escapeXml(c)}</td>`).join("")}</tr>`;
  }
  return `<table><thead><tr>${head.map((h) => `<th>${escapeXml(h)}</th>`).join("")}</tr></thead>` +
    `<tbody>${rows}</tbody></table>`;
}

function figure(svg: string | null, caption: string, missing: string): string {
  if (svg === null) return `<figure><p class="note">${escapeXml(missing)}</p></figure>`;
  return `<figure>${svg}<figcaption>${escapeXml(caption)}</figcaption></figure>`;
}

/**
 * Renders a bench run as one self-contained HTML page.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { renderReport } from "./report.ts";
 * const html = renderReport({
 *   version: 1,
 *   date: "2026-12-01T00:00:00Z",
 *   machine: {
 *     cpu: "test", cores: 2, memoryBytes: 2 ** 30, runtime: "bun", runtimeVersion: "1",
 *     os: "linux x64", gpuAdapter: null, gpuSoftware: null,
 *   },
 *   input: { files: ["x.jsonl"], records: 1, bytes: 10 },
 *   coldStart: [],
 *   points: [],
 *   missingPeers: [],
 * });
 * ok(html.startsWith("<!doctype html>") && !html.includes("<script"));
 * ```
 */
export function renderReport(run: BenchRun): string {
  const m = run.machine;
  const gpu = m.gpuAdapter
    ? `${m.gpuAdapter}${m.gpuSoftware ? " (software adapter)" : ""}`
    : "none";
  const facts = `${m.cpu}, ${m.cores} cores, ${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB · ` +
    `${m.runtime} ${m.runtimeVersion} · ${m.os} · GPU: ${gpu}`;
  const cold = run.coldStart.map((c) =>
    `${c.what} ${c.ms.toFixed(0)} ms (+${(c.rssBytes / 2 ** 20).toFixed(0)} MiB)`
  ).join(" · ");
  const missing = run.missingPeers.length
    ? `<p class="muted">Peers not installed: ${
      run.missingPeers.map((p) => `${escapeXml(p.name)} (<code>${escapeXml(p.install)}</code>)`)
        .join(", ")
    }</p>`
    : "";
  const soft = m.gpuSoftware
    ? `<p class="muted">The GPU here is a software adapter: its figures show correctness and host cost, not GPU speed.</p>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>harmony bench · ${escapeXml(run.date)}</title><style>${CSS}</style></head>
<body>
<h1>harmony bench</h1>
<p class="muted">${escapeXml(run.date)} · ${escapeXml(facts)}</p>
<p>Input: ${escapeXml(run.input.files.join(", "))} — ${run.input.records} records, ${
    (run.input.bytes / 1e6).toFixed(2)
  } MB. Cold start: ${escapeXml(cold || "not measured")}.</p>
${soft}${missing}
<div class="grid2">
${
    figure(
      throughputChart(run.points),
      "Tokens per second of each task on each backend (one worker, largest batch): higher is better.",
      "No throughput points were measured.",
    )
  }
${
    figure(
      scalingChart(run.points),
      "Dataset jobs' records per second relative to one worker; the dashed line is perfect scaling.",
      "Scaling needs two or more worker counts: run with --workers 1,2,4.",
    )
  }
${
    figure(
      batchChart(run.points),
      "Input MB per second against texts per batch: where the GPU overtakes the CPU, if it does.",
      "Batch-size curves need two or more sizes: run with --batch-sizes 100,1000,10000.",
    )
  }
${
    figure(
      peersChart(run.points),
      "The same input through ours (CPU, one worker) and each installed peer; outputs checked identical first.",
      "No peers were measured: run with --peers.",
    )
  }
</div>
<h2>All figures</h2>
${table(run)}
</body></html>
`;
}
