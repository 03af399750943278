#!/usr/bin/env node
// Opens an HTML page (the `harmony bench --report` output) in headless Chromium, offline, and
// prints one JSON object: console errors and page errors, and for every chart (`svg.chart`) its
// title, size and the fraction of its pixels that differ from the page background ("ink"), read
// from a real screenshot. Also saves a full-page screenshot.
//
//   node scripts/screenshot_report.mjs REPORT.html OUT.png [light|dark]
//
// Uses playwright-core (no browser download) with Debian's /usr/bin/chromium (or $CHROMIUM).
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const [html, png, scheme = "light"] = process.argv.slice(2);
if (!html || !png) {
  process.stderr.write(
    "usage: node scripts/screenshot_report.mjs REPORT.html OUT.png [light|dark]\n",
  );
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const context = await browser.newContext({
    viewport: { width: 1400, height: 1000 },
    colorScheme: scheme === "dark" ? "dark" : "light",
    offline: true,
  });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  const requests = [];
  page.on("request", (r) => {
    if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) requests.push(r.url());
  });
  await page.goto(pathToFileURL(resolve(html)).href, { waitUntil: "load" });
  await page.screenshot({ path: png, fullPage: true });
  const charts = [];
  for (const svg of await page.locator("svg.chart").all()) {
    const box = await svg.boundingBox();
    const title = await svg.getAttribute("aria-label");
    if (!box || box.width < 1 || box.height < 1) {
      charts.push({ title, width: 0, height: 0, ink: 0 });
      continue;
    }
    const shot = (await page.screenshot({ clip: box })).toString("base64");
    // Decode the PNG in the page itself and count pixels unlike the top-left (background) one.
    const ink = await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement("canvas");
      c.width = img.width;
      c.height = img.height;
      const g = c.getContext("2d");
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 48) n++;
      }
      return n / (d.length / 4);
    }, shot);
    charts.push({ title, width: box.width, height: box.height, ink });
  }
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  process.stdout.write(JSON.stringify({ errors, requests, charts, background }) + "\n");
} finally {
  await browser.close();
}
