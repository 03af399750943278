/**
 * The exact pair table (`_pair_table.ts`) against the byte-string rule it replaces: every entry,
 * random token pairs and two-token splits, and byte-pair merging with the table answering every
 * pair (memo emptied) against the naive reference merge and tiktoken on the multilingual corpus.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PairTable } from "../../src/tokenizer/_pair_table.ts";
import { BytePairEncoder } from "../../src/tokenizer/bpe.ts";
import { HarmonyTokenizer } from "../../src/tokenizer/mod.ts";
import { mulberry32 } from "../_support/random.ts";
import { TokenBuffer } from "../../src/tokenizer/token_buffer.ts";
import { loadVocabulary } from "../../src/tokenizer/vocabulary.ts";
import { naiveBpe, wasmOrdinary } from "./_reference.ts";
import { assertSameTokens } from "./_assert.ts";
import { chunkLines, textFiles } from "./_corpus.ts";

const vocab = await loadVocabulary();
const table = PairTable.build(vocab);
const te = new TextEncoder();

const random = mulberry32;

/** The bytes of token a followed by those of token b. */
function concat(a: number, b: number): Uint8Array {
  const { bytes, offsets } = vocab;
  const la = offsets[a + 1] - offsets[a], lb = offsets[b + 1] - offsets[b];
  const out = new Uint8Array(la + lb);
  out.set(bytes.subarray(offsets[a], offsets[a + 1]));
  out.set(bytes.subarray(offsets[b], offsets[b + 1]), la);
  return out;
}

const byteRule = (a: number, b: number) => {
  const c = concat(a, b);
  return vocab.rankOf(c, 0, c.length);
};

test("PairTable holds every two-token split of every o200k_base token (446 189), each correct", () => {
  assert.equal(table.pairs, 446189);
  const { slots } = table;
  let seen = 0;
  for (let i = 0; i < slots.length; i += 2) {
    const hi = slots[i + 1];
    if (hi === 0) continue;
    const a = slots[i] & 0x3ffff;
    const b = (slots[i] >>> 18) | ((hi & 15) << 14);
    const merged = (hi >>> 4) - 1;
    if (byteRule(a, b) !== merged) assert.fail(`pair (${a}, ${b}) -> ${merged} is wrong`);
    if (table.get(a, b) !== merged) assert.fail(`get(${a}, ${b}) does not find its entry`);
    seen++;
  }
  assert.equal(seen, table.pairs);
  assert.equal(table.byteLength, 8 << 20);
});

test("PairTable.get() equals the byte-string rule on random pairs and on random tokens' splits", () => {
  const rnd = random(11);
  const pick = () => Math.floor(rnd() * vocab.size);
  let hits = 0;
  for (let k = 0; k < 100_000; k++) {
    // Half from anywhere, half among low ranks (frequent short tokens, where most pairs merge).
    const a = k & 1 ? pick() : Math.floor(rnd() * 3000), b = k & 2 ? pick() : rnd() * 3000 | 0;
    const want = byteRule(a, b);
    if (want >= 0) hits++;
    if (table.get(a, b) !== want) assert.fail(`get(${a}, ${b}) is not ${want}`);
  }
  assert.ok(hits > 100, `only ${hits} random pairs were tokens`);
  const { bytes, offsets } = vocab;
  let splits = 0;
  for (let k = 0; k < 20_000; k++) {
    const t = pick();
    const s = offsets[t], e = offsets[t + 1];
    for (let m = s + 1; m < e; m++) {
      const a = vocab.rankOf(bytes, s, m), b = vocab.rankOf(bytes, m, e);
      const got = a >= 0 && b >= 0 ? table.get(a, b) : t;
      if (got !== t) assert.fail(`split of token ${t} at ${m - s}: got ${got}`);
      if (a >= 0 && b >= 0) splits++;
    }
  }
  assert.ok(splits > 20_000, `only ${splits} splits checked`);
});

test("PairTable.build() refuses a vocabulary with 2^18 or more tokens", () => {
  const size = (1 << 18) + 1;
  const huge = {
    size,
    bytes: new Uint8Array(0),
    offsets: new Uint32Array(size + 1),
    rankOf: () => -1,
  };
  assert.throws(() => PairTable.build(huge), /Cannot build pair table: 262145 tokens/);
});

const run = (f: "mergeShort" | "mergeLong", bpe: BytePairEncoder, piece: Uint8Array) => {
  const out = new TokenBuffer();
  bpe[f](piece, 0, piece.length, out);
  return out.toArray();
};

test("merging with the pair table answering every pair equals the naive merge rule", () => {
  const bpe = new BytePairEncoder(vocab); // empty memo: every pair below comes from the table
  assert.equal(bpe.usePairTable(), 8 << 20);
  assert.equal(bpe.pairTableBytes, 8 << 20);
  const rnd = random(5);
  const alphabet = te.encode("aab  e\u00e4\u4e2d\u6587\u0e01\u0e32\u0e23'sxz09\n\u0434\u0430");
  for (let k = 0; k < 300; k++) {
    const len = 1 + Math.floor(rnd() * (k < 200 ? 60 : 400));
    const piece = new Uint8Array(len);
    for (let i = 0; i < len; i++) piece[i] = alphabet[Math.floor(rnd() * alphabet.length)];
    const want = naiveBpe(piece);
    bpe.clearMemo();
    assertSameTokens(run("mergeShort", bpe, piece), want, `short, case ${k}`);
    bpe.clearMemo();
    assertSameTokens(run("mergeLong", bpe, piece), want, `long, case ${k}`);
  }
});

test("encodeOrdinary() with the pair table equals tiktoken on the non-Latin corpus texts", () => {
  // A fresh instance (empty memo and piece cache) over a vocabulary whose pair table is built.
  new BytePairEncoder(vocab).usePairTable();
  const tok = new HarmonyTokenizer(vocab);
  const files = textFiles().filter((f) =>
    /^(text\/)?(zh|ja|ko|th|bn|te|ka|ar|he|ru)_/.test(f.name)
  );
  assert.ok(files.length > 0, "no non-Latin corpus text");
  for (const file of files) {
    const chunks = chunkLines(file.texts[0]);
    for (let i = 0; i < Math.min(chunks.length, 4); i++) {
      assertSameTokens(tok.encodeOrdinary(chunks[i]), wasmOrdinary(chunks[i]), `${file.name} ${i}`);
    }
  }
});
