/**
 * Exactness over the whole corpus (or the bundled excerpts): every text is compared with tiktoken's
 * WASM build (the Rust crate the reference uses; all of it) and with js-tiktoken (a deterministic
 * sample: the first 1500 characters of every 4th chunk of a text file and of every 16th record of
 * a JSON-lines file, always including the first, because js-tiktoken is slow).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import { chunkLines, hasSharedCorpus, jsonlFiles, textFiles } from "./_corpus.ts";
import { jsOrdinary, jsTiktoken, wasmOrdinary } from "./_reference.ts";
import { assertSameTokens } from "./_assert.ts";

const tok = await loadTokenizer();
const decode = (t: number[]) => tok.decode(t);
const SAMPLE = 4;
const SAMPLE_RECORDS = 16;
/**
 * js-tiktoken compares only the first JS_CHARS characters of a sampled text: its merge loop is
 * quadratic with string keys (30 000 characters of Thai take it ~10 s).
 */
const JS_CHARS = 1500;

/** The first JS_CHARS characters of `text`, not splitting a surrogate pair. */
function head(text: string): string {
  if (text.length <= JS_CHARS) return text;
  const c = text.charCodeAt(JS_CHARS - 1);
  return text.slice(0, c >= 0xd800 && c < 0xdc00 ? JS_CHARS - 1 : JS_CHARS);
}
const where = hasSharedCorpus ? "shared corpus" : "bundled excerpts";

for (const file of textFiles()) {
  const name = `encodeOrdinary() equals tiktoken and js-tiktoken on ${file.name} (${where})`;
  test(name, { timeout: 60_000 }, () => {
    const text = file.texts[0];
    assertSameTokens(tok.encodeOrdinary(text), wasmOrdinary(text), `${file.name} whole`, decode);
    const chunks = chunkLines(text);
    for (let i = 0; i < chunks.length; i += SAMPLE) {
      const h = head(chunks[i]);
      const label = `${file.name} chunk ${i} head (js-tiktoken)`;
      assertSameTokens(tok.encodeOrdinary(h), jsOrdinary(h), label, decode);
    }
  });
}

/** Texts per test (keeps each test short). */
const BATCH = 4000;

for (const file of jsonlFiles()) {
  assert.ok(file.texts.length > 0, `${file.name} has no texts`);
  for (let from = 0; from < file.texts.length; from += BATCH) {
    const to = Math.min(file.texts.length, from + BATCH);
    const name = `encodeOrdinary() equals tiktoken and js-tiktoken on ${file.name} ` +
      `texts ${from}..${to - 1} (${where})`;
    test(name, { timeout: 60_000 }, () => checkTexts(file.name, file.texts, from, to));
  }
}

/**
 * Texts `from..to-1`: with tiktoken in batches (texts joined by blank lines, about 64 KB per call,
 * which saves most of the per-call cost of the WASM boundary; a failing batch is re-checked text by
 * text to name the text), with js-tiktoken on every SAMPLE_RECORDS-th text.
 */
function checkTexts(name: string, texts: string[], from: number, to: number): void {
  for (let i = from; i < to;) {
    let j = i, size = 0;
    while (j < to && (j === i || size + texts[j].length < 64_000)) size += texts[j++].length + 2;
    const batch = texts.slice(i, j).join("\n\n");
    const ours = tok.encodeOrdinary(batch), want = wasmOrdinary(batch);
    if (ours.length !== want.length || ours.some((t, k) => t !== want[k])) {
      for (let k = i; k < j; k++) {
        const label = `${name} text ${k} (tiktoken)`;
        assertSameTokens(tok.encodeOrdinary(texts[k]), wasmOrdinary(texts[k]), label, decode);
      }
      assertSameTokens(ours, want, `${name} texts ${i}..${j - 1} joined (tiktoken)`, decode);
    }
    i = j;
  }
  for (let i = from; i < to; i++) {
    const text = texts[i];
    if (i % SAMPLE_RECORDS === 0) {
      const h = head(text);
      assertSameTokens(
        tok.encodeOrdinary(h),
        jsOrdinary(h),
        `${name} text ${i} (js-tiktoken)`,
        decode,
      );
    }
  }
}

const harmony = jsonlFiles().find((f) => f.name.startsWith("harmony_outputs"))!;

test(`encode(allowedSpecial: "all") equals js-tiktoken on ${harmony.name}`, () => {
  let specials = 0;
  for (let i = 0; i < harmony.texts.length; i++) {
    const text = harmony.texts[i];
    const ours = tok.encode(text, { allowedSpecial: "all" });
    assertSameTokens(ours, jsTiktoken.encode(text, "all"), `${harmony.name} text ${i}`, decode);
    for (const t of ours) if (tok.isSpecial(t)) specials++;
  }
  assert.ok(specials > 100, `only ${specials} special tokens seen`);
});

test(`encode() rejects the first special-token literal of each ${harmony.name} text`, () => {
  const literals = [...tok.specialTokens.keys()];
  const any = new RegExp(literals.map((l) => l.replace(/[|]/g, "\\|")).join("|"));
  let rejected = 0;
  for (const text of harmony.texts) {
    const m = any.exec(text);
    if (!m) {
      assertSameTokens(tok.encode(text), tok.encodeOrdinary(text), "no special");
      continue;
    }
    assert.throws(() => tok.encode(text), {
      name: "SyntaxError",
      message: `Cannot encode text: disallowed special token ${m[0]} at offset ${m.index}`,
    });
    rejected++;
  }
  assert.ok(rejected > 0);
});
