// Runs every `@example` code block of src/**/*.ts as a module, under Deno and Bun alike, so the
// documentation cannot drift from the code: each block must assert its result with node:assert
// (a block without an assertion fails), relative imports are rewritten to the source file's
// absolute URL, and a failure names the example's file and line. Blocks fenced as
// "```ts ignore" (they need files, a GPU or a network) are listed as skipped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const src = join(root, "src");

/** One example block: where it is and its code. */
interface Example {
  file: string;
  line: number;
  code: string;
  ignored: boolean;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out.sort();
}

/** The fenced code blocks that follow an `@example` tag inside JSDoc comments. */
export function extractExamples(file: string, text: string): Example[] {
  const lines = text.split("\n");
  const out: Example[] = [];
  let inExample = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (/^\s*\*\s*@example\b/.test(l)) {
      inExample = true;
      continue;
    }
    if (!inExample) continue;
    if (/\*\//.test(l) || /^\s*\*\s*@\w/.test(l)) {
      inExample = false;
      continue;
    }
    const fence = /^\s*\*\s*```(\w*)(.*)$/.exec(l);
    if (!fence) continue;
    const code: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*\*\s*```\s*$/.test(lines[j]); j++) {
      code.push(lines[j].replace(/^\s*\* ?/, ""));
    }
    out.push({
      file,
      line: i + 1,
      code: code.join("\n"),
      ignored: /\bignore\b/.test(fence[2]),
    });
    i = j;
  }
  return out;
}

/**
 * Rewrites relative module specifiers to absolute file URLs of the example's source folder, and
 * the package's own name (`harmony-engine`, `harmony-engine/dataset`, …) to its entry modules.
 */
function absolutize(code: string, file: string): string {
  const base = pathToFileURL(file);
  return code.replace(
    /(\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)(["'])(\.\.?\/[^"']+|harmony-engine(?:\/\w+)?)\2/gm,
    (_m, lead: string, q: string, spec: string) => {
      const url = spec.startsWith("harmony-engine")
        ? pathToFileURL(join(src, spec.slice("harmony-engine".length), "mod.ts")).href
        : new URL(spec, base).href;
      return `${lead}${q}${url}${q}`;
    },
  );
}

const ASSERTION =
  /\b(strictEqual|deepStrictEqual|notStrictEqual|equal|deepEqual|ok|throws|rejects|match|assert)\s*\(/;

const examples = sourceFiles(src).flatMap((f) => extractExamples(f, readFileSync(f, "utf8")));
const dir = mkdtempSync(join(tmpdir(), "harmony-examples-"));
let remaining = examples.filter((e) => !e.ignored).length;

test("the @example extractor finds the examples of src/", () => {
  assert.ok(examples.length > 100, `only ${examples.length} examples found`);
});

for (const ex of examples) {
  const where = `${relative(root, ex.file)}:${ex.line}`;
  if (ex.ignored) {
    test(
      `${where} @example (marked ignore: needs files, a GPU or a network)`,
      { skip: true },
      () => {},
    );
    continue;
  }
  if (/^declare\s/m.test(ex.code)) {
    // Its inputs (a GPU device, a scan) are declared, not built: `deno check --doc` checks it.
    test(`${where} @example (declares its inputs: type-checked only)`, { skip: true }, () => {});
    continue;
  }
  test(`${where} @example runs and its assertions hold`, async () => {
    try {
      if (!/from\s+["']node:assert/.test(ex.code) || !ASSERTION.test(ex.code)) {
        throw new Error(
          "the example asserts nothing (import node:assert/strict and assert its result)",
        );
      }
      const name = `${relative(src, ex.file).replace(/[\\/.]/g, "_")}_${ex.line}.ts`;
      const path = join(dir, name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, absolutize(ex.code, ex.file) + "\nexport {};\n");
      await import(pathToFileURL(path).href);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new Error(`Example at ${where} failed: ${message}`, { cause: e });
    } finally {
      if (--remaining === 0) rmSync(dir, { recursive: true, force: true });
    }
  });
}
