// Worker threads share the main thread's vocabulary (issue #12): ByteVocabulary.tables() copies
// the immutable tables into SharedArrayBuffers once, and a vocabulary (and a tokenizer) built over
// them finds every rank the parsed one finds, without parsing the ranks again.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ByteVocabulary,
  loadVocabulary,
  loadVocabularyTables,
  useVocabularyTables,
} from "../../src/tokenizer/vocabulary.ts";
import { HarmonyTokenizer } from "../../src/tokenizer/tokenizer.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";

test("a vocabulary over shared tables gives every token its rank and rejects non-tokens", async () => {
  const v = await loadVocabulary() as ByteVocabulary;
  const t = await loadVocabularyTables();
  for (const a of [t.bytes, t.offsets, t.slots, t.filter, t.byteRank]) {
    assert.ok(a.buffer instanceof SharedArrayBuffer);
  }
  assert.equal(await loadVocabularyTables(), t, "one copy per process");
  const shared = new ByteVocabulary(t.bytes, t.offsets, t);
  assert.equal(shared.size, v.size);
  for (let r = 0; r < v.size; r++) {
    if (shared.rankOf(v.bytes, v.offsets[r], v.offsets[r + 1]) !== r) assert.fail(`rank ${r}`);
  }
  assert.equal(shared.rankOf(new TextEncoder().encode("not-a-token-at-all"), 0, 18), -1);
  assert.notEqual(shared.front, v.front, "each instance keeps its own cache");
});

test("a tokenizer over shared tables encodes and decodes like the loaded one", async () => {
  const t = await loadVocabularyTables();
  const tok = new HarmonyTokenizer(new ByteVocabulary(t.bytes, t.offsets, t));
  const ref = await loadTokenizer();
  const text = "Hello, world! 数学 🧮 <|start|>assistant<|message|>x = 42";
  const ids = tok.encode(text, { allowedSpecial: "all" });
  assert.deepEqual([...ids], [...ref.encode(text, { allowedSpecial: "all" })]);
  assert.equal(tok.decode(ids), text);
});

test("useVocabularyTables() throws RangeError once this thread loaded a vocabulary", async () => {
  await loadVocabulary();
  assert.throws(() => useVocabularyTables(undefined as never), {
    name: "RangeError",
    message: "Cannot use shared vocabulary tables: a vocabulary is loaded",
  });
});
