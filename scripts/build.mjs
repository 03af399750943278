#!/usr/bin/env node
// `npm run build` (also run by `prepack` and CI): emits ES-module JavaScript and `.d.ts`
// declarations for src/ into a fresh dist/ with tsc (tsconfig.build.json). Relative `.ts` imports
// become `.js` (rewriteRelativeImportExtensions); the WGSL shaders are already embedded in
// src/gpu/_shaders.ts. Type errors are the job of `npm run check` (deno check), so the emit runs
// with `noCheck` and takes seconds.
import { spawnSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
rmSync(join(root, "dist"), { recursive: true, force: true });
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const r = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], {
  cwd: root,
  stdio: "inherit",
});
if (r.status !== 0) {
  process.stderr.write(`build: tsc failed (${r.error?.message ?? `exit ${r.status}`})\n`);
  process.exit(1);
}
chmodSync(join(root, "dist", "cli.js"), 0o755);

// Worker modules are named by URL (`new URL("./render_worker.ts", import.meta.url)`), which
// rewriteRelativeImportExtensions does not touch: in dist/ they are `.js`, so the URL must be too
// (else `--workers 2` under Node fails to find the worker's module).
const workerUrl = /(new URL\(\s*["'])(\.{1,2}\/[^"']*?)\.ts(["']\s*,\s*import\.meta\.url\s*\))/g;
let workerUrls = 0;
for (const entry of readdirSync(join(root, "dist"), { recursive: true })) {
  const file = join(root, "dist", String(entry));
  if (!file.endsWith(".js")) continue;
  const text = readFileSync(file, "utf8");
  const next = text.replace(workerUrl, (_m, a, path, b) => (workerUrls++, `${a}${path}.js${b}`));
  if (next !== text) writeFileSync(file, next);
}

// Declarations that name WebGPU types (GPUDevice, GPUBuffer, …) reference @webgpu/types (a
// dependency), so a consumer's `tsc --strict` with `skipLibCheck: false` finds those names
// without adding DOM's WebGPU lib or the types package itself. tsc ≥ 5.5 drops such references
// from its own emit, hence this step.
// tsc also keeps the sources' relative `.ts` specifiers in declarations; they become `.js` (which
// every resolver maps to the `.d.ts` beside it), as Deno's checker of npm packages requires.
const reference = '/// <reference types="@webgpu/types" />\n';
const relativeTs = /((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']*?)\.ts(["'])/g;
let referenced = 0;
for (const entry of readdirSync(join(root, "dist"), { recursive: true })) {
  const file = join(root, "dist", String(entry));
  if (!file.endsWith(".d.ts")) continue;
  let text = readFileSync(file, "utf8").replace(relativeTs, "$1$2.js$3");
  if (/\bGPU[A-Z]?[A-Za-z]*\b/.test(text.replace(/\/\*[\s\S]*?\*\//g, ""))) {
    text = reference + text;
    referenced++;
  }
  writeFileSync(file, text);
}
process.stdout.write(
  `build: dist/ written; ${referenced} declaration files reference @webgpu/types; ${workerUrls} worker URLs\n`,
);
