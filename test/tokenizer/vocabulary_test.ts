import { test } from "node:test";
import assert from "node:assert/strict";
import {
  hashBytes,
  hashBytesInt32,
  loadVocabulary,
  parseCompressedRanks,
} from "../../src/tokenizer/vocabulary.ts";
import { jsTiktoken } from "./_reference.ts";

const vocab = await loadVocabulary();
const te = new TextEncoder();

test("loadVocabulary() holds the 199998 o200k_base ranks and is cached", async () => {
  assert.equal(vocab.size, 199998);
  assert.equal(vocab.offsets.length, 199999);
  assert.equal(vocab.offsets[vocab.size], vocab.bytes.length);
  assert.equal(await loadVocabulary(), vocab);
});

test("rankOf() finds every token's own bytes at its rank", () => {
  const { bytes, offsets } = vocab;
  for (let r = 0; r < vocab.size; r++) {
    const got = vocab.rankOf(bytes, offsets[r], offsets[r + 1]);
    if (got !== r) assert.fail(`rank ${r}: rankOf gave ${got}`);
  }
});

test("token bytes equal js-tiktoken's for every rank", () => {
  // deno-lint-ignore no-explicit-any
  const textMap: Map<number, Uint8Array> = (jsTiktoken as any).textMap;
  for (let r = 0; r < vocab.size; r++) {
    const want = textMap.get(r)!;
    const got = vocab.bytes.subarray(vocab.offsets[r], vocab.offsets[r + 1]);
    if (got.length !== want.length || got.some((b, i) => b !== want[i])) {
      assert.fail(`rank ${r}: bytes [${got}] expected [${want}]`);
    }
  }
});

test("rankOf() gives known ranks, single bytes, and -1 for non-tokens and empty ranges", () => {
  const hello = te.encode("xhello world");
  assert.equal(vocab.rankOf(hello, 1, 6), 24912);
  assert.equal(vocab.rankOf(hello, 6, 12), 2375);
  assert.equal(vocab.rankOf(hello, 0, 12), -1);
  assert.equal(vocab.rankOf(hello, 3, 3), -1);
  for (let b = 0; b < 256; b++) assert.ok(vocab.rankOf(new Uint8Array([b]), 0, 1) >= 0);
  assert.equal(vocab.rankOf(new Uint8Array(1000).fill(97), 0, 1000), -1);
});

test("parseCompressedRanks() reads the js-tiktoken rank format", () => {
  const v = parseCompressedRanks('! 0 YQ== Yg==\n" 2 YWI= Yw==');
  assert.equal(v.size, 4);
  assert.equal(v.rankOf(te.encode("ab"), 0, 2), 2);
  assert.equal(v.rankOf(te.encode("c"), 0, 1), 3);
  assert.equal(v.rankOf(te.encode("abc"), 0, 3), -1);
});

test("parseCompressedRanks() throws SyntaxError on bad base64 and on duplicated ranks", () => {
  assert.throws(() => parseCompressedRanks("! 0 Y*=="), {
    name: "SyntaxError",
    message: /^Cannot parse ranks: bad base64 at character 5$/,
  });
  assert.throws(() => parseCompressedRanks('! 0 YQ==\n" 0 Yg=='), {
    name: "SyntaxError",
    message: /^Cannot parse ranks: rank 0 is duplicated/,
  });
});

test("hashBytes() is 32-bit FNV-1a (the GPU tables and special scan rely on these values)", () => {
  // Published FNV-1a 32-bit test vectors.
  const cases: Array<[string, number]> = [["", 0x811c9dc5], ["a", 0xe40c292c], [
    "foobar",
    0xbf9cf968,
  ]];
  for (const [text, want] of cases) {
    const b = te.encode("xx" + text + "y");
    assert.equal(hashBytes(b, 2, 2 + b.length - 3), want, text);
    assert.equal(hashBytesInt32(b, 2, 2 + b.length - 3), want | 0, text);
  }
});

test("parseCompressedRanks() reads ranks in order and out of order alike (o200k_base)", async () => {
  const data = ((await import("js-tiktoken/ranks/o200k_base")).default as { bpe_ranks: string })
    .bpe_ranks;
  const inOrder = parseCompressedRanks(data);
  // The same tokens as lines of 1000 in reverse order: the general parser reads them.
  const tokens = data.split("\n")[0].split(" ").slice(2);
  const lines: string[] = [];
  for (let i = 0; i < tokens.length; i += 1000) {
    lines.push(`! ${i} ${tokens.slice(i, i + 1000).join(" ")}`);
  }
  const reordered = parseCompressedRanks(lines.reverse().join("\n"));
  assert.equal(inOrder.size, 199998);
  assert.deepEqual(reordered.offsets, inOrder.offsets);
  assert.deepEqual(reordered.bytes, inOrder.bytes);
  // Malformed data in order still gets the general parser's error.
  assert.throws(() => parseCompressedRanks("! 0 YQ== Y\r=="), SyntaxError);
  assert.deepEqual(
    Array.from(parseCompressedRanks("! 0 YQ Yg= YWI=\n\n").offsets),
    [0, 1, 2, 4],
  );
});
