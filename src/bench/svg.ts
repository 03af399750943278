/**
 * Two small chart kinds drawn as inline SVG strings: grouped bars and lines (with an optional
 * dashed reference line). Colours come from CSS classes (`s0` … `s5`, `axis`, `grid`, `ideal`)
 * that the page defines for light and dark mode, so a chart has no colour of its own. Pure
 * functions of their inputs: no DOM, no network.
 *
 * @module
 */

/** One named series of values. */
export interface Series {
  /** Legend label. */
  name: string;
  /** One value per category (bars) or per x (lines); `null` leaves a gap. */
  values: readonly (number | null)[];
}

/** Options shared by both chart kinds. */
export interface ChartOptions {
  /** Accessible title, shown above the chart. */
  title: string;
  /** Label of the value axis, e.g. `tokens/s`. */
  unit: string;
  /** Width in px (default 640). */
  width?: number;
  /** Height in px (default 300). */
  height?: number;
  /** A label drawn above a bar (bars only), e.g. a ratio; null for none. */
  barLabel?: (series: number, category: number, value: number) => string | null;
}

const PAD = { left: 64, right: 16, top: 36, bottom: 56 };

/** Escapes text for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A short human number: 1234567 → `1.23M`, 0.5 → `0.5`. */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  const f = (x: number, s: string) => `${Number(x.toPrecision(3))}${s}`;
  if (a >= 1e9) return f(v / 1e9, "G");
  if (a >= 1e6) return f(v / 1e6, "M");
  if (a >= 1e3) return f(v / 1e3, "k");
  return f(v, "");
}

/** Round upper bound and tick step for values up to `max`. */
function niceScale(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  return { top: Math.ceil(max / step) * step, step };
}

/** The chart's frame and legend; `ideal` names a dashed reference line drawn last in it. */
function frame(o: ChartOptions, body: string, legend: readonly string[], ideal?: string): string {
  const w = o.width ?? 640, h = o.height ?? 300;
  let items = "";
  let x = PAD.left;
  legend.forEach((name, i) => {
    items += `<rect class="s${i % 6}" x="${x}" y="${h - 18}" width="10" height="10"/>` +
      `<text class="label" x="${x + 14}" y="${h - 9}">${escapeXml(name)}</text>`;
    x += 24 + name.length * 7;
  });
  if (ideal !== undefined) {
    items += `<path class="ideal" d="M${x} ${h - 13}h16"/>` +
      `<text class="label" x="${x + 20}" y="${h - 9}">${escapeXml(ideal)}</text>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 ${w} ${h}" ` +
    `width="${w}" height="${h}" aria-label="${escapeXml(o.title)}"><title>${
      escapeXml(o.title)
    }</title>` +
    `<text class="title" x="${PAD.left}" y="20">${escapeXml(o.title)}</text>${body}${items}</svg>`;
}

/** The plot area of a chart and the value scale for the largest of `series`' values. */
function layout(options: ChartOptions, series: readonly Series[]) {
  const w = options.width ?? 640, h = options.height ?? 300;
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  return {
    w,
    h,
    plotW: w - PAD.left - PAD.right,
    plotH: h - PAD.top - PAD.bottom,
    ...niceScale(max),
  };
}

function valueAxis(o: ChartOptions, top: number, step: number): string {
  const w = o.width ?? 640, h = o.height ?? 300;
  const plotH = h - PAD.top - PAD.bottom;
  let s = "";
  for (let v = 0; v <= top + step / 2; v += step) {
    const y = PAD.top + plotH - (v / top) * plotH;
    s += `<line class="grid" x1="${PAD.left}" x2="${w - PAD.right}" y1="${y}" y2="${y}"/>` +
      `<text class="tick" x="${PAD.left - 6}" y="${y + 4}" text-anchor="end">${
        shortNumber(v)
      }</text>`;
  }
  s += `<text class="tick" transform="translate(14 ${PAD.top + plotH / 2}) rotate(-90)" ` +
    `text-anchor="middle">${escapeXml(o.unit)}</text>`;
  return s;
}

/**
 * Grouped bars: one group per category, one bar per series.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { barChart } from "./svg.ts";
 * const svg = barChart(["encode", "parse"], [{ name: "cpu", values: [10, 20] }], {
 *   title: "Throughput",
 *   unit: "tokens/s",
 * });
 * ok(svg.startsWith("<svg") && (svg.match(/<rect class="bar/g) ?? []).length === 2);
 * ```
 */
export function barChart(
  categories: readonly string[],
  series: readonly Series[],
  options: ChartOptions,
): string {
  const { w, plotW, plotH, top, step } = layout(options, series);
  let body = valueAxis(options, top, step);
  const groupW = plotW / Math.max(1, categories.length);
  const barW = Math.max(2, (groupW * 0.8) / Math.max(1, series.length));
  categories.forEach((c, ci) => {
    const gx = PAD.left + ci * groupW + groupW * 0.1;
    series.forEach((s, si) => {
      const v = s.values[ci];
      if (v === null || v === undefined) return;
      const bh = (v / top) * plotH;
      const x = gx + si * barW, y = PAD.top + plotH - bh;
      body += `<rect class="bar s${si % 6}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" ` +
        `width="${(barW - 1).toFixed(1)}" height="${Math.max(0.5, bh).toFixed(1)}">` +
        `<title>${escapeXml(`${s.name} · ${c}: ${shortNumber(v)} ${options.unit}`)}</title></rect>`;
      const label = options.barLabel?.(si, ci, v);
      if (label) {
        body +=
          `<text class="tick" font-size="10" x="${(x + barW / 2).toFixed(1)}" y="${
            (y - 3).toFixed(1)
          }" ` +
          `text-anchor="middle">${escapeXml(label)}</text>`;
      }
    });
    body += `<text class="tick" x="${(PAD.left + (ci + 0.5) * groupW).toFixed(1)}" ` +
      `y="${PAD.top + plotH + 16}" text-anchor="middle">${escapeXml(c)}</text>`;
  });
  body += `<line class="axis" x1="${PAD.left}" x2="${w - PAD.right}" y1="${PAD.top + plotH}" ` +
    `y2="${PAD.top + plotH}"/>`;
  return frame(options, body, series.map((s) => s.name));
}

/** Options of {@link lineChart}. */
export interface LineChartOptions extends ChartOptions {
  /** Label of the x axis. */
  xLabel: string;
  /** Logarithmic x axis (batch sizes). Default false. */
  logX?: boolean;
  /** A dashed reference series (e.g. ideal scaling), drawn first. */
  ideal?: Series;
}

/**
 * Lines over a numeric x axis, with points marked.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { lineChart } from "./svg.ts";
 * const svg = lineChart([1, 2], [{ name: "render-dataset", values: [1, 1.8] }], {
 *   title: "Scaling",
 *   unit: "speed-up",
 *   xLabel: "workers",
 *   ideal: { name: "ideal", values: [1, 2] },
 * });
 * ok(svg.includes('class="line s0"') && svg.includes('class="ideal"'));
 * ```
 */
export function lineChart(
  xs: readonly number[],
  series: readonly Series[],
  options: LineChartOptions,
): string {
  const all = options.ideal ? [options.ideal, ...series] : series;
  const { w, plotW, plotH, top, step } = layout(options, all);
  const fx = (x: number) => (options.logX ? Math.log10(Math.max(x, 1e-9)) : x);
  const lo = Math.min(...xs.map(fx)), hi = Math.max(...xs.map(fx));
  const px = (x: number) => PAD.left + (hi > lo ? ((fx(x) - lo) / (hi - lo)) * plotW : plotW / 2);
  const py = (v: number) => PAD.top + plotH - (v / top) * plotH;
  let body = valueAxis(options, top, step);
  for (const x of xs) {
    body += `<text class="tick" x="${px(x).toFixed(1)}" y="${PAD.top + plotH + 16}" ` +
      `text-anchor="middle">${shortNumber(x)}</text>`;
  }
  body += `<text class="tick" x="${PAD.left + plotW / 2}" y="${PAD.top + plotH + 32}" ` +
    `text-anchor="middle">${escapeXml(options.xLabel)}</text>`;
  body += `<line class="axis" x1="${PAD.left}" x2="${w - PAD.right}" y1="${PAD.top + plotH}" ` +
    `y2="${PAD.top + plotH}"/>`;
  const path = (s: Series) => {
    let d = "";
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      d += `${d ? "L" : "M"}${px(xs[i]).toFixed(1)} ${py(v).toFixed(1)}`;
    });
    return d;
  };
  if (options.ideal) body += `<path class="ideal" d="${path(options.ideal)}"/>`;
  series.forEach((s, si) => {
    body += `<path class="line s${si % 6}" d="${path(s)}"/>`;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      body +=
        `<circle class="dot s${si % 6}" cx="${px(xs[i]).toFixed(1)}" cy="${
          py(v).toFixed(1)
        }" r="3.5"><title>${escapeXml(`${s.name} · ${shortNumber(xs[i])}: ${shortNumber(v)}`)}` +
        `</title></circle>`;
    });
  });
  const legend = series.map((s) => s.name);
  return frame(options, body, legend, options.ideal?.name);
}
