/**
 * The piece cache (`_piece_cache.ts`): hits give the stored tokens, `clear` (O(1), by generation)
 * forgets everything, it grows its tables up to its bounds and clears itself past them, and pieces
 * over `SECOND_SIGHT_PIECE` bytes are stored from their second sighting on.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PieceCache, SECOND_SIGHT_PIECE } from "../../src/tokenizer/_piece_cache.ts";
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

test("PieceCache stores a piece over SECOND_SIGHT_PIECE bytes only from its second sighting", () => {
  const cache = new PieceCache();
  const long = "\u4e2d\u6587\u5b57\u4e2d\u6587\u5b57"; // 18 bytes
  const b = te.encode(long), h = hashBytesInt32(b, 0, b.length);
  assert.ok(b.length > SECOND_SIGHT_PIECE);
  const out = new TokenBuffer();
  assert.equal(cache.get(b, 0, b.length, h, out), -2, "first sighting: not worth storing");
  assert.equal(cache.get(b, 0, b.length, h, out), -1, "second sighting: a plain miss");
  assert.equal(out.length, 0);
  store(cache, long, [7, 8]);
  assert.deepEqual(lookup(cache, long), [7, 8]);
  cache.clear();
  assert.equal(cache.get(b, 0, b.length, h, out), -2, "clear() forgets the sightings too");
  store(cache, long, [9]);
  assert.deepEqual(lookup(cache, long), [9], "a stored piece counts as seen");
  const short = te.encode(" hello");
  assert.equal(cache.get(short, 0, short.length, hashBytesInt32(short, 0, short.length), out), -1);
});

test("PieceCache starts small and grows its tables, keeping what it holds", () => {
  const cache = new PieceCache();
  const fresh = cache.byteLength;
  assert.ok(fresh < 512 * 1024, `${fresh} bytes when new`);
  // 30 000 distinct pieces (under half of the largest table) with 3 tokens each: all kept.
  for (let i = 0; i < 30_000; i++) store(cache, `piece number ${i}`, [i, 1, 2]);
  for (let i = 0; i < 30_000; i += 7) {
    assert.deepEqual(lookup(cache, `piece number ${i}`), [i, 1, 2]);
  }
  assert.ok(cache.byteLength > fresh && cache.byteLength <= (4 << 20) + 32768);
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
