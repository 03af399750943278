// Line assembly must be linear in bytes (issue #11 item 4): one 64 MB line against 8 lines of
// 8 MB, the same bytes, fed in 16 KiB chunks (what gunzip and pipes deliver), in one run; the
// ratio is printed (linear: about 1; the old per-chunk re-join was quadratic: ~8 and rising).
// Run: npx deno run -A bench/lines.bench.ts   or   npx bun bench/lines.bench.ts
import { readLines } from "../src/io/lines.ts";

const MB = 1 << 20;
const CHUNK = 16 * 1024;

function input(lines: number, lineBytes: number): Uint8Array {
  const all = new Uint8Array(lines * (lineBytes + 1)).fill(0x61);
  for (let l = 1; l <= lines; l++) all[l * (lineBytes + 1) - 1] = 10;
  return all;
}

async function time(all: Uint8Array): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  const chunks = function* () {
    for (let i = 0; i < all.length; i += CHUNK) yield all.subarray(i, i + CHUNK);
  };
  for await (const line of readLines(chunks())) n += line.text.length;
  if (n === 0) throw new Error("no lines");
  return performance.now() - t0;
}

const one = input(1, 64 * MB);
const eight = input(8, 8 * MB);
await time(eight); // warm-up
const a = await time(one);
const b = await time(eight);
console.log(
  `readLines, 16 KiB chunks: 1 × 64 MB line ${a.toFixed(0)} ms, 8 × 8 MB lines ${
    b.toFixed(0)
  } ms, ratio ${(a / b).toFixed(2)} (linear ≈ 1, must be ≤ 3)`,
);
