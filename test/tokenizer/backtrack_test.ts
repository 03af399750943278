import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BACKTRACK_AFTER_BYTES,
  BacktrackEncoder,
  backtrackTables,
  VERIFIED_VOCABULARIES,
  vocabularyFingerprint,
} from "../../src/tokenizer/_backtrack.ts";
import { BytePairEncoder } from "../../src/tokenizer/bpe.ts";
import { nextPieceEnd, prepareScanner } from "../../src/tokenizer/pieces.ts";
import { TokenBuffer } from "../../src/tokenizer/token_buffer.ts";
import { HarmonyTokenizer } from "../../src/tokenizer/tokenizer.ts";
import { ByteVocabulary, loadVocabulary } from "../../src/tokenizer/vocabulary.ts";
import { mulberry32 } from "../_support/random.ts";
import { assertSameTokens } from "./_assert.ts";
import { jsonlFiles, textFiles } from "./_corpus.ts";
import { naiveBpe, wasmOrdinary } from "./_reference.ts";

const vocab = await loadVocabulary() as ByteVocabulary;
const te = new TextEncoder();
const merge = new BytePairEncoder(vocab);
const back = new BacktrackEncoder(vocab);
const a = new TokenBuffer(), b = new TokenBuffer();

/** Fails unless backtracking and the reference's merge loop give the same tokens. */
function same(bytes: Uint8Array, s: number, e: number, label: string): void {
  a.clear();
  b.clear();
  const n = e - s <= 64 ? merge.mergeShort(bytes, s, e, a) : merge.mergeLong(bytes, s, e, a);
  assert.equal(back.encode(bytes, s, e, b), b.length);
  assert.equal(b.length, n);
  assertSameTokens(b.view(), a.view(), label);
}

test("every o200k_base token encodes to itself by backtracking", () => {
  const { bytes, offsets } = vocab;
  for (let t = 0; t < vocab.size; t++) {
    b.clear();
    back.encode(bytes, offsets[t], offsets[t + 1], b);
    if (b.length !== 1 || b.data[0] !== t) {
      assert.fail(`token ${t} encodes to [${Array.from(b.view())}]`);
    }
  }
});

/**
 * Calls `check` on every pre-tokenized piece of the corpus (every text kind) that is longer than
 * `over` bytes and not one token, and returns how many there were.
 */
function forCorpusPieces(
  over: number,
  check: (u: Uint8Array, s: number, e: number, label: string) => void,
): number {
  prepareScanner();
  let pieces = 0;
  for (const f of [...textFiles(), ...jsonlFiles()]) {
    for (const text of f.texts) {
      const u = te.encode(text);
      for (let p = 0; p < u.length;) {
        const e = nextPieceEnd(u, p, u.length);
        if (e - p > over && vocab.rankOf(u, p, e) < 0) {
          check(u, p, e, `${f.name} at byte ${p}`);
          pieces++;
        }
        p = e;
      }
    }
  }
  return pieces;
}

test("backtracking equals the merge loop on every corpus piece of every text kind", () => {
  const pieces = forCorpusPieces(1, same);
  assert.ok(pieces > 1000, `${pieces} pieces`);
});

test("backtracking equals the reference's merge rule on random bytes and random Unicode", () => {
  const rnd = mulberry32(17);
  const alphabet = te.encode("aaabbe  ee\u00e4\u4e2d\u6587'sxyz0123\n\t\u0436\u05d0\u0e01");
  for (let k = 0; k < 300; k++) {
    const len = 1 + Math.floor(rnd() * (k < 200 ? 40 : 300));
    const piece = new Uint8Array(len);
    for (let i = 0; i < len; i++) piece[i] = alphabet[Math.floor(rnd() * alphabet.length)];
    b.clear();
    back.encode(piece, 0, len, b);
    assertSameTokens(b.view(), naiveBpe(piece), `alphabet case ${k}`);
  }
  for (let k = 0; k < 2000; k++) {
    const len = 1 + Math.floor(rnd() * (k < 1500 ? 64 : 2000));
    const piece = new Uint8Array(len);
    for (let i = 0; i < len; i++) piece[i] = Math.floor(rnd() * 256);
    same(piece, 0, len, `random bytes case ${k}`);
  }
  for (let k = 0; k < 1000; k++) {
    let s = "";
    const len = 1 + Math.floor(rnd() * 60);
    for (let i = 0; i < len; i++) {
      // Mostly BMP letters of a few scripts, some astral code points.
      const r = rnd();
      const cp = r < 0.3
        ? 0x4e00 + Math.floor(rnd() * 0x5000)
        : r < 0.5
        ? 0x0400 + Math.floor(rnd() * 0x100)
        : r < 0.6
        ? 0x1f300 + Math.floor(rnd() * 0x300)
        : Math.floor(rnd() * 0x3000);
      s += String.fromCodePoint(cp >= 0xd800 && cp < 0xe000 ? 0x41 : cp);
    }
    const u = te.encode(s);
    same(u, 0, u.length, `random Unicode case ${k}`);
  }
});

test("backtracking equals the merge loop on long pieces (runs and repeated words)", () => {
  for (const n of [17, 64, 65, 100, 1000, 5000]) {
    for (const ch of ["a", "x", "0", " ", "\u4e2d", "\u00e9", "ab", "\u4e2d\u6587"]) {
      const u = te.encode(ch.repeat(n));
      same(u, 0, u.length, `${JSON.stringify(ch)} x ${n}`);
    }
  }
  const rnd = mulberry32(5);
  const words = ["tok", "en", "iz", "ation", "\u6f22", "\u5b57", "\u043f\u0440\u0438"];
  for (let k = 0; k < 50; k++) {
    let s = "";
    while (s.length < 3000) s += words[Math.floor(rnd() * words.length)];
    const u = te.encode(s);
    same(u, 0, u.length, `words case ${k}`);
  }
});

test("the merge loops answering memo misses from the split table equal them without it", () => {
  const splits = new BytePairEncoder(vocab);
  splits.useSplits(backtrackTables(vocab));
  const x = new TokenBuffer(), y = new TokenBuffer();
  const run = (enc: BytePairEncoder, u: Uint8Array, s: number, e: number, out: TokenBuffer) => {
    out.clear();
    return e - s <= 64 ? enc.mergeShort(u, s, e, out) : enc.mergeLong(u, s, e, out);
  };
  const { bytes, offsets } = vocab;
  for (let t = 0; t < vocab.size; t++) {
    run(splits, bytes, offsets[t], offsets[t + 1], x);
    if (x.length !== 1 || x.data[0] !== t) {
      assert.fail(`token ${t} merges to [${Array.from(x.view())}] with the split table`);
    }
  }
  const pieces = forCorpusPieces(2, (u, p, e, label) => {
    assert.equal(run(splits, u, p, e, x), run(merge, u, p, e, y));
    assertSameTokens(x.view(), y.view(), label);
  });
  assert.ok(pieces > 1000, `${pieces} pieces`);
  const rnd = mulberry32(29);
  for (let k = 0; k < 2000; k++) {
    const len = 1 + Math.floor(rnd() * (k < 1900 ? 64 : 1000));
    const piece = new Uint8Array(len);
    // Random bytes, or a few letters (many repeated pairs).
    for (let i = 0; i < len; i++) {
      piece[i] = k & 1 ? Math.floor(rnd() * 256) : 0x61 + Math.floor(rnd() * 3);
    }
    run(splits, piece, 0, len, x);
    if (len <= 64) assertSameTokens(x.view(), naiveBpe(piece), `random case ${k}`);
    else {
      run(merge, piece, 0, len, y);
      assertSameTokens(x.view(), y.view(), `random case ${k}`);
    }
  }
});

test("the backtracking tables are built once per vocabulary", () => {
  const t = backtrackTables(vocab);
  assert.equal(backtrackTables(vocab), t);
  assert.equal(t.nextPrefix.length, vocab.size);
  // " tokenization" splits as " token" + "ization", both lower ranks.
  const r = vocab.rankOf(te.encode(" token"), 0, 6);
  assert.equal(t.nextPrefix[vocab.rankOf(te.encode(" tokens"), 0, 7)], r);
  assert.ok(t.byteLength > 0);
});

test("a process backtracks only after BACKTRACK_AFTER_BYTES bytes of pieces merged otherwise", () => {
  const fresh = new ByteVocabulary(vocab.bytes, vocab.offsets);
  const enc = new BacktrackEncoder(fresh);
  const other = new BacktrackEncoder(fresh);
  let asked = 0;
  while (!enc.wants(4096)) asked += 4096;
  assert.equal(asked, BACKTRACK_AFTER_BYTES);
  assert.equal(other.wants(17), true, "the count is per vocabulary, not per encoder");
});

test("the tokenizer switches to backtracking mid-text with the same tokens", () => {
  const fresh = new ByteVocabulary(vocab.bytes, vocab.offsets);
  const tok = new HarmonyTokenizer(fresh);
  // Pieces of 18 CJK bytes (random, so neither tokens nor cached), about 84 KB of them a text.
  const rnd = mulberry32(3);
  const cjk = () => {
    let text = "";
    while (text.length < 32768) {
      for (let i = 0; i < 6; i++) text += String.fromCodePoint(0x4e00 + Math.floor(rnd() * 0x500));
      text += "\u3002";
    }
    return text;
  };
  const text = cjk();
  const before = tok.tableBytes;
  const first = tok.encodeOrdinary(text);
  // BACKTRACK_AFTER_BYTES of such pieces, and a little more, until the tables are built.
  for (let i = 0; i < 4 + BACKTRACK_AFTER_BYTES / 80_000 && tok.tableBytes <= before + 8e6; i++) {
    tok.encodeOrdinary(cjk());
  }
  assert.ok(tok.tableBytes > before + 8_000_000, "the backtracking tables were built");
  tok.clearCache();
  assertSameTokens(tok.encodeOrdinary(text), first, "after the switch");
  assertSameTokens(first, wasmOrdinary(text), "against tiktoken");
});

test("a vocabulary not known to suit backtracking never backtracks", () => {
  // o200k_base with its last token dropped: another fingerprint.
  const other = new ByteVocabulary(vocab.bytes, vocab.offsets.subarray(0, vocab.size));
  assert.equal(VERIFIED_VOCABULARIES.includes(vocabularyFingerprint(other)), false);
  const enc = new BacktrackEncoder(other);
  for (let asked = 0; asked <= 2 * BACKTRACK_AFTER_BYTES; asked += 65536) {
    assert.equal(enc.wants(65536), false);
  }
  assert.equal(VERIFIED_VOCABULARIES.includes(vocabularyFingerprint(vocab)), true);
});

test("short pieces of three-byte characters (backtracked from 9 bytes) give tiktoken's tokens", () => {
  backtrackTables(vocab);
  const tok = new HarmonyTokenizer(vocab);
  const rnd = mulberry32(53);
  // Runs of 3–5 characters from kana, CJK ideographs, Hangul and fullwidth forms, between ASCII
  // spaces and CJK punctuation, plus 4-byte characters (not in the rule) for contrast.
  const ranges = [[0x3041, 0x60], [0x4e00, 0x800], [0xac00, 0x400], [0xff10, 0x40], [
    0x1f600,
    0x40,
  ]];
  for (let k = 0; k < 300; k++) {
    let text = "";
    while (text.length < 400) {
      const [from, span] = ranges[Math.floor(rnd() * ranges.length)];
      const n = 3 + Math.floor(rnd() * 3);
      for (let i = 0; i < n; i++) text += String.fromCodePoint(from + Math.floor(rnd() * span));
      text += rnd() < 0.5 ? " " : "\u3001";
    }
    assertSameTokens(tok.encodeOrdinary(text), wasmOrdinary(text), `case ${k}`);
  }
});
