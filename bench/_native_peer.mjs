// The native peers of bench/encode.bench.ts, which load only under Node, so encode.bench.ts runs
// them in a `node` child process on the same texts: tiktoken's Rust core through N-API
// (`@anysphere/tiktoken-node`) and Hugging Face `tokenizers` (Rust through N-API) over the
// o200k tokenizer.json that encode.bench.ts writes from our vocabulary (bench/_hf_tokenizer_json.ts).
// Each is measured when its package is installed (`npm install --no-save @anysphere/tiktoken-node
// tokenizers`). Invoked as `node bench/_native_peer.mjs <job.json>`; the job file lists, per text
// kind, the cold texts (one pass) and the warm text (repeated), and the tokenizer.json path.
// Prints one JSON line: per peer, per kind, cold and warm MB/s of UTF-8 input (medians) and the
// token count of each, which encode.bench.ts compares with ours; `missing` names the peers that
// could not be loaded and why.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

/** name → encode(text) resolving to the token ids. */
const peers = new Map();
const missing = {};
try {
  const { getTokenizer, SpecialTokenAction, SupportedEncoding } = require(
    "@anysphere/tiktoken-node",
  );
  const tok = getTokenizer();
  // `encode` runs on a worker thread of the binding and resolves a Promise; one call per text, so
  // the hop is small next to the work (texts are 10–600 KB).
  peers.set(
    "tiktoken-node",
    (text) => tok.encode(text, SupportedEncoding.O200k, SpecialTokenAction.NormalText, []),
  );
} catch (e) {
  missing["tiktoken-node"] = String(e?.message ?? e).split("\n")[0];
}
try {
  const { Tokenizer } = require("tokenizers");
  const tok = Tokenizer.fromString(readFileSync(job.hfTokenizer, "utf8"));
  peers.set(
    "HF tokenizers",
    async (text) => (await tok.encode(text, null, { addSpecialTokens: false })).getIds(),
  );
} catch (e) {
  missing["HF tokenizers"] = String(e?.message ?? e).split("\n")[0];
}

const out = { peers: {}, missing };
for (const [name, encode] of peers) {
  const byKind = out.peers[name] = {};
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
    byKind[kind] = {
      cold: coldBytes / median(coldMs) / 1e3,
      warm: warmBytes / median(warmMs) / 1e3,
      coldTokens,
      warmTokens,
    };
  }
}
console.log(JSON.stringify(out));
