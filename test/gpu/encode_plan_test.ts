// The GPU host plan (src/gpu/encode_plan.ts) executed through the CPU references of its kernels:
// runs on every machine, with binding limits small enough to force chunking, and must give what
// the CPU tokenizer gives, token for token and error for error.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  cpuExecutor,
  encodeWithPlan,
  packTexts,
  type PlanEnvironment,
  planPretokenizeWindows,
  planSpecialWindows,
  textsToRedo,
  windowInput,
} from "../../src/gpu/encode_plan.ts";
import {
  isSplitPoint,
  pretokenizeBindingBytes,
  pretokenizeCpu,
} from "../../src/gpu/pretokenize.ts";
import { buildSpecialTables, NONE } from "../../src/gpu/tables.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import { harmonySpecialTokens } from "../../src/tokenizer/special_tokens.ts";
import type { EncodeOptions } from "../../src/tokenizer/types.ts";
import { loadVocabulary } from "../../src/tokenizer/vocabulary.ts";
import { mulberry32 } from "../_support/random.ts";
import {
  ADVERSARIAL,
  conversationSamples,
  harmonySamples,
  textSamples,
  toolSamples,
} from "../engine/samples.ts";

const tok = await loadTokenizer();
const vocab = await loadVocabulary();
const specials = buildSpecialTables(harmonySpecialTokens());
const exec = cpuExecutor(vocab, specials);

const OPTIONS: ReadonlyArray<EncodeOptions | undefined> = [
  undefined,
  { disallowedSpecial: [] },
  { allowedSpecial: "all" },
  { allowedSpecial: ["<|start|>", "<|end|>"], disallowedSpecial: ["<|call|>"] },
];

/** Encodes by the plan and asserts each text equals `tok.encode` (tokens, or error class+text). */
async function assertPlanEncodes(
  texts: readonly string[],
  options: EncodeOptions | undefined,
  env: Partial<PlanEnvironment> = {},
) {
  const r = await encodeWithPlan(texts, options, { vocab, specials, limit: 1 << 20, ...env }, exec);
  assert.equal(r.offsets.length, texts.length + 1);
  for (let i = 0; i < texts.length; i++) {
    const got = r.tokens.subarray(r.offsets[i], r.offsets[i + 1]);
    let want: Uint32Array | Error;
    try {
      want = tok.encode(texts[i], options);
    } catch (e) {
      want = e as Error;
    }
    const what = `text ${i} (${JSON.stringify(texts[i].slice(0, 32))}) ${JSON.stringify(options)}`;
    if (want instanceof Error) {
      const e = r.errors.get(i);
      assert.ok(e, `${what} should fail: ${want.message}`);
      assert.equal(e.constructor, want.constructor);
      assert.equal(e.message, want.message);
      assert.equal(got.length, 0);
    } else {
      assert.equal(r.errors.get(i), undefined, what);
      if (got.length !== want.length || !got.every((t, k) => t === want[k])) {
        assert.deepEqual([...got], [...want], what);
      }
    }
  }
  return r;
}

const corpus = [
  ...ADVERSARIAL,
  ...textSamples(),
  ...conversationSamples(),
  ...toolSamples(),
  ...harmonySamples(20),
];

for (const limit of [1 << 20, 16 * 1024, 256]) {
  test(`the encode plan equals the tokenizer with ${limit}-byte bindings (every option set)`, async () => {
    for (const options of OPTIONS) {
      const r = await assertPlanEncodes(corpus, options, { limit });
      if (limit === 256) {
        assert.ok(r.chunks > 100, `${r.chunks} chunks`);
        if (r.specialWindows > 0) assert.ok(r.specialWindows > 100, `${r.specialWindows} windows`);
      }
    }
  });
}

test("the encode plan with a 4-byte per-thread limit encodes long pieces on the CPU, same tokens", async () => {
  const r = await assertPlanEncodes(corpus, { allowedSpecial: "all" }, { maxPieceBytes: 4 });
  assert.ok(r.cpuPieces > 100);
  assert.equal(r.inputBytes, corpus.reduce((a, t) => a + new TextEncoder().encode(t).length, 0));
  assert.ok(r.hostMs > 0 && r.hostMs < 60_000);
});

test("the encode plan finds literals across special-scan windows and chunk ends", async () => {
  // Windows of 38 bytes overlapping by 18: literals at every offset modulo the window.
  const texts: string[] = [];
  for (let k = 0; k < 60; k++) {
    texts.push("x".repeat(k) + "<|start|>user<|message|>" + "y".repeat(k));
  }
  texts.push(Array.from({ length: 200 }, (_, k) => "a".repeat(k % 40) + "<|end|>").join(""));
  await assertPlanEncodes(texts, { allowedSpecial: "all" }, { limit: 256 });
  await assertPlanEncodes(texts, undefined, { limit: 256 });
  assert.equal(planSpecialWindows(0, 19, 256).length, 0);
});

test("a disallowed literal after U+FEFF or astral code points reports the UTF-16 offset, as encode() does", async () => {
  const texts = ["\ufeff<|end|>", "\ufeff\ufeffab<|start|>", "😀é<|call|>", "\ud800<|end|>"];
  const r = await assertPlanEncodes(texts, undefined);
  assert.equal(
    r.errors.get(0)?.message,
    "Cannot encode text: disallowed special token <|end|> at offset 1",
  );
  assert.match(r.errors.get(2)!.message, /at offset 3$/);
});

test("the encode plan equals the tokenizer on random Unicode (seeded)", async () => {
  const rand = mulberry32(0x5eed);
  const alphabet = [..."aZ09 \t\n\r'sS.,!-_<|>"].concat(
    ["\u0301", "\u200d", "\u0085", "\ufeff", "é", "ß", "中", "😀", "\u{1F3FD}", "\u0e49"],
  );
  const texts: string[] = [];
  for (let t = 0; t < 200; t++) {
    let s = "";
    const n = Math.floor(rand() * 120);
    for (let k = 0; k < n; k++) s += alphabet[Math.floor(rand() * alphabet.length)];
    texts.push(s);
  }
  await assertPlanEncodes(texts, { disallowedSpecial: [] }, { limit: 512 });
});

test("the encode plan pre-tokenizes through the executor, never the host, with windows cut at split points", async () => {
  const texts = [
    "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm".repeat(20),
    "x  1 y\t\t2 z \u00a0\u00a03 '  s\r\n\r\n  w".repeat(30),
    "",
    "hi<|end|>there",
  ];
  const seen: Array<[number, number]> = [];
  let covered = 0;
  const spy = {
    ...exec,
    encodeFused: undefined, // the windows of the steps one by one (fused: test/gpu/fused_test.ts)
    pretokenize: (input: Parameters<NonNullable<typeof exec.pretokenize>>[0]) => {
      const n = input.starts[input.starts.length - 1];
      covered += n;
      seen.push([n, input.text.length]);
      return pretokenizeCpu(input);
    },
  };
  for (const limit of [1 << 20, 256]) {
    seen.length = 0, covered = 0;
    const r = await encodeWithPlan(texts, { allowedSpecial: "all" }, {
      vocab,
      specials,
      limit,
    }, spy);
    for (let i = 0; i < texts.length; i++) {
      assert.deepEqual(
        [...r.tokens.subarray(r.offsets[i], r.offsets[i + 1])],
        [...tok.encode(texts[i], { allowedSpecial: "all" })],
        `text ${i} at ${limit}`,
      );
    }
    assert.equal(r.hostPretokenizeWindows, 0);
    assert.equal(covered, r.inputBytes);
    assert.equal(r.pretokenizeWindows, seen.length);
    if (limit === 256) {
      assert.ok(seen.length > 50, `${seen.length} windows`);
      // Cut windows carry look-ahead past their end.
      assert.ok(seen.some(([n, view]) => view > n));
    } else assert.equal(seen.length, 1);
  }
});

test("a segment with no split point within a binding is pre-tokenized on the host, exactly", async () => {
  const texts = ["x".repeat(5000), "7".repeat(3001) + "ab", "a b " + "中".repeat(900) + " c"];
  const r = await assertPlanEncodes(texts, undefined, { limit: 256 });
  assert.ok(r.hostPretokenizeWindows >= 3, `${r.hostPretokenizeWindows} host windows`);
});

test("textsToRedo lists, ascending and once, the texts holding a literal in play or a long piece's end", () => {
  const rand = mulberry32(11);
  const end = specials.literals.indexOf("<|end|>"), start = specials.literals.indexOf("<|start|>");
  const rules: EncodeOptions[] = [{}, { allowedSpecial: ["<|end|>"], disallowedSpecial: [] }, {
    allowedSpecial: [],
    disallowedSpecial: [],
  }];
  for (let round = 0; round < 200; round++) {
    const texts = Array.from(
      { length: 1 + Math.floor(rand() * 12) },
      () => "x".repeat(Math.floor(rand() * 6)),
    );
    const packed = packTexts(texts);
    const n = packed.text.length;
    if (n === 0) continue;
    const m: number[] = [];
    for (let b = 0; b < n; b++) if (rand() < 0.2) m.push(b, rand() < 0.5 ? end : start);
    const ends = Uint32Array.from(
      { length: Math.floor(rand() * 4) },
      () => 1 + Math.floor(rand() * n),
    );
    const options = rules[round % rules.length];
    // In play: allowed, or forbidden (the default forbids every literal not allowed).
    const inPlay = (idx: number) => {
      const lit = specials.literals[idx];
      const allowed = options.allowedSpecial === "all" ||
        [...(options.allowedSpecial ?? [])].includes(lit);
      const forbidden = !allowed && options.disallowedSpecial === undefined;
      return allowed || forbidden;
    };
    const want: number[] = [];
    for (let i = 0; i < texts.length; i++) {
      const s = packed.starts[i], e = packed.starts[i + 1];
      const lit = m.some((b, k) => k % 2 === 0 && b >= s && b < e && inPlay(m[k + 1]));
      const long = [...ends].some((x) => x - 1 >= s && x - 1 < e);
      if (lit || long) want.push(i);
    }
    assert.deepEqual(
      textsToRedo(packed, Uint32Array.from(m), ends, specials, options),
      want,
      `round ${round}`,
    );
  }
});

test("planPretokenizeWindows covers the text contiguously, within the limit, cutting only at split points", () => {
  const rand = mulberry32(99);
  const text = new TextEncoder().encode(
    Array.from(
      { length: 400 },
      () => ["ab", " ", "  ", "1", "\n", "é", "'s", ".", "中"][Math.floor(rand() * 9)],
    ).join(""),
  );
  const starts = [0], presets: number[] = [];
  for (let at = 0; at < text.length;) {
    let e = Math.min(text.length, at + 1 + Math.floor(rand() * 300));
    while (e < text.length && (text[e] & 0xc0) === 0x80) e++;
    starts.push(e), presets.push(rand() < 0.2 ? presets.length : NONE);
    at = e;
  }
  const seg = { starts: Uint32Array.from(starts), presets: Uint32Array.from(presets) };
  for (const limit of [256, 1024, 1 << 20]) {
    const windows = planPretokenizeWindows(text, seg, limit);
    let at = 0;
    for (const w of windows) {
      assert.equal(w.b0, at);
      assert.ok(w.b1 > w.b0 && w.view >= w.b1 && w.view <= w.b1 + 4);
      const input = windowInput(text, seg, w);
      if (!w.cpu) {
        assert.ok(
          pretokenizeBindingBytes(w.b1 - w.b0, input.text.length, w.s1 - w.s0) <= limit,
          `window at ${w.b0} over ${limit}`,
        );
      }
      if (!starts.includes(w.b1)) assert.ok(isSplitPoint(text, w.b1, starts[w.s1 - 1]));
      at = w.b1;
    }
    assert.equal(at, text.length);
  }
});

test("the plan's host time is split by phase, the phases adding up to hostMs", async () => {
  const texts = [...textSamples(), ...harmonySamples()].slice(0, 40);
  const r = await encodeWithPlan(texts, { allowedSpecial: "all" }, {
    vocab,
    specials,
    limit: 1 << 20,
  }, exec);
  const phases = Object.values(r.hostPhases);
  assert.equal(phases.length, 9);
  for (const ms of phases) assert.ok(ms >= 0);
  const sum = phases.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - r.hostMs) < 1e-6, `${sum} vs ${r.hostMs}`);
  assert.ok(r.hostPhases.pack > 0 && r.hostPhases.submit > 0);
});

test("batches reuse one packing buffer, and batches in flight never share one", async () => {
  const env = { vocab, specials, limit: 1 << 20 };
  const texts = ["Hello world", "héllo <|end|> wörld", "x".repeat(100)];
  const seen: ArrayBufferLike[] = [];
  const spy = (gate?: Promise<void>) => ({
    ...exec,
    encodeFused: undefined, // the steps one by one: the special scan sees the packed buffer
    findSpecials: async (text: Uint8Array) => {
      seen.push(text.buffer);
      await gate;
      return exec.findSpecials(text);
    },
  });
  const want = await encodeWithPlan(texts, { allowedSpecial: "all" }, env, spy());
  await encodeWithPlan(texts, { allowedSpecial: "all" }, env, spy());
  assert.equal(seen[1], seen[0], "the second batch packs into the first one's buffer");
  // Two batches at once: each its own buffer, both results as alone.
  seen.length = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const a = encodeWithPlan(texts, { allowedSpecial: "all" }, env, spy(gate));
  const b = encodeWithPlan(texts.slice().reverse(), { allowedSpecial: "all" }, env, spy(gate));
  await Promise.resolve();
  open();
  const [ra, rb] = await Promise.all([a, b]);
  assert.notEqual(seen[0], seen[1]);
  assert.deepEqual(ra.tokens, want.tokens);
  const again = await encodeWithPlan(texts.slice().reverse(), { allowedSpecial: "all" }, env, exec);
  assert.deepEqual(rb.tokens, again.tokens);
});

test("the plan lists the pieces left to the long-piece merge, per chunk, in local indices", async () => {
  const { chunkBatch, finishPieces, packTexts, planChunks, planSegments } = await import(
    "../../src/gpu/encode_plan.ts"
  );
  const texts = ["a" + "b".repeat(99), "short words here", "x".repeat(5000), " " + "é".repeat(40)];
  const packed = packTexts(texts);
  const seg = planSegments(packed, new Uint32Array(0), specials, {});
  const windows = planPretokenizeWindows(packed.text, seg, 1 << 20);
  const results = windows.map((w) => pretokenizeCpu(windowInput(packed.text, seg, w)));
  const plan = finishPieces(packed, seg, windows, results, vocab, 4096);
  // Pieces over 64 B and at most 4096 B: the 100-byte word and the 81-byte "é" run; the
  // 5000-byte one is encoded on the host.
  const want: number[] = [];
  for (let j = 0, s = 0; j < plan.ends.length; s = plan.ends[j++]) {
    const len = plan.ends[j] - s;
    if (plan.presets[j] === NONE && len > 64) want.push(j);
  }
  assert.deepEqual([...plan.long], want);
  assert.equal(want.length, 2);
  assert.equal(plan.cpuPieces, 1);
  // Cut into many chunks, each chunk's list holds its own long pieces, counted from its start.
  const got: number[] = [];
  for (const c of planChunks(plan, 600)) {
    const { batch } = chunkBatch(plan, packed.text, c);
    for (const j of batch.long ?? []) got.push(j + c.p0);
  }
  assert.deepEqual(got, want);
});

test("the synchronous part of every executor call counts as host time (submit), awaits do not", async () => {
  const spin = (ms: number) => {
    const t = performance.now();
    while (performance.now() - t < ms) { /* busy: host work of the executor */ }
  };
  const slow: typeof exec = {
    findSpecials: (text) => {
      spin(15);
      return new Promise((resolve) => setTimeout(() => resolve(exec.findSpecials(text)), 30));
    },
    pretokenize: (input) => {
      spin(15);
      return new Promise((resolve) => setTimeout(() => resolve(exec.pretokenize!(input)), 30));
    },
    encodePieces: exec.encodePieces,
  };
  const r = await encodeWithPlan(["Hello <|end|> world"], { allowedSpecial: "all" }, {
    vocab,
    specials,
    limit: 1 << 20,
  }, slow);
  assert.ok(r.hostPhases.submit >= 29, `submit ${r.hostPhases.submit}`);
  // The awaits (2 × 30 ms) are not host time; the plan's own work is a few ms.
  assert.ok(r.hostMs < 85, `hostMs ${r.hostMs} counts no await`);
});
