/**
 * The piece cache (`_piece_cache.ts`): hits give the stored tokens, `clear` (O(1), by generation)
 * forgets everything, and filling it past its bounds clears it instead of growing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PieceCache } from "../../src/tokenizer/_piece_cache.ts";
import { TokenBuffer } from "../../src/tokenizer/token_buffer.ts";
import { hashBytesInt32 } from "../../src/tokenizer/vocabulary.ts";

const te = new TextEncoder();

/** The cached tokens of `text`, or undefined on a miss. */
function lookup(cache: PieceCache, text: string): number[] | undefined {
  const b = te.encode(text);
  const out = new TokenBuffer();
  const n = cache.get(b, 0, b.length, hashBytesInt32(b, 0, b.length), out);
  if (n < 0) {
    assert.equal(out.length, 0, "a miss appends nothing");
    return undefined;
  }
  assert.equal(n, out.length);
  return Array.from(out.view());
}

function store(cache: PieceCache, text: string, tokens: number[]): void {
  const b = te.encode(text);
  cache.put(
    b,
    0,
    b.length,
    hashBytesInt32(b, 0, b.length),
    Uint32Array.from(tokens),
    tokens.length,
  );
}

test("PieceCache returns stored tokens, misses unknown pieces, and forgets all on clear()", () => {
  const cache = new PieceCache();
  store(cache, "\u4e2d\u6587\u5b57", [1, 2, 3]);
  store(cache, " hello", [40617]);
  assert.deepEqual(lookup(cache, "\u4e2d\u6587\u5b57"), [1, 2, 3]);
  assert.deepEqual(lookup(cache, " hello"), [40617]);
  assert.equal(lookup(cache, " hell"), undefined);
  for (let round = 0; round < 1000; round++) {
    cache.clear();
    assert.equal(lookup(cache, " hello"), undefined, `round ${round}`);
    store(cache, " hello", [round]);
    assert.deepEqual(lookup(cache, " hello"), [round]);
  }
});

test("PieceCache keeps colliding pieces apart and clears itself when full", () => {
  const cache = new PieceCache();
  // 40 000 distinct pieces: more than half the slots, so the cache clears itself on the way.
  for (let i = 0; i < 40_000; i++) store(cache, `w${i}`, [i, i + 1]);
  assert.deepEqual(lookup(cache, "w39999"), [39999, 40000]);
  assert.equal(lookup(cache, "w0"), undefined, "the first pieces were dropped when it filled");
  let hits = 0;
  for (let i = 0; i < 40_000; i++) {
    const got = lookup(cache, `w${i}`);
    if (got !== undefined) {
      assert.deepEqual(got, [i, i + 1]);
      hits++;
    }
  }
  assert.ok(hits > 5000 && hits < 40_000, `${hits} hits`);
});
