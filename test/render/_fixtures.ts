// Test helpers: where the golden files and the shared corpus are (../shared in CI, else the
// excerpts in test/fixtures/).
import { readFileSync } from "node:fs";
import { FIXTURES, SHARED } from "../_support/shared_data.ts";

/** The shared corpus folder, or undefined in a clone without ../shared. */
export const SHARED_CORPUS: string | undefined = SHARED && `${SHARED}corpus/`;

const GOLDEN_DIR = SHARED ? `${SHARED}harmony-golden/` : `${FIXTURES}golden/`;

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
