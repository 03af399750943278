// The native peer of bench/encode.bench.ts: tiktoken's Rust core through N-API
// (`@anysphere/tiktoken-node`), which loads only under Node. Invoked by encode.bench.ts as
// `node bench/_native_peer.mjs <job.json>`; the job file lists, per text kind, the cold texts (one
// pass) and the warm text (repeated). Prints one JSON line: per kind, cold and warm MB/s of UTF-8
// input (medians) and the token count of each, which encode.bench.ts compares with ours.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { getTokenizer, SpecialTokenAction, SupportedEncoding } = require("@anysphere/tiktoken-node");
const tok = getTokenizer();
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
// `encode` runs on a worker thread of the binding and resolves a Promise; one call per text, so
// the hop is small next to the work (texts are 10–600 KB).
const encode = (text) =>
  tok.encode(text, SupportedEncoding.O200k, SpecialTokenAction.NormalText, []);
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

const out = {};
for (const { kind, cold, warm, reps } of job.kinds) {
  const coldBytes = cold.reduce((n, t) => n + Buffer.byteLength(t), 0);
  const coldMs = [];
  let coldTokens = 0;
  for (let r = 0; r < reps; r++) {
    let n = 0;
    const t0 = performance.now();
    for (const text of cold) n += (await encode(text)).length;
    coldMs.push(performance.now() - t0);
    coldTokens = n;
  }
  const warmBytes = Buffer.byteLength(warm);
  const warmTokens = (await encode(warm)).length;
  const warmMs = [];
  const stop = performance.now() + job.warmMs;
  while (performance.now() < stop || warmMs.length < 5) {
    const t0 = performance.now();
    await encode(warm);
    warmMs.push(performance.now() - t0);
  }
  out[kind] = {
    cold: coldBytes / median(coldMs) / 1e3,
    warm: warmBytes / median(warmMs) / 1e3,
    coldTokens,
    warmTokens,
  };
}
console.log(JSON.stringify(out));
