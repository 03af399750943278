// Test helpers: where the golden files and the shared corpus are (../shared in CI, else the
// excerpts in test/fixtures/).
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import process from "node:process";

// HARMONY_TEST_NO_SHARED=1 runs the tests as in a clone without ../shared.
const NO_SHARED = process.env.HARMONY_TEST_NO_SHARED === "1";
const SHARED = NO_SHARED
  ? "/nonexistent/"
  : fileURLToPath(new URL("../../../shared/", import.meta.url));
const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));

/** The shared corpus folder, or undefined in a clone without ../shared. */
export const SHARED_CORPUS: string | undefined = existsSync(`${SHARED}corpus/README.md`)
  ? `${SHARED}corpus/`
  : undefined;

const GOLDEN_DIR = existsSync(`${SHARED}harmony-golden/test_simple_convo.txt`)
  ? `${SHARED}harmony-golden/`
  : `${FIXTURES}golden/`;

/** A golden file's text, with CRLF → LF and trailing whitespace trimmed (as the reference). */
export function golden(name: string): string {
  return readFileSync(`${GOLDEN_DIR}${name}`, "utf8").replaceAll("\r\n", "\n").trimEnd();
}

/** A golden file of whitespace-separated token ids. */
export function goldenTokens(name: string): number[] {
  return golden(name).split(/\s+/).filter((s) => s !== "").map(Number);
}

/** Lines of a fixture or shared-corpus JSONL file (at most `limit`). */
export function jsonlLines(path: string, limit = Infinity): string[] {
  const out: string[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    out.push(line);
    if (out.length >= limit) break;
  }
  return out;
}

/** Path of a file under test/fixtures/. */
export function fixture(name: string): string {
  return `${FIXTURES}${name}`;
}
