#!/usr/bin/env node
// The package as users get it (issue #13): packs the tarball (`npm pack`, whose `prepack` builds
// dist/), installs it with npm into a fresh temporary project and checks, one line per check:
// - the tarball: LICENSE, README, dist/ and bin/ in; src/, test/, bench/, .ci/ out;
// - Node, with no bun or deno on PATH: a CPU-only install (no `webgpu`), `npx harmony --version`,
//   `render` and `parse-dataset` give the expected tokens/results, `--backend gpu` is a clear
//   error, and a program importing every entry point renders, tokenizes and parses;
// - TypeScript: that program's typed twin passes `tsc --noEmit --strict` with
//   `skipLibCheck: false`, for `moduleResolution` NodeNext and Bundler;
// - Bun: `bunx harmony`, `bunx --bun harmony` and the same program;
// - Deno: the same program through the installed package, the installed CLI, and
//   `deno publish --dry-run` (JSR) without slow-types warnings.
// It prints the tarball's size, what the CPU-only install holds and each entry point's import
// time per runtime, then `package: N passed, N failed`; exits 1 when a check fails.
//
// Usage: node scripts/test-package.mjs [--tarball FILE] [--jsr-dir DIR] [--timings] [--keep]
//   --tarball FILE  test this tarball instead of packing the checkout (e.g. an older release)
//   --jsr-dir DIR   run `deno publish --dry-run` in DIR (default: this checkout)
//   --timings       time each import in 5 fresh processes (median) instead of 1
//   --keep          keep the temporary directory
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const started = performance.now();
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const option = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const keep = argv.includes("--keep");
const jsrDir = resolve(option("--jsr-dir") ?? root);
const bin = (name) => join(root, "node_modules", ".bin", name);
const tmp = mkdtempSync(join(tmpdir(), "harmony-package-"));

// PATH for the Node consumer: every directory that holds a bun or deno executable is dropped
// (npm puts this checkout's node_modules/.bin, which has both, on PATH when run as a script).
const nodePath = (process.env.PATH ?? "").split(delimiter).filter((d) =>
  d !== "" && !["bun", "deno", "bunx"].some((b) => existsSync(join(d, b)))
).join(delimiter);
const baseEnv = {
  ...process.env,
  NO_COLOR: "1",
  FORCE_COLOR: "0",
  npm_config_update_notifier: "false",
};
for (const k of Object.keys(baseEnv)) {
  if (k.startsWith("npm_") && k !== "npm_config_cache") delete baseEnv[k];
}
const nodeEnv = { ...baseEnv, PATH: nodePath };
const runtimeEnv = {
  ...baseEnv,
  PATH: [join(root, "node_modules", ".bin"), nodePath].join(delimiter),
};

/** Runs a command; returns status, stdout, stderr and the wall time in ms. */
function sh(cmd, args, { cwd = tmp, env = nodeEnv, input, timeout = 180_000 } = {}) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, {
    cwd,
    env,
    input,
    encoding: "utf8",
    timeout,
    maxBuffer: 1 << 28,
  });
  return {
    status: r.status ?? (r.error ? `error: ${r.error.message}` : `signal ${r.signal}`),
    stdout: r.stdout ?? "",
    stderr: r.stderr ?? "",
    ms: performance.now() - t0,
  };
}

const results = [];
const notes = [];
/** Records one check: `fn` returns nothing (pass) or throws / returns a string (fail detail). */
let lastMark = performance.now();
function check(name, fn) {
  let detail;
  try {
    detail = fn();
  } catch (e) {
    detail = e instanceof Error ? e.message : String(e);
  }
  const ok = detail === undefined || detail === true;
  results.push(ok);
  // The time since the previous check, so set-up steps (pack, install) count where they belong.
  const seconds = ((performance.now() - lastMark) / 1000).toFixed(1);
  lastMark = performance.now();
  console.log(`${ok ? "ok  " : "FAIL"} ${name} (${seconds} s)`);
  if (!ok) console.log(`     ${String(detail).trim().split("\n").slice(0, 12).join("\n     ")}`);
  return ok;
}
const expectRun = (r, { status = 0, stdout, stderr } = {}) => {
  const show = () =>
    `exit ${r.status}\nstdout: ${r.stdout.slice(0, 400)}\nstderr: ${r.stderr.slice(0, 600)}`;
  if (r.status !== status) return show();
  if (stdout && !stdout.test(r.stdout)) return `stdout does not match ${stdout}\n${show()}`;
  if (stderr && !stderr.test(r.stderr)) return `stderr does not match ${stderr}\n${show()}`;
};
const du = (path) => {
  let n = 0;
  for (const e of readdirSync(path, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(join(e.parentPath ?? e.path, e.name)).size;
  }
  return n;
};
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

// --- the tarball ---------------------------------------------------------------------------------
let tarball = option("--tarball") && resolve(option("--tarball"));
let packed;
if (!tarball) {
  const r = sh("npm", ["pack", "--json", "--pack-destination", tmp], {
    cwd: root,
    env: runtimeEnv,
  });
  check("npm pack (prepack builds dist/)", () => expectRun(r));
  try {
    packed = JSON.parse(r.stdout.slice(r.stdout.indexOf("[")))[0];
    tarball = join(tmp, packed.filename);
  } catch {
    console.log(`package: ${results.filter(Boolean).length} passed, 1 failed`);
    process.exit(1);
  }
} else {
  const r = sh("tar", ["-tzvf", tarball]);
  const files = r.stdout.split("\n").filter(Boolean).map((l) => {
    const parts = l.trim().split(/\s+/);
    return { path: parts.at(-1).replace(/^package\//, ""), size: Number(parts[2]) };
  }).filter((f) => !f.path.endsWith("/"));
  packed = {
    size: statSync(tarball).size,
    unpackedSize: files.reduce((a, f) => a + f.size, 0),
    files,
  };
}
{
  const paths = packed.files.map((f) => f.path);
  notes.push(
    `tarball: ${(packed.size / 1024).toFixed(0)} kB packed, ${
      (packed.unpackedSize / 1024).toFixed(0)
    } kB unpacked, ${paths.length} files`,
  );
  const tops = {};
  for (const p of paths) {
    const top = p.includes("/") ? p.split("/")[0] + "/" : p;
    tops[top] = (tops[top] ?? 0) + 1;
  }
  notes.push(`  ${Object.entries(tops).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  check("tarball has LICENSE, README.md, bin/harmony.mjs and dist/ JS + declarations", () => {
    const need = [
      "LICENSE",
      "README.md",
      "package.json",
      "bin/harmony.mjs",
      "dist/mod.js",
      "dist/mod.d.ts",
      "dist/cli.js",
    ];
    const missing = need.filter((p) => !paths.includes(p));
    if (missing.length) return `missing: ${missing.join(", ")}`;
  });
  check("tarball leaves out src/, test/, bench/, .ci/, scripts/, node_modules/", () => {
    const extra = paths.filter((p) => /^(src|test|bench|\.ci|scripts|node_modules)\//.test(p));
    if (extra.length) return `${extra.length} files, e.g. ${extra.slice(0, 5).join(", ")}`;
  });
}

// --- Node consumer (npm only; no bun/deno on PATH) -----------------------------------------------
const app = join(tmp, "app");
mkdirSync(app);
writeFileSync(
  join(app, "package.json"),
  JSON.stringify({ name: "consumer", private: true, type: "module" }),
);
copyFileSync(join(root, "test", "package", "fixtures", "consumer.mjs"), join(app, "consumer.mjs"));
const install = sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], {
  cwd: app,
});
check("npm install <tarball> into a fresh project (npm only, no bun/deno on PATH)", () => {
  const which = sh("sh", ["-c", "command -v bun || command -v deno || true"], { cwd: app });
  if (which.stdout.trim()) return `bun/deno still on PATH: ${which.stdout.trim()}`;
  return expectRun(install);
});
const nm = join(app, "node_modules");
if (existsSync(nm)) {
  const pkgs = [];
  for (const e of readdirSync(nm)) {
    if (e.startsWith(".")) continue;
    if (e.startsWith("@")) { for (const s of readdirSync(join(nm, e))) pkgs.push(`${e}/${s}`); }
    else pkgs.push(e);
  }
  notes.push(`CPU-only install: ${mb(du(nm))} on disk in node_modules, ${pkgs.length} packages:`);
  notes.push(`  ${pkgs.map((p) => `${p} ${mb(du(join(nm, p)))}`).join(", ")}`);
  check("a CPU-only install does not download the webgpu package (optional peer)", () => {
    if (pkgs.includes("webgpu")) {
      return `node_modules/webgpu is installed (${mb(du(join(nm, "webgpu")))})`;
    }
  });
}
const conversation = '{"messages":[{"role":"user","content":"hi"}]}\n';
const promptTokens = '{"tokens":[200006,1428,200008,3686,200007,200006,173781]}';
writeFileSync(join(app, "conversations.jsonl"), conversation);
writeFileSync(
  join(app, "completions.jsonl"),
  '{"id":7,"tokens":[200005,17196,200008,3686,200002]}\n',
);
const parsedLine = (file) => () => {
  const text = readFileSync(join(app, file), "utf8");
  const row = JSON.parse(text.trim());
  if (row.id !== 7 || row.final !== "hi" || row.status !== "ok" || row.stop !== "return") {
    return `unexpected result: ${text.slice(0, 300)}`;
  }
};
const cliChecks = (label, cmd, pre, env) => {
  check(
    `${label} --version`,
    () =>
      expectRun(sh(cmd, [...pre, "--version"], { cwd: app, env }), {
        stdout: /^harmony-engine \d+\.\d+\.\d+/,
      }),
  );
  check(
    `${label} render --mode completion gives the prompt's tokens`,
    () =>
      expectRun(
        sh(cmd, [...pre, "render", "--mode", "completion"], { cwd: app, env, input: conversation }),
        {
          stdout: new RegExp(`^${promptTokens.replace(/[[\]{}]/g, "\\$&")}\n$`),
        },
      ),
  );
  // Worker threads load their module by URL: it must exist in the installed package too.
  const wout = `parsed-workers-${label.replace(/\W+/g, "-")}.jsonl`;
  check(
    `${label} parse-dataset --workers 2 gives the same result (worker module found)`,
    () =>
      expectRun(
        sh(cmd, [...pre, "parse-dataset", "completions.jsonl", "--out", wout, "--workers", "2"], {
          cwd: app,
          env,
        }),
      ) ?? parsedLine(wout)(),
  );
  const rout = `rendered-workers-${label.replace(/\W+/g, "-")}`;
  check(
    `${label} render-dataset --workers 2 writes the conversation's tokens`,
    () =>
      expectRun(
        sh(cmd, [
          ...pre,
          "render-dataset",
          "conversations.jsonl",
          "--out",
          rout,
          "--output-format",
          "jsonl",
          "--workers",
          "2",
        ], { cwd: app, env }),
      ) ?? (() => {
        const row = JSON.parse(readFileSync(join(app, `${rout}.jsonl`), "utf8").trim());
        if (!Array.isArray(row.input_ids) || row.input_ids[0] !== 200006) {
          return `unexpected output: ${JSON.stringify(row).slice(0, 300)}`;
        }
      })(),
  );
  const out = `parsed-${label.replace(/\W+/g, "-")}.jsonl`;
  check(
    `${label} parse-dataset gives final "hi", stop return`,
    () =>
      expectRun(
        sh(cmd, [...pre, "parse-dataset", "completions.jsonl", "--out", out], { cwd: app, env }),
      ) ??
        parsedLine(out)(),
  );
};
cliChecks("node: npx harmony", "npx", ["--no-install", "harmony"], nodeEnv);
check(
  'node: npx harmony rendr → did you mean "render", exit 2',
  () =>
    expectRun(sh("npx", ["--no-install", "harmony", "rendr"], { cwd: app }), {
      status: 2,
      stderr: /did you mean "render"/,
    }),
);
check("node: npx harmony render --backend gpu is a clear error (no stack trace)", () => {
  const r = sh("npx", ["--no-install", "harmony", "render", "--backend", "gpu"], {
    cwd: app,
    input: conversation,
  });
  if (r.status === 0) return `exit 0 (stdout ${r.stdout.slice(0, 200)})`;
  if (!/^harmony render: Cannot .*(GPU|WebGPU)/m.test(r.stderr) || /^\s+at /m.test(r.stderr)) {
    return `stderr: ${r.stderr.slice(0, 600)}`;
  }
});
check(
  "node: node node_modules/harmony-engine/dist/cli.js --version (no import.meta.main in Node 20)",
  () =>
    expectRun(sh("node", ["node_modules/harmony-engine/dist/cli.js", "--version"], { cwd: app }), {
      stdout: /^harmony-engine \d/,
    }),
);
check(
  "node: a program importing every entry point renders, tokenizes and parses",
  () => expectRun(sh("node", ["consumer.mjs"], { cwd: app }), { stdout: /^consumer ok node$/m }),
);

// --- TypeScript consumer (this checkout's tsc; @types/node from this checkout) -------------------
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
writeFileSync(
  join(app, "consumer.ts"),
  `import { Conversation, type HarmonyEncoding, loadHarmonyEncoding, Message, Role } from "harmony-engine";
import * as dataset from "harmony-engine/dataset";
import * as evals from "harmony-engine/evals";
import { createEngine, type Engine } from "harmony-engine/engine";

const encoding: HarmonyEncoding = await loadHarmonyEncoding("HarmonyGptOss");
const convo = Conversation.fromMessages([Message.fromRoleAndContent(Role.User, "hi")]);
const prompt: Uint32Array = encoding.renderConversationForCompletion(convo, Role.Assistant);
const analysis: evals.CompletionAnalysis = evals.analyzeCompletion(encoding, prompt);
const format: dataset.InputFormat = "auto";
const engine: Engine = await createEngine({ backend: "cpu" });
engine.destroy();
export const summary: string = [prompt.length, analysis.status, format].join(" ");
`,
);
const tsconfigs = {
  // NodeNext with the default lib (ES2022 + DOM) and @types/node. (A `lib` without DOM fails
  // inside @webgpu/types, which needs DOM's BufferSource and EventTarget.)
  "tsconfig.nodenext.json": {
    module: "NodeNext",
    moduleResolution: "NodeNext",
    types: ["node"],
    typeRoots: [join(root, "node_modules", "@types")],
  },
  "tsconfig.bundler.json": {
    module: "ESNext",
    moduleResolution: "Bundler",
    lib: ["ES2022", "DOM"],
    types: [],
  },
};
for (const [file, options] of Object.entries(tsconfigs)) {
  writeFileSync(
    join(app, file),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        ...options,
      },
      files: ["consumer.ts"],
    }),
  );
  check(
    `typescript: tsc --noEmit --strict, skipLibCheck false, moduleResolution ${options.moduleResolution}`,
    () => expectRun(sh("node", [tsc, "-p", file], { cwd: app })),
  );
}

// --- Bun -----------------------------------------------------------------------------------------
// bun/bunx by absolute path with the Node consumer's PATH: the CLI must not need a `bun` on PATH.
cliChecks("bun: bunx harmony", bin("bunx"), ["harmony"], nodeEnv);
check(
  "bun: bunx --bun harmony render runs in Bun",
  () =>
    expectRun(
      sh(bin("bunx"), ["--bun", "harmony", "render", "--mode", "completion"], {
        cwd: app,
        env: runtimeEnv,
        input: conversation,
      }),
      { stdout: /"tokens":\[200006,1428,/ },
    ),
);
check(
  "bun: the program importing every entry point",
  () =>
    expectRun(sh(bin("bun"), ["consumer.mjs"], { cwd: app, env: nodeEnv }), {
      stdout: /^consumer ok bun$/m,
    }),
);

// --- Deno ----------------------------------------------------------------------------------------
check(
  "deno: the program importing every entry point (from node_modules)",
  () =>
    expectRun(sh(bin("deno"), ["run", "-A", "consumer.mjs"], { cwd: app, env: runtimeEnv }), {
      stdout: /^consumer ok deno$/m,
    }),
);
cliChecks("deno: deno run -A node_modules/harmony-engine/bin/harmony.mjs", bin("deno"), [
  "run",
  "-A",
  "node_modules/harmony-engine/bin/harmony.mjs",
], runtimeEnv);
check(
  "deno: deno check of the typed program (declarations from node_modules)",
  () => expectRun(sh(bin("deno"), ["check", "consumer.ts"], { cwd: app, env: runtimeEnv })),
);
check("deno: deno publish --dry-run (JSR) succeeds without slow types", () => {
  const r = sh(bin("deno"), ["publish", "--dry-run", "--allow-dirty"], {
    cwd: jsrDir,
    env: runtimeEnv,
  });
  const text = r.stdout + r.stderr;
  if (/slow[- ]type/i.test(text.replace(/Checking for slow types in the public API\.\.\./g, ""))) {
    return text.split("\n").filter((l) => !l.includes("file:///")).slice(0, 30).join("\n");
  }
  return expectRun(r);
});

// --- import time of each entry point (fresh process each; informational) ------------------------
{
  const entries = [
    "harmony-engine",
    "harmony-engine/dataset",
    "harmony-engine/evals",
    "harmony-engine/engine",
  ];
  for (const e of entries) {
    writeFileSync(
      join(app, `time-${e.replace(/\W+/g, "-")}.mjs`),
      `const t = performance.now(); await import(${
        JSON.stringify(e)
      }); console.log((performance.now() - t).toFixed(0));\n`,
    );
  }
  const runtimes = [
    ["node", "node", []],
    ["bun", bin("bun"), []],
    ["deno", bin("deno"), ["run", "-A"]],
  ];
  const n = argv.includes("--timings") ? 5 : 1;
  notes.push(
    `import time (ms; ${n === 1 ? "one fresh process" : `median of ${n} fresh processes`} each):`,
  );
  for (const [name, cmd, pre] of runtimes) {
    const row = entries.map((e) => {
      const runs = Array.from(
        { length: n },
        () => {
          const file = `time-${e.replace(/\W+/g, "-")}.mjs`;
          const r = sh(cmd, [...pre, file], { cwd: app, env: runtimeEnv });
          return r.status === 0 ? Number(r.stdout.trim()) : NaN;
        },
      ).sort((a, b) => a - b);
      const median = runs[n >> 1];
      return `${e.replace("harmony-engine", "") || "."} ${Number.isFinite(median) ? median : "?"}`;
    });
    notes.push(`  ${name}: ${row.join(", ")}`);
  }
}

notes.push(`took ${((performance.now() - started) / 1000).toFixed(0)} s`);
for (const n of notes) console.log(n);
if (!keep) rmSync(tmp, { recursive: true, force: true });
else console.log(`kept ${tmp}`);
const failed = results.filter((ok) => !ok).length;
console.log(`package: ${results.length - failed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
