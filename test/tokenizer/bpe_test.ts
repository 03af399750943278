import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BytePairEncoder,
  encodePiece,
  mergeLong,
  mergeShort,
  PAIR_MEMO_BYTES,
} from "../../src/tokenizer/bpe.ts";
import { mulberry32 } from "../_support/random.ts";
import { TokenBuffer } from "../../src/tokenizer/token_buffer.ts";
import { type ByteVocabulary, loadVocabulary } from "../../src/tokenizer/vocabulary.ts";
import { backtrackTables } from "../../src/tokenizer/_backtrack.ts";
import { naiveBpe, wasmOrdinary } from "./_reference.ts";
import { assertSameTokens } from "./_assert.ts";

const vocab = await loadVocabulary();
const te = new TextEncoder();

const random = mulberry32;

const run = (
  f: typeof mergeShort,
  bytes: Uint8Array,
): Uint32Array => {
  const out = new TokenBuffer();
  const n = f(vocab, bytes, 0, bytes.length, out);
  assert.equal(n, out.length);
  return out.toArray();
};

test("mergeShort() and mergeLong() equal the reference's merge rule on random byte strings", () => {
  const rnd = random(7);
  const alphabet = te.encode("aaabbe  ee\u00e4\u4e2d\u6587'sxyz0123\n\t");
  for (let k = 0; k < 400; k++) {
    const len = 1 + Math.floor(rnd() * (k < 300 ? 40 : 300));
    const piece = new Uint8Array(len);
    for (let i = 0; i < len; i++) piece[i] = alphabet[Math.floor(rnd() * alphabet.length)];
    const want = naiveBpe(piece);
    assertSameTokens(run(mergeShort, piece), want, `short, case ${k}`);
    assertSameTokens(run(mergeLong, piece), want, `long, case ${k}`);
  }
});

test("encodePiece() gives one token for a whole-token piece and appends to the sink", () => {
  const out = new TokenBuffer();
  out.push(7);
  const hello = te.encode(" hello");
  assert.equal(encodePiece(vocab, hello, 0, hello.length, out), 1);
  assert.deepEqual(Array.from(out.view()), [7, 40617]);
  assert.equal(encodePiece(vocab, hello, 3, 3, out), 0);
});

test("encodePiece() on runs of one letter equals tiktoken (ties merge leftmost)", () => {
  for (const n of [2, 3, 5, 17, 64, 65, 100, 1000, 4099]) {
    for (const ch of ["a", "x", "0", " ", "\u4e2d", "\u00e9"]) {
      const text = ch.repeat(n);
      const bytes = te.encode(text);
      const out = new TokenBuffer();
      encodePiece(vocab, bytes, 0, bytes.length, out);
      // One piece for tiktoken too when the run is letters; otherwise compare the merge directly.
      const want = /\p{L}/u.test(ch) ? wasmOrdinary(text) : run(mergeShort, bytes);
      assertSameTokens(out.view(), want, `${JSON.stringify(ch)} x ${n}`);
      if (n <= 1000) {
        assertSameTokens(run(mergeShort, bytes), run(mergeLong, bytes), `${ch} x ${n}`);
      }
    }
  }
});

test("encodePiece() on a 1 MB run of one letter is periodic and decodes back", () => {
  const n = 1 << 20;
  const bytes = new Uint8Array(n).fill(0x61);
  const out = new TokenBuffer();
  encodePiece(vocab, bytes, 0, n, out);
  let total = 0;
  for (const t of out.view()) total += vocab.offsets[t + 1] - vocab.offsets[t];
  assert.equal(total, n);
  // The same tokens as the start of a 20 000-letter run (which tiktoken agrees with), up to the tail.
  const small = wasmOrdinary("a".repeat(20000));
  const head = out.view().subarray(0, small.length - 8);
  assertSameTokens(head, small.subarray(0, small.length - 8), "1 MB run head");
});

test("BytePairEncoder allocates its memo on the first merge, one per instance", async () => {
  const vocab = await loadVocabulary();
  const a = new BytePairEncoder(vocab), b = new BytePairEncoder(vocab);
  assert.equal(a.byteLength, 0);
  const piece = new TextEncoder().encode(" tokenization");
  const out = new TokenBuffer();
  assert.equal(a.encodePiece(piece, 0, piece.length, out), 2);
  assert.ok(a.byteLength >= PAIR_MEMO_BYTES);
  assert.equal(b.byteLength, 0);
  assert.deepEqual(Array.from(out.view()), [6602, 2860]);
});

test("the pair memo grows with its misses (to 1 MiB, or 128 KiB with the split table), merges unchanged", () => {
  const bytes = vocab as ByteVocabulary;
  const plain = new BytePairEncoder(vocab), split = new BytePairEncoder(vocab);
  const rnd = random(41), out = new TokenBuffer();
  const merge = (enc: BytePairEncoder, piece: Uint8Array) => {
    out.clear();
    enc.mergeShort(piece, 0, piece.length, out);
    return out.toArray();
  };
  const piece = new Uint8Array(24);
  for (let i = 0; i < piece.length; i++) piece[i] = 0x61 + (i % 7);
  merge(plain, piece);
  assert.ok(plain.byteLength < 2 * PAIR_MEMO_BYTES, "small at first");
  split.useSplits(backtrackTables(bytes));
  // Random letters: many merges of pairs mostly new, so the memos miss and grow as they go.
  for (let k = 0; k < 40_000; k++) {
    for (let i = 0; i < piece.length; i++) piece[i] = 0x61 + Math.floor(rnd() * 26);
    const want = merge(plain, piece);
    assertSameTokens(merge(split, piece), want, `case ${k}`);
    if (k % 4000 === 0) assertSameTokens(want, naiveBpe(piece), `case ${k}`);
  }
  assert.ok(plain.byteLength >= 1 << 20, `memo without the split table: ${plain.byteLength} B`);
  assert.ok(split.byteLength < 1 << 18, `memo with the split table: ${split.byteLength} B`);
  // Handing the split table over later shrinks a grown memo; merges stay the same.
  plain.useSplits(backtrackTables(bytes));
  assert.ok(plain.byteLength < 1 << 18, `after useSplits: ${plain.byteLength} B`);
  for (let k = 0; k < 200; k++) {
    for (let i = 0; i < piece.length; i++) piece[i] = 0x61 + Math.floor(rnd() * 4);
    assertSameTokens(merge(plain, piece), naiveBpe(piece), `after useSplits, case ${k}`);
  }
});
