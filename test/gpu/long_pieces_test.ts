import { test } from "node:test";
import assert from "node:assert/strict";
import { createGpuBackend } from "../../src/engine/gpu_backend.ts";
import { GpuPieceEncoder } from "../../src/gpu/encoder.ts";
import { GpuLongPieceEncoder, type LongPieces, mergeLongCpu } from "../../src/gpu/long_pieces.ts";
import { MAX_GPU_PIECE_BYTES } from "../../src/gpu/kernels.ts";
import { encodePiece } from "../../src/tokenizer/bpe.ts";
import { TokenBuffer } from "../../src/tokenizer/token_buffer.ts";
import { loadVocabulary } from "../../src/tokenizer/vocabulary.ts";
import { gpuSkip, requireGpu } from "./gpu_env.ts";

const vocab = await loadVocabulary();
let seed = 7;
const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;

/** One text holding the pieces back to back, and their (start, end) pairs. */
function piecesOf(parts: Uint8Array[]): { text: Uint8Array; pieces: Uint32Array } {
  const text = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  const pieces = new Uint32Array(2 * parts.length);
  let at = 0;
  parts.forEach((p, i) => {
    text.set(p, at);
    pieces[2 * i] = at;
    pieces[2 * i + 1] = at += p.length;
  });
  return { text, pieces };
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const cjk = (n: number) =>
  utf8(
    Array.from({ length: n }, () => String.fromCharCode(0x4e00 + Math.floor(rand() * 3000))).join(
      "",
    ),
  );
const letters = (n: number) =>
  utf8(Array.from({ length: n }, () => "etaoinshrdlu"[Math.floor(rand() * 12)]).join(""));
const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));

/** The reference: `encodePiece` of the CPU tokenizer, piece by piece. */
function reference(text: Uint8Array, pieces: Uint32Array): LongPieces {
  const out = new TokenBuffer();
  const offsets = new Uint32Array(pieces.length / 2 + 1);
  for (let i = 0; i < pieces.length; i += 2) {
    encodePiece(vocab, text, pieces[i], pieces[i + 1], out);
    offsets[i / 2 + 1] = out.length;
  }
  return { tokens: out.toArray(), offsets };
}

const kinds: Array<[string, Uint8Array[]]> = [
  ["CJK runs", [cjk(30), cjk(200), cjk(1000)]],
  ["letters without a space", [letters(65), letters(500), letters(3000)]],
  ["random bytes", [bytes(65), bytes(700), bytes(2000)]],
  ["a repeated letter", [utf8("a".repeat(1000)), utf8("ab".repeat(700))]],
  ["whole tokens and short pieces", [utf8(" tokenization"), utf8("x"), utf8("=".repeat(80))]],
];

for (const [name, parts] of kinds) {
  test(`mergeLongCpu() equals encodePiece on ${name}`, () => {
    const { text, pieces } = piecesOf(parts);
    const got = mergeLongCpu(vocab, text, pieces), want = reference(text, pieces);
    assert.deepEqual(got.offsets, want.offsets);
    assert.deepEqual(got.tokens, want.tokens);
  });
}

test("mergeLongCpu() equals encodePiece on 16 KB without a space", () => {
  const { text, pieces } = piecesOf([letters(16_000)]);
  assert.deepEqual(mergeLongCpu(vocab, text, pieces).tokens, reference(text, pieces).tokens);
});

test("mergeLongCpu() rejects overlapping or out-of-range pieces with a RangeError", () => {
  const text = utf8("hello world");
  for (const bad of [[0, 5, 4, 8], [0, 12], [3, 3]]) {
    assert.throws(() => mergeLongCpu(vocab, text, Uint32Array.from(bad)), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /^Cannot merge long pieces: piece \d+ \[\d+, \d+\)/);
      return true;
    });
  }
});

test(`the GPU long-piece kernel equals encodePiece on pieces over ${MAX_GPU_PIECE_BYTES} bytes`, {
  skip: gpuSkip,
  timeout: 120_000, // one merge per round: software adapters take seconds here
}, async () => {
  const backend = await createGpuBackend(requireGpu());
  try {
    const long = new GpuLongPieceEncoder(new GpuPieceEncoder(backend.ctx, vocab));
    for (const [name, parts] of kinds) {
      const { text, pieces } = piecesOf(parts);
      const got = await long.run(text, pieces), want = reference(text, pieces);
      assert.deepEqual(got.offsets, want.offsets, name);
      assert.deepEqual(got.tokens, want.tokens, name);
    }
    const { text, pieces } = piecesOf([letters(2500), cjk(600), bytes(1200)]);
    assert.deepEqual((await long.run(text, pieces)).tokens, reference(text, pieces).tokens);
  } finally {
    backend.destroy();
  }
});

test(
  "the GPU backend merges pieces of 65 to 4096 bytes on the GPU (no CPU pieces), same tokens as the CPU",
  {
    skip: gpuSkip,
    timeout: 120_000,
  },
  async () => {
    const { CpuBackend } = await import("../../src/engine/cpu_backend.ts");
    const td = new TextDecoder();
    const texts = [
      td.decode(cjk(40)),
      `日本語の文章 ${td.decode(cjk(300))} と ${td.decode(letters(200))}.`,
      td.decode(letters(5000)), // over 4096 bytes: encoded on the host
      "short text, no long piece",
    ];
    const want = (await CpuBackend.create()).encodeBatch(texts);
    for (const limit of [undefined, 4096]) {
      const backend = await createGpuBackend(requireGpu(), {
        maxStorageBufferBindingSize: limit,
        longPiecesOnGpu: true, // software adapters keep them on the host by default
        onWarning: (m) => assert.fail(`fell back to the CPU: ${m}`),
      });
      try {
        const got = await backend.encodeBatch(texts);
        assert.deepEqual(got.offsets, want.offsets, `limit ${limit}`);
        assert.deepEqual(got.tokens, want.tokens, `limit ${limit}`);
        // Only the 5000-byte piece (and, under a 4 KiB binding, pieces over its 252-byte budget).
        if (limit === undefined) assert.equal(backend.lastStats().cpuPieces, 1);
        else assert.ok(backend.lastStats().cpuPieces >= 2);
      } finally {
        backend.destroy();
      }
    }
    // By default a software adapter leaves them to the host (the same CPU, and faster there).
    const soft = await createGpuBackend(requireGpu());
    try {
      assert.deepEqual((await soft.encodeBatch(texts)).tokens, want.tokens);
      if (soft.ctx.adapter.software) assert.ok(soft.lastStats().cpuPieces >= 3);
    } finally {
      soft.destroy();
    }
  },
);
