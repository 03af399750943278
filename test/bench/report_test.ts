import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderReport } from "../../src/bench/report.ts";
import { barChart, lineChart } from "../../src/bench/svg.ts";
import { syntheticRun } from "./_run.ts";

const CHART_TITLES = [
  "Throughput per task and backend",
  "Scaling against workers",
  "GPU and CPU against batch size",
  "Ours and the peers, same input",
];

test("renderReport draws the four charts and the raw table, self-contained", () => {
  const html = renderReport(syntheticRun());
  for (const t of CHART_TITLES) assert.ok(html.includes(`aria-label="${t}"`), t);
  assert.equal((html.match(/<svg /g) ?? []).length, 4);
  assert.equal((html.match(/<tr>/g) ?? []).length, 1 + syntheticRun().points.length);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  assert.match(html, /prefers-color-scheme: dark/);
  assert.match(html, /software adapter/);
  assert.match(html, /js-tiktoken \(<code>npm install -D js-tiktoken<\/code>\)/);
});

test("renderReport explains a chart it cannot draw instead of drawing an empty one", () => {
  const run = syntheticRun();
  run.points = run.points.filter((p) =>
    p.workers === 1 && p.implementation === "ours" && p.batchSize !== 100 && p.batchSize !== 1000
  );
  const html = renderReport(run);
  assert.match(html, /Scaling needs two or more worker counts/);
  assert.match(html, /Batch-size curves need two or more sizes/);
  assert.match(html, /No peers were measured/);
  assert.equal((html.match(/<svg /g) ?? []).length, 1);
});

test("report text is escaped: a file name cannot inject markup", () => {
  const run = syntheticRun();
  run.input.files = ['<img src=x onerror="alert(1)">.jsonl'];
  const html = renderReport(run);
  assert.ok(!html.includes("<img"));
  assert.ok(html.includes("&#60;img"));
});

test("barChart scales bars to the largest value and labels peers' bars", () => {
  const svg = barChart(["a"], [{ name: "ours", values: [40] }, { name: "peer", values: [10] }], {
    title: "T",
    unit: "MB/s",
    barLabel: (si, _ci, v) => (si === 0 ? null : `${(40 / v).toFixed(1)}×`),
  });
  const heights = [...svg.matchAll(/<rect class="bar s\d" [^>]*height="([\d.]+)"/g)].map((m) =>
    Number(m[1])
  );
  assert.equal(heights.length, 2);
  assert.ok(Math.abs(heights[0] / heights[1] - 4) < 0.01);
  assert.ok(svg.includes(">4.0×<"));
});

test("lineChart puts the ideal line under the measured series", () => {
  const svg = lineChart([1, 2, 4], [{ name: "m", values: [1, 1.9, 3.2] }], {
    title: "S",
    unit: "x",
    xLabel: "workers",
    ideal: { name: "ideal", values: [1, 2, 4] },
  });
  assert.ok(svg.indexOf('class="ideal"') < svg.indexOf('class="line s0"'));
  assert.equal((svg.match(/<circle/g) ?? []).length, 3);
});

// The report in a real browser: headless Chromium (Debian's, installed by
// scripts/ensure-chromium.sh in CI) through playwright-core, driven from Node.
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SCRIPT = fileURLToPath(new URL("../../scripts/screenshot_report.mjs", import.meta.url));
const noBrowser = existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM} (scripts/ensure-chromium.sh installs it)`;
if (noBrowser) console.log(`skipping the report browser test: ${noBrowser}`);

for (const scheme of ["light", "dark"]) {
  test(`the report opens offline in Chromium (${scheme}) and every chart has ink`, {
    skip: noBrowser,
    timeout: 120_000,
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), "harmony-report-"));
    try {
      const html = join(dir, "bench.html");
      const png = join(dir, "bench.png");
      writeFileSync(html, renderReport(syntheticRun()));
      const r = spawnSync("node", [SCRIPT, html, png, scheme], {
        encoding: "utf8",
        timeout: 110_000,
      });
      assert.equal(r.status, 0, r.stderr);
      const seen = JSON.parse(r.stdout) as {
        errors: string[];
        requests: string[];
        charts: { title: string; width: number; height: number; ink: number }[];
        background: string;
      };
      assert.deepEqual(seen.errors, []);
      assert.deepEqual(seen.requests, []);
      assert.deepEqual(seen.charts.map((c) => c.title), CHART_TITLES);
      for (const c of seen.charts) {
        assert.ok(c.width >= 600 && c.height >= 280, `${c.title}: ${c.width}×${c.height}`);
        assert.ok(
          c.ink > 0.02,
          `${c.title}: only ${(c.ink * 100).toFixed(2)} % of its pixels drawn`,
        );
      }
      assert.equal(seen.background, scheme === "dark" ? "rgb(20, 24, 28)" : "rgb(255, 255, 255)");
      assert.ok(readFileSync(png).length > 10_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
