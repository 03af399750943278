// Pre-tokenization parallel over split points (src/gpu/pretokenize.ts): the CPU implementation of
// the kernel's algorithm against the reference scanner `splitPieces`, on every machine; the WGSL
// kernel against both where a WebGPU adapter exists (small inputs: software adapters are slow).

import { test } from "node:test";
import assert from "node:assert/strict";
import { GpuContext } from "../../src/gpu/context.ts";
import {
  GpuPretokenizer,
  isSplitPoint,
  joins,
  pretokenizeCpu,
  type PretokenizeInput,
} from "../../src/gpu/pretokenize.ts";
import { NONE } from "../../src/gpu/tables.ts";
import { splitPieces } from "../../src/tokenizer/pieces.ts";
import { TokenBuffer } from "../../src/tokenizer/token_buffer.ts";
import { classTable } from "../../src/tokenizer/_classes.ts";
import { mulberry32 } from "../_support/random.ts";
import { ADVERSARIAL } from "../engine/samples.ts";
import { chunkLines, jsonlFiles, textFiles } from "../tokenizer/_corpus.ts";
import { gpuSkip, requireGpu } from "./gpu_env.ts";

const te = new TextEncoder();

/** The adversarial list of the issue: one string per hazard of the split rule. */
const HAZARDS: string[] = [
  ...ADVERSARIAL,
  "e\u0301\u0301 a\u0308 .\u0301 \u0301x \u0301 1\u0301 \n\u0301 '\u0301s x\u0301's",
  "👩\u200d💻 a\u200db \u200d \u200d\u200d x\u200d\n",
  "\r\n\r\n\r\n\r\r\n\n\r x\r\n y \r\n\r\n z\r\n/\r\n//\n",
  ...["s", "t", "re", "ve", "m", "ll", "d"].flatMap((c) => {
    const cases = [
      c,
      c.toUpperCase(),
      c[0].toUpperCase() + c.slice(1),
      c[0] + c.slice(1).toUpperCase(),
    ];
    return cases.map((x) => `I'${x} it'${x} IT'${x} 9'${x} '${x} ''${x} .'${x} x'${x}x`);
  }),
  "it'ſ IT'ſ 'ſ x'ſ'ſ",
  ...Array.from(
    { length: 12 },
    (_, k) => "1234567890ab".slice(0, k) + " x" + "9".repeat(k + 1) + "y",
  ),
  "1".repeat(301) + " " + "٣".repeat(7) + "x" + "²".repeat(5),
  "a  b   c\t\t d \n e\n\n f \u00a0g\u0085h\ufeffi \u3000j  .  ,\t!",
  "  \n  x",
  "x  ",
  "x \n",
  " \u0085 ",
  "\u0085\u0085x",
  "\ufeff\ufeffx",
  "\u00a0x",
  "x\u00a0",
  "\u{1FAE9}\u{1FAEA} \u{1CC00}x \u{16D40}y", // Unicode 17 code points (unassigned in 16)
  "\ud800x \udfff y\ud83d", // lone surrogates become U+FFFD
  "a/b//c\n/d.\n/\r\n/ e.//\n",
  "ABCdef DEFghi ǅungla ǈx Ⅻ x\u02b0y",
];

/** `splitPieces` over `text` as one segment. */
function reference(utf8: Uint8Array): Uint32Array {
  const ends = new TokenBuffer();
  splitPieces(utf8, 0, utf8.length, ends);
  return ends.toArray();
}

function oneSegment(utf8: Uint8Array): PretokenizeInput {
  return {
    text: utf8,
    starts: new Uint32Array([0, utf8.length]),
    scanEnds: new Uint32Array([utf8.length]),
    presets: new Uint32Array([NONE]),
  };
}

/** Many texts as segments of one window (every fourth followed by a preset literal). */
function manySegments(texts: readonly string[]): { input: PretokenizeInput; want: Uint32Array } {
  const parts: Uint8Array[] = [], starts = [0], scanEnds: number[] = [], presets: number[] = [];
  const want: number[] = [];
  let at = 0;
  for (let i = 0; i < texts.length; i++) {
    const b = te.encode(texts[i]);
    if (b.length > 0) {
      for (const e of reference(b)) want.push(at + e);
      parts.push(b);
      at += b.length;
      starts.push(at), scanEnds.push(at), presets.push(NONE);
    }
    if (i % 4 === 3) {
      const lit = te.encode("<|end|>");
      parts.push(lit);
      at += lit.length;
      want.push(at);
      starts.push(at), scanEnds.push(at), presets.push(i);
    }
  }
  const text = new Uint8Array(at);
  let o = 0;
  for (const p of parts) text.set(p, o), o += p.length;
  return {
    input: {
      text,
      starts: Uint32Array.from(starts),
      scanEnds: Uint32Array.from(scanEnds),
      presets: Uint32Array.from(presets),
    },
    want: Uint32Array.from(want),
  };
}

function assertSame(got: Uint32Array, want: Uint32Array, what: string) {
  if (got.length === want.length && got.every((e, k) => e === want[k])) return;
  let k = 0;
  while (k < got.length && k < want.length && got[k] === want[k]) k++;
  assert.fail(
    `${what}: pieces differ at piece ${k} (byte ${want[k - 1] ?? 0}): ` +
      `${got[k]} instead of ${want[k]}`,
  );
}

function randomTexts(seed: number, count: number, maxLen: number): string[] {
  const rand = mulberry32(seed);
  const alphabet = [..."aZ09 \t\n\r'sStTlLdD.,!/-_"].concat([
    "\u0301",
    "\u200d",
    "\u0085",
    "\ufeff",
    "\u00a0",
    "é",
    "ß",
    "ſ",
    "中",
    "😀",
    "\u{1F3FD}",
    "\u0e49",
    "٣",
    "²",
    "ǅ",
    "\u3000",
    "\u2028",
    "\u{1FAE9}",
    "\ud800",
  ]);
  const out: string[] = [];
  for (let t = 0; t < count; t++) {
    let s = "";
    const n = Math.floor(rand() * maxLen);
    for (let k = 0; k < n; k++) {
      // Random code points of every plane now and then, else the hazard alphabet.
      s += rand() < 0.1
        ? String.fromCodePoint(Math.floor(rand() * 0x10ffff) & ~0x800 | 0)
        : alphabet[Math.floor(rand() * alphabet.length)];
    }
    out.push(s);
  }
  return out;
}

test("joins() is true inside every piece splitPieces makes (the split rule is sound on the hazard list)", () => {
  const t = classTable();
  for (const s of [...HAZARDS, ...randomTexts(7, 300, 80)]) {
    const b = te.encode(s);
    let prev = 0;
    for (const e of reference(b)) {
      for (let i = prev + 1; i < e; i++) {
        assert.equal(isSplitPoint(b, i, 0), false, `${JSON.stringify(s.slice(0, 32))} at ${i}`);
      }
      prev = e;
    }
  }
  const c = (x: string) => t[x.codePointAt(0)!];
  // Marks join letters, punctuation and a following mark; a mark then a space splits.
  assert.equal(joins(c("a"), 0x61, c("\u0301"), 0xcc), true);
  assert.equal(joins(c("."), 0x2e, c("\u0301"), 0xcc), true);
  assert.equal(joins(c("\u0301"), 0xcc, c(" "), 0x20), false);
  assert.equal(joins(c("x"), 0x78, c("'"), 0x27), true);
  assert.equal(joins(c("\n"), 0x0a, c("a"), 0x61), false);
  assert.equal(joins(c("\r"), 0x0d, c("/"), 0x2f), true);
});

test("pretokenizeCpu equals splitPieces on the hazard list, one text per segment and all in one window", () => {
  for (const s of HAZARDS) {
    const b = te.encode(s);
    assertSame(pretokenizeCpu(oneSegment(b)).ends, reference(b), JSON.stringify(s.slice(0, 32)));
  }
  const { input, want } = manySegments(HAZARDS);
  const r = pretokenizeCpu(input);
  assertSame(r.ends, want, "all hazards");
  assert.equal(r.presets.filter((p) => p !== NONE).length, Math.floor(HAZARDS.length / 4));
});

test("pretokenizeCpu equals splitPieces on the corpus", { timeout: 120_000 }, () => {
  const texts = [...textFiles(), ...jsonlFiles()].flatMap((f) =>
    f.texts.flatMap((t) => chunkLines(t))
  );
  let bytes = 0;
  for (const s of texts) {
    const b = te.encode(s);
    bytes += b.length;
    assertSame(pretokenizeCpu(oneSegment(b)).ends, reference(b), JSON.stringify(s.slice(0, 32)));
  }
  assert.ok(bytes > 10_000, `${bytes} bytes`);
});

test("pretokenizeCpu equals splitPieces on random Unicode (seeded)", () => {
  const texts = randomTexts(0x5eed, 400, 200);
  for (const s of texts) {
    const b = te.encode(s);
    assertSame(pretokenizeCpu(oneSegment(b)).ends, reference(b), JSON.stringify(s.slice(0, 32)));
  }
  const { input, want } = manySegments(texts);
  assertSame(pretokenizeCpu(input).ends, want, "random, one window");
});

test("pretokenizeCpu is exact on texts with no split point (100 KB without a space)", () => {
  for (
    const s of [
      "x".repeat(100_000),
      "7".repeat(100_001),
      " ".repeat(100_000) + "x",
      "中".repeat(40_000),
      ".".repeat(100_000) + "\n",
    ]
  ) {
    const b = te.encode(s);
    let splits = 0;
    for (let i = 1; i < b.length; i++) if (isSplitPoint(b, i, 0)) splits++;
    assert.ok(splits <= 1, `${splits} split points`);
    assertSame(pretokenizeCpu(oneSegment(b)).ends, reference(b), s.slice(0, 8));
  }
});

test("pretokenizeCpu scans a window cut at a split point with 4 bytes of look-ahead like the whole text", () => {
  // "x  1": the cut before "1" must still see "1" (\s+(?!\S) backs off one space).
  for (const s of ["ab  12", "ab \u00a0\u00a0\u3000中", "ab\t\t.x", "x'  y", "hi !!\n\nz"]) {
    const b = te.encode(s), want = reference(b);
    for (let c = 1; c < b.length; c++) {
      if (!isSplitPoint(b, c, 0)) continue;
      const view = Math.min(b.length, c + 4);
      const left = pretokenizeCpu({
        text: b.subarray(0, view),
        starts: new Uint32Array([0, c]),
        scanEnds: new Uint32Array([view]),
        presets: new Uint32Array([NONE]),
      });
      assertSame(left.ends, want.filter((e) => e <= c), `${JSON.stringify(s)} cut at ${c}`);
    }
  }
});

test("pretokenizeCpu lists exactly the pre-tokenized pieces over 64 bytes", () => {
  const texts = [
    "x".repeat(65) + " " + "y".repeat(64),
    "日本語の文章はスペースなしで長く続きます。".repeat(3),
    "short words only",
    "<|end|>".repeat(20),
  ];
  const { input } = manySegments(texts);
  const r = pretokenizeCpu(input);
  const want: number[] = [];
  for (let j = 0, s = 0; j < r.ends.length; s = r.ends[j++]) {
    if (r.presets[j] === NONE && r.ends[j] - s > 64) want.push(j);
  }
  assert.ok(want.length >= 2);
  assert.deepEqual([...r.long!], want);
});

// GPU: the kernel against pretokenizeCpu (hence splitPieces).
async function withPretokenizer(fn: (p: GpuPretokenizer) => Promise<void>) {
  const ctx = await GpuContext.create(requireGpu());
  try {
    await fn(new GpuPretokenizer(ctx));
  } finally {
    ctx.destroy();
  }
}

async function assertGpuSame(p: GpuPretokenizer, input: PretokenizeInput, what: string) {
  const want = pretokenizeCpu(input);
  const got = await p.run(input);
  assertSame(got.ends, want.ends, what);
  assert.deepEqual([...got.presets], [...want.presets], what);
  assert.deepEqual([...(got.long ?? [])], [...(want.long ?? [])], `${what}: long pieces`);
}

test("the pretokenize kernel equals pretokenizeCpu on the hazard list and random Unicode", {
  skip: gpuSkip,
  timeout: 300_000,
}, async () => {
  await withPretokenizer(async (p) => {
    await assertGpuSame(p, manySegments(HAZARDS).input, "hazards");
    await assertGpuSame(p, manySegments(randomTexts(0xbeef, 150, 120)).input, "random");
    for (const s of HAZARDS.slice(-12)) await assertGpuSame(p, oneSegment(te.encode(s)), s);
  });
});

test(
  "the pretokenize kernel equals pretokenizeCpu on a corpus sample and on texts with no split point",
  {
    skip: gpuSkip,
    timeout: 300_000,
  },
  async () => {
    await withPretokenizer(async (p) => {
      const sample = [...textFiles(), ...jsonlFiles()].map((f) =>
        f.texts.join("\n").slice(0, 3000)
      );
      await assertGpuSame(p, manySegments(sample).input, "corpus sample");
      for (const s of ["x".repeat(20_000), "7".repeat(9_001) + "ab", " ".repeat(5_000) + "x"]) {
        await assertGpuSame(p, oneSegment(te.encode(s)), s.slice(0, 4));
      }
      // A window cut at a split point, with look-ahead past its end.
      const b = te.encode("ab  12 cd");
      await assertGpuSame(p, {
        text: b.subarray(0, 8),
        starts: new Uint32Array([0, 4]),
        scanEnds: new Uint32Array([8]),
        presets: new Uint32Array([NONE]),
      }, "cut window");
    });
  },
);
