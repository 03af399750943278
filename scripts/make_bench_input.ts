/**
 * Writes a bench input of N conversation records made from the bundled sample, each record's user
 * text suffixed with its number so no two records are the same text (caches cannot make a large
 * run look faster than real data would).
 *
 *   npx bun scripts/make_bench_input.ts 250000 /tmp/bench-input.jsonl
 *
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

const [countArg, out] = process.argv.slice(2);
const count = Number(countArg);
if (!Number.isInteger(count) || count < 1 || !out) {
  process.stderr.write("usage: make_bench_input.ts N OUT.jsonl\n");
  process.exit(2);
}
const sample = readFileSync(
  fileURLToPath(new URL("../examples/sample.jsonl", import.meta.url)),
  "utf8",
).split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, unknown>);
const lines: string[] = [];
for (let i = 0; i < count; i++) {
  const rec = structuredClone(sample[i % sample.length]);
  const messages = rec.messages as { role: string; content: unknown }[] | undefined;
  const user = messages?.find((m) => m.role === "user" && typeof m.content === "string");
  if (user) user.content = `${user.content} (#${i})`;
  lines.push(JSON.stringify(rec));
}
writeFileSync(out, lines.join("\n") + "\n");
process.stderr.write(`wrote ${count} records to ${out}\n`);
