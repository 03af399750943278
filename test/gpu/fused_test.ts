// One submission per batch (src/gpu/fused.ts): the plan's fused path through the CPU twin on
// every machine (when it is taken, when it falls back, same tokens either way), and the WGSL
// chain against the twin and the backend's round-trip count where a WebGPU adapter exists
// (small inputs: software adapters are slow).

import { test } from "node:test";
import assert from "node:assert/strict";
import { GpuBackend, type GpuBackendOptions } from "../../src/engine/gpu_backend.ts";
import { GpuContext } from "../../src/gpu/context.ts";
import { cpuExecutor, encodeWithPlan, type PlanExecutor } from "../../src/gpu/encode_plan.ts";
import { GpuPieceEncoder } from "../../src/gpu/encoder.ts";
import { encodeFusedCpu, FUSED_MATCHES, GpuFusedEncoder } from "../../src/gpu/fused.ts";
import { GpuPretokenizer } from "../../src/gpu/pretokenize.ts";
import { GpuSpecialScanner } from "../../src/gpu/special_scan.ts";
import { buildSpecialTables, NONE } from "../../src/gpu/tables.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import { harmonySpecialTokens } from "../../src/tokenizer/special_tokens.ts";
import type { EncodeOptions } from "../../src/tokenizer/types.ts";
import { loadVocabulary } from "../../src/tokenizer/vocabulary.ts";
import { ADVERSARIAL } from "../engine/samples.ts";
import { gpuSkip, requireGpu } from "./gpu_env.ts";

const tok = await loadTokenizer();
const vocab = await loadVocabulary();
const specials = buildSpecialTables(harmonySpecialTokens());
const exec = cpuExecutor(vocab, specials);
const env = { vocab, specials, limit: 1 << 20 };

function assertTokens(
  texts: readonly string[],
  r: { tokens: Uint32Array; offsets: Uint32Array; errors: Map<number, Error> },
  options?: EncodeOptions,
) {
  for (let i = 0; i < texts.length; i++) {
    let want: Uint32Array | string;
    try {
      want = tok.encode(texts[i], options);
    } catch (e) {
      want = (e as Error).message;
    }
    if (typeof want === "string") assert.equal(r.errors.get(i)?.message, want, `text ${i}`);
    else {
      assert.deepEqual(
        [...r.tokens.subarray(r.offsets[i], r.offsets[i + 1])],
        [...want],
        `text ${i}`,
      );
    }
  }
}

/** The CPU executor, counting its calls per method. */
function counting(): { exec: PlanExecutor; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const count = (k: string) => calls[k] = (calls[k] ?? 0) + 1;
  const wrapped: PlanExecutor = {
    findSpecials: (t) => (count("findSpecials"), exec.findSpecials(t)),
    pretokenize: (i) => (count("pretokenize"), exec.pretokenize!(i)),
    encodePieces: (b) => (count("encodePieces"), exec.encodePieces(b)),
    encodeFused: (j) => (count("encodeFused"), exec.encodeFused!(j)),
  };
  return { exec: wrapped, calls };
}

const PLAIN = [
  "Hello world",
  "",
  "  x 1234 y\r\n\r\n",
  ...ADVERSARIAL.filter((t) => !t.includes("<|") && new TextEncoder().encode(t).length <= 64),
  "",
  "naïve café 日本語",
];

test("a batch with no literal in play is one executor call (fused), same tokens", async () => {
  for (const options of [undefined, { allowedSpecial: "all" as const }]) {
    const { exec: e, calls } = counting();
    const r = await encodeWithPlan(PLAIN, options, env, e);
    assert.equal(r.fused, "done");
    assert.deepEqual(calls, { encodeFused: 1 });
    assertTokens(PLAIN, r, options);
  }
});

test("texts with a forbidden literal or a long piece are redone the ordinary way, the others kept; allowed literals are cut out in the fused call", async () => {
  const cases: Array<[string[], EncodeOptions | undefined, string]> = [
    // Allowed literals are cut out by the device (literal_segments): nothing goes back.
    [
      ["a<|end|>b", "plain", "", "x<|start|>", "<|end|><|start|>"],
      { allowedSpecial: "all" },
      "done",
    ],
    // A literal across two texts is text in both (as in planSegments).
    [["a<|en", "d|>b", "<|call|>"], { allowedSpecial: "all" }, "done"],
    [["plain", "x <|call|> y", "z"], undefined, "partly redone"],
    [["plain", "x <|call|> y<|end|>", "z"], { allowedSpecial: ["<|end|>"] }, "partly redone"],
    [
      ["a " + "b".repeat(200) + " c", "d", "日本語のテキストはスペースなしで長く続くことがある"],
      undefined,
      "partly redone",
    ],
    [[" ".repeat(100) + "x", "<|end|>"], { allowedSpecial: "all" }, "partly redone"],
    [[" ".repeat(100) + "x", "y <|end|>"], undefined, "fell back"],
  ];
  for (const [texts, options, how] of cases) {
    const { exec: e, calls } = counting();
    const r = await encodeWithPlan(texts, options, env, e);
    assert.equal(r.fused, how, JSON.stringify(texts));
    assert.equal(calls.encodeFused, 1);
    // The literals found by the fused call serve the redo (or the fall-back): no second scan.
    assert.equal(calls.findSpecials, undefined);
    if (how === "partly redone") assert.ok(r.redoneTexts < texts.length);
    assertTokens(texts, r, options);
  }
});

test("long pieces up to maxPieceBytes stay in the fused call (hardware adapters), longer ones are redone", async () => {
  const mid = "a " + "b".repeat(200) + " c",
    jp = "日本語のテキストはスペースなしで長く続くことがある";
  const huge = "x " + "y".repeat(300) + " z";
  for (const options of [undefined, { allowedSpecial: "all" as const }]) {
    // Pieces of 65 to 256 bytes are merged in the same submission: no text goes back.
    const wide = { ...env, maxPieceBytes: 256 };
    const { exec: e, calls } = counting();
    const r = await encodeWithPlan([mid, "d", jp, ""], options, wide, e);
    assert.equal(r.fused, "done");
    assert.deepEqual(calls, { encodeFused: 1 });
    assertTokens([mid, "d", jp, ""], r, options);
    // A piece over maxPieceBytes has no tokens there: only its text is redone.
    const { exec: e2, calls: c2 } = counting();
    const r2 = await encodeWithPlan([mid, huge, "d"], options, wide, e2);
    assert.equal(r2.fused, "partly redone");
    assert.equal(r2.redoneTexts, 1);
    assert.equal(c2.encodeFused, 1);
    assertTokens([mid, huge, "d"], r2, options);
  }
});

test("literals neither allowed nor forbidden stay text in the fused path, up to FUSED_MATCHES of them", async () => {
  // <|call|> is in play (the scan runs), <|end|> and <|start|> are plain text.
  const options = { allowedSpecial: ["<|call|>"], disallowedSpecial: [] };
  const few = ["a<|end|>b<|start|>", "c"];
  const r = await encodeWithPlan(few, options, env, exec);
  assert.equal(r.fused, "done");
  assertTokens(few, r, options);
  const many = ["<|end|>".repeat(FUSED_MATCHES + 1) + "<|call|>", "x"];
  // More literals than the fused read-back holds, none forbidden: the device cuts out the
  // allowed ones, so the matches are not needed.
  const { exec: e, calls } = counting();
  const r2 = await encodeWithPlan(many, options, env, e);
  assert.equal(r2.fused, "done");
  assert.deepEqual(calls, { encodeFused: 1 });
  assertTokens(many, r2, options);
  // With one forbidden the texts holding it must be known: the fall-back is seen coming.
  const strict = { allowedSpecial: ["<|call|>"], disallowedSpecial: ["<|return|>"] };
  const { exec: e3, calls: c3 } = counting();
  const r3 = await encodeWithPlan(many, strict, env, e3);
  assert.equal(r3.fused, "off");
  assert.equal(c3.encodeFused, undefined);
  assert.equal(c3.findSpecials, 1);
  assertTokens(many, r3, strict);
});

test("a text with a piece over the fused limit and more literals than the read-back holds is redone with its own scan", async () => {
  // Matches are not read back (too many) and none is forbidden: the redone text finds its own.
  const texts = ["<|start|>".repeat(FUSED_MATCHES + 1), "a " + "b".repeat(100) + "<|end|>", "c"];
  const { exec: e, calls } = counting();
  const r = await encodeWithPlan(texts, { allowedSpecial: "all" }, env, e);
  assert.equal(r.fused, "partly redone");
  assert.equal(r.redoneTexts, 1);
  assert.equal(calls.encodeFused, 1);
  assert.equal(calls.findSpecials, 1);
  assertTokens(texts, r, { allowedSpecial: "all" });
});

test("harmony outputs: allowed literals are one fused call; with literals forbidden, more heads than the read-back holds skip it", async () => {
  const turn = "<|start|>assistant<|channel|>final<|message|>The answer is 4.<|end|>";
  const texts = Array.from({ length: 20 }, (_, i) => `${turn} ${i}`);
  for (
    const [options, how, fusedCalls] of [
      [{ allowedSpecial: "all" as const }, "done", 1],
      [undefined, "off", undefined],
    ] as const
  ) {
    const { exec: e, calls } = counting();
    const r = await encodeWithPlan(texts, options, env, e);
    assert.equal(r.fused, how);
    assert.equal(calls.encodeFused, fusedCalls, "no wasted fused submission");
    assertTokens(texts, r, options);
  }
  // Under FUSED_MATCHES heads the fused call is still tried.
  const { exec: e, calls } = counting();
  await encodeWithPlan(texts.slice(0, 3), undefined, env, e);
  assert.equal(calls.encodeFused, 1);
  // A batch bigger than the sample is judged by it: harmony turns throughout skip the fused call
  // at once, chat with a few literals late on still tries it (and keeps its tokens exact).
  const many = Array.from({ length: 400 }, (_, i) => `${turn} ${i}`);
  const chat = Array.from({ length: 400 }, (_, i) => `Human: question ${i} about things\n`);
  chat[390] += "<|end|>";
  for (const [batch, tried] of [[many, undefined], [chat, 1]] as const) {
    const { exec: e2, calls: c2 } = counting();
    const r = await encodeWithPlan(batch, undefined, env, e2);
    assert.equal(c2.encodeFused, tried);
    assertTokens(batch, r, undefined);
  }
  // Allowed, a literal after the sample is not cut out on the device (the sample saw none, so
  // the batch skips literal_segments): its text is redone.
  const { exec: e3, calls: c3 } = counting();
  const r3 = await encodeWithPlan(chat, { allowedSpecial: "all" }, env, e3);
  assert.equal(c3.encodeFused, 1);
  assert.equal(r3.fused, "partly redone");
  assert.equal(r3.redoneTexts, 1);
  assertTokens(chat, r3, { allowedSpecial: "all" });
});

test("batches over one window or chunk do not take the fused path", async () => {
  const texts = ["aaaa bbbb cccc ".repeat(100)];
  const r = await encodeWithPlan(texts, undefined, { ...env, limit: 4096 }, exec);
  assert.equal(r.fused, "off");
  assertTokens(texts, r);
});

const GPU_TEXTS = ["Hello world", "", "x<|end|>y", " 12345 ", "a " + "b".repeat(100), "日本語 ok"];

test("GPU: the fused chain equals its CPU twin", { skip: gpuSkip }, async () => {
  const ctx = await GpuContext.create(requireGpu());
  try {
    const scanner = new GpuSpecialScanner(ctx, specials);
    const fused = new GpuFusedEncoder(
      new GpuPieceEncoder(ctx, vocab),
      new GpuPretokenizer(ctx),
      scanner,
    );
    const te = new TextEncoder();
    const cases: Array<[string[], number | undefined]> = [
      [GPU_TEXTS.filter((t) => !t.includes("b".repeat(100))), undefined],
      [GPU_TEXTS, undefined],
      // Long pieces merged in the same submission (merge_long's listed mode, an indirect
      // dispatch), one of them over longMax and left to the host.
      [GPU_TEXTS, 4096],
      [[...GPU_TEXTS, "c".repeat(90) + " " + "日本語".repeat(20), "z " + "q".repeat(300)], 256],
      [["no long piece here"], 256],
    ];
    // Allowed literals cut out on the device: at a text's start and end, side by side, across
    // two texts (text), at the batch's end, and a literal that is not allowed (text).
    const allLens = Uint32Array.from(specials.literalBytes, (b) => b.length);
    const someLens = allLens.slice();
    someLens[specials.literals.indexOf("<|start|>")] = 0;
    const literalCases: Array<[string[], Uint32Array]> = [
      [GPU_TEXTS, allLens],
      [[
        "<|start|>user<|message|>hi<|end|>",
        "a<|en",
        "d|>b",
        "",
        "x <|call|><|call|> y",
        "<|end|>",
      ], allLens],
      [["<|start|>x<|end|><|start|>", "<|start|>"], someLens],
    ];
    const all: Array<[string[], number | undefined, Uint32Array | undefined]> = [
      ...cases.map(([t, l]) => [t, l, undefined] as [string[], number | undefined, undefined]),
      ...literalCases.map(([t, lens]) => [t, 256, lens] as [string[], number, Uint32Array]),
    ];
    for (const [texts, longMax, literals] of all) {
      const parts = texts.map((t) => te.encode(t));
      const textStarts = new Uint32Array(texts.length + 1);
      for (let i = 0; i < parts.length; i++) textStarts[i + 1] = textStarts[i] + parts[i].length;
      const text = new Uint8Array(textStarts[texts.length]);
      parts.forEach((p, i) => text.set(p, textStarts[i]));
      const segs = [...textStarts.subarray(0, texts.length)].filter((s, i) =>
        textStarts[i + 1] > s
      );
      const starts = Uint32Array.from([...segs, text.length]);
      const job = {
        pre: {
          text,
          starts,
          scanEnds: starts.subarray(1),
          presets: new Uint32Array(segs.length).fill(NONE),
        },
        textStarts,
        scanSpecials: true,
        longMax,
        literals,
      };
      const got = await fused.run(job), want = encodeFusedCpu(vocab, specials, job);
      const expectLeft = literals
        ? 0
        : longMax === 256 && texts.length > 1
        ? 1
        : longMax
        ? 0
        : undefined;
      if (expectLeft !== undefined) assert.equal(want.longEnds.length, expectLeft);
      assert.deepEqual([...got.matches!], [...want.matches!]);
      assert.deepEqual([...got.longEnds].sort(), [...want.longEnds].sort());
      assert.deepEqual([...got.offsets], [...want.offsets]);
      assert.deepEqual([...got.tokens], [...want.tokens]);
    }
  } finally {
    ctx.destroy();
  }
});

/**
 * Encodes `texts` twice on a GPU backend made with `backendOptions` and checks that the second
 * batch (pipelines compiled, tables uploaded) is one submission and one read-back with the CPU
 * tokenizer's tokens.
 */
async function assertOneRoundTrip(
  texts: readonly string[],
  backendOptions: GpuBackendOptions = {},
  options?: EncodeOptions,
): Promise<void> {
  const backend = await GpuBackend.create(await GpuContext.create(requireGpu()), {
    onWarning: (m) => assert.fail(`fell back to the CPU: ${m}`),
    ...backendOptions,
  });
  try {
    await backend.encodeBatch(texts, options); // first use: tables uploaded, pipelines compiled
    const before = { ...backend.ctx.stats };
    const b = await backend.encodeBatch(texts, options);
    assert.equal(backend.ctx.stats.submits - before.submits, 1);
    assert.equal(backend.ctx.stats.readBacks - before.readBacks, 1);
    for (let i = 0; i < texts.length; i++) {
      assert.deepEqual(b.get(i), tok.encode(texts[i], options), `text ${i}`);
    }
  } finally {
    backend.destroy();
  }
}

test(
  "GPU: a plain batch is one submission and one read-back, same tokens",
  { skip: gpuSkip },
  () => assertOneRoundTrip(["Hello world", "", "  x 1234 y\r\n", "naïve café 日本語"]),
);

test(
  "GPU: with long pieces on the GPU, a batch holding one is still one submission, same tokens",
  { skip: gpuSkip },
  () =>
    assertOneRoundTrip(
      ["Hello world", "a " + "b".repeat(100) + " c", "日本語".repeat(30), ""],
      { longPiecesOnGpu: true }, // software adapters keep them on the host by default
    ),
);

test(
  "GPU: harmony turns with literals allowed are one submission and one read-back, same tokens",
  { skip: gpuSkip },
  () => {
    const turn = "<|start|>assistant<|channel|>final<|message|>The answer is 4.<|end|>";
    const texts = Array.from({ length: 40 }, (_, i) => `${turn} ${i}<|call|>`);
    texts.push("", "a<|en", "d|>", "plain");
    return assertOneRoundTrip(texts, {}, { allowedSpecial: "all" });
  },
);

test(
  "GPU: a fused batch's device time is measured when timestamps are on (deviceMsPerMB)",
  { skip: gpuSkip },
  async () => {
    const ctx = await GpuContext.create(requireGpu(), { timestamps: true });
    const backend = await GpuBackend.create(ctx);
    try {
      if (!ctx.timestamps) return; // the adapter has no timestamp-query: deviceMsPerMB is null
      const texts = ["Hello world", "naïve café 日本語", "x ".repeat(50)];
      await backend.encodeBatch(texts);
      const before = { ...ctx.stats };
      await backend.encodeBatch(texts);
      assert.equal(ctx.stats.submits - before.submits, 1, "the fused path");
      assert.ok(ctx.stats.gpuTimeNs > before.gpuTimeNs, "its time is booked");
    } finally {
      backend.destroy();
    }
  },
);
