// The native peers of bench/encode.bench.ts, which load only under Node, so encode.bench.ts runs
// them in a `node` child process on the same texts: tiktoken's Rust core through N-API
// (`@anysphere/tiktoken-node`) and Hugging Face `tokenizers` (Rust through N-API) over the
// o200k tokenizer.json that encode.bench.ts writes from our vocabulary (bench/_hf_tokenizer_json.ts).
// Each is measured when its package is installed (`npm install --no-save @anysphere/tiktoken-node
// tokenizers`).
//
// Invoked as `node bench/_native_peer.mjs <job.json>`; the job file lists, per text kind, the cold
// texts (one pass) and the warm text (repeated), and the tokenizer.json path. It answers requests,
// one JSON line each way, so that encode.bench.ts can interleave the peers' cold passes with its
// own (a machine whose speed swings then slows both alike):
// - on start it prints `{ "peers": [names], "missing": { name: why }, "readyMs" }`;
// - `{ "peer", "kind", "mode": "cold" }`: one pass over the kind's cold texts; answers `{ "ms",
//   "tokens" }`;
// - `{ "peer", "kind", "mode": "warm" }`: the warm text again and again for the job's `warmMs`;
//   answers `{ "mbps", "tokens" }` (median of the repetitions);
// - end of input: it exits.
// With NATIVE_PEER_ONLY=<name> in the environment it loads only that peer (bench/cold_process.ts
// times a fresh process's load per peer).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const require = createRequire(import.meta.url);
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const kinds = new Map(job.kinds.map((k) => [k.kind, k]));

/** name → a loader of its encode(text), which resolves to the token ids. */
const loaders = {
  "tiktoken-node": () => {
    const { getTokenizer, SpecialTokenAction, SupportedEncoding } = require(
      "@anysphere/tiktoken-node",
    );
    const tok = getTokenizer();
    // `encode` runs on a worker thread of the binding and resolves a Promise; one call per text,
    // so the hop is small next to the work (texts are 10–600 KB).
    return (text) => tok.encode(text, SupportedEncoding.O200k, SpecialTokenAction.NormalText, []);
  },
  "HF tokenizers": () => {
    const { Tokenizer } = require("tokenizers");
    const tok = Tokenizer.fromString(readFileSync(job.hfTokenizer, "utf8"));
    return async (text) => (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
  },
};
/** name → encode(text) of the peers that loaded. */
const peers = new Map();
const missing = {};
const only = process.env.NATIVE_PEER_ONLY;
for (const [name, load] of Object.entries(loaders)) {
  if (only && only !== name) continue;
  try {
    peers.set(name, load());
  } catch (e) {
    missing[name] = String(e?.message ?? e).split("\n")[0];
  }
}

/** Answers one request (see the header). */
async function answer({ peer, kind, mode }) {
  const encode = peers.get(peer), texts = kinds.get(kind);
  if (!encode || !texts) throw new Error(`no peer ${peer} or kind ${kind}`);
  if (mode === "cold") {
    let tokens = 0;
    const t0 = performance.now();
    for (const text of texts.cold) tokens += (await encode(text)).length;
    return { ms: performance.now() - t0, tokens };
  }
  const warmBytes = Buffer.byteLength(texts.warm);
  const tokens = (await encode(texts.warm)).length;
  const ms = [];
  const stop = performance.now() + job.warmMs;
  while (performance.now() < stop || ms.length < 5) {
    const t0 = performance.now();
    await encode(texts.warm);
    ms.push(performance.now() - t0);
  }
  return { mbps: warmBytes / median(ms) / 1e3, tokens };
}

// readyMs: milliseconds from the process's start to here (Node's start-up and the peers' loads).
console.log(JSON.stringify({ peers: [...peers.keys()], missing, readyMs: performance.now() }));
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim()) console.log(JSON.stringify(await answer(JSON.parse(line))));
}
