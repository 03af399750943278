import { test } from "node:test";
import assert from "node:assert/strict";
import { splitPieces } from "../../src/tokenizer/pieces.ts";
import { TokenBuffer } from "../../src/tokenizer/token_buffer.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** The pieces of `text` as strings. */
function pieces(text: string): string[] {
  const utf8 = te.encode(text);
  const ends = new TokenBuffer();
  const n = splitPieces(utf8, 0, utf8.length, ends);
  assert.equal(n, ends.length);
  const out: string[] = [];
  let at = 0;
  for (const e of ends.view()) {
    out.push(td.decode(utf8.subarray(at, e)));
    at = e;
  }
  return out;
}

/**
 * The reference pattern as a JS RegExp: same alternation order and backtracking as fancy_regex;
 * `(?i:...)` spelled out, including `'ſ` (Rust's case folding). JS `\s` differs from Rust's
 * White_Space only at U+0085 and U+FEFF, and the engine's Unicode version may differ from 16.0:
 * the fuzz alphabet below avoids those code points.
 */
const C = "(?:'[sS\u017f]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?";
const PATTERN = new RegExp(
  [
    `[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+${C}`,
    `[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*${C}`,
    `\\p{N}{1,3}`,
    ` ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*`,
    `\\s*[\\r\\n]+`,
    `\\s+(?!\\S)`,
    `\\s+`,
  ].join("|"),
  "gu",
);
const regexPieces = (text: string) => [...text.matchAll(PATTERN)].map((m) => m[0]);

/** 20 000 random texts of up to `maxLen` symbols of `alphabet` split as the RegExp splits them. */
function assertRandomTextsLikeRegex(alphabet: string[], seed: number, maxLen: number): void {
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  for (let k = 0; k < 20000; k++) {
    const len = Math.floor(rnd() * maxLen);
    let text = "";
    for (let i = 0; i < len; i++) text += alphabet[Math.floor(rnd() * alphabet.length)];
    const got = pieces(text), want = regexPieces(text);
    if (got.join("\u0000") !== want.join("\u0000")) {
      assert.deepEqual(got, want, `case ${k}: ${JSON.stringify(text)}`);
    }
  }
}

test("splitPieces() splits words, numbers, punctuation and whitespace like the reference", () => {
  const cases: Array<[string, string[]]> = [
    ["", []],
    ["Hello world", ["Hello", " world"]],
    ["Hello, I'm here!!\n\n  x", ["Hello", ",", " I'm", " here", "!!\n\n", " ", " x"]],
    ["don't DON'T Don'T dOn'ThE", ["don't", " DON'T", " Don'T", " d", "On'T", "h", "E"]],
    ["we'll WE'LL they'RE i've I'D", ["we'll", " WE'LL", " they'RE", " i've", " I'D"]],
    ["'s 'S x's", ["'s", " '", "S", " x's"]],
    ["1234567", ["123", "456", "7"]],
    ["x  \r\n\r\n y", ["x", "  \r\n\r\n", " y"]],
    ["a   ", ["a", "   "]],
    ["a   b", ["a", "  ", " b"]],
    ["a\tb", ["a", "\tb"]],
    ["a\t\tb", ["a", "\t", "\tb"]],
    ["foo/bar\n/x", ["foo", "/bar", "\n", "/x"]],
    ["a == b;\r\n", ["a", " ==", " b", ";\r\n"]],
    ["HTTPServer", ["HTTPServer"]],
    ["camelCaseWORDS", ["camel", "Case", "WORDS"]],
    ["\u4e2d\u6587's", ["\u4e2d\u6587's"]],
    ["e\u0301t\u00e9", ["e\u0301t\u00e9"]],
    ["\u0301abc", ["\u0301abc"]],
    [" \u0301", [" \u0301"]],
    ["\u0301", ["\u0301"]],
    ["$100.00", ["$", "100", ".", "00"]],
    ["<|end|>", ["<|", "end", "|>"]],
    ["\n", ["\n"]],
    ["\r\n\r\n", ["\r\n\r\n"]],
    [" \n \n ", [" \n \n", " "]],
    // ASCII runs that end in a non-ASCII code point (the ASCII fast path must hand these over)
    ["Caf\u00e9s ABC\u00e9 ABC\u00c9x", ["Caf\u00e9s", " ABC\u00e9", " ABC\u00c9x"]],
    ["1\u00b23 12\u0661", ["1\u00b23", " ", "12\u0661"]],
    [" (\u2026) x'\u017f", [" (\u2026)", " x'\u017f"]],
    ["x\u0301 .\u00e9 \u00e9", ["x\u0301", " .", "\u00e9", " \u00e9"]],
  ];
  for (const [text, want] of cases) {
    assert.deepEqual(pieces(text), want, JSON.stringify(text));
    assert.deepEqual(regexPieces(text), want, `regex oracle on ${JSON.stringify(text)}`);
  }
});

test("splitPieces() equals the pattern as a RegExp on 20 000 random strings", () => {
  const alphabet = [
    ..."aAzZ09 '''sStTmMlLdDrReEvV",
    ..."\r\n\t/.,!?-_<|>",
    "\u00a0",
    "\u3000",
    "\u2028",
    "\u000b", // other white space (not U+0085: JS \s lacks it)
    "\u00e9",
    "\u00c9",
    "\u01c5",
    "\u02b0",
    "\u00aa",
    "\u017f", // é É ǅ(Lt) ʰ(Lm) ª(Lo) ſ
    "\u0301",
    "\u0903",
    "\u20dd", // Mn Mc Me
    "\u4e2d",
    "\u3042",
    "\u30a2",
    "\uac00",
    "\u0627",
    "\u05d0",
    "\u0e01", // Lo scripts
    "\u0661",
    "\u00bd",
    "\u2167",
    "\u00b2", // Nd No Nl No
    "\u{1f600}",
    "\u200d",
    "\u{1f1fa}",
    "\ufe0f",
    "\u{1d400}",
    "\u{20000}", // astral, ZWJ, VS16
  ];
  assertRandomTextsLikeRegex(alphabet, 12345, 24);
});

test("splitPieces() equals the pattern as a RegExp on whitespace runs of every kind", () => {
  // ASCII whitespace runs (the ASCII fast path) next to non-ASCII whitespace, letters and digits.
  const alphabet = [
    " ",
    " ",
    " ",
    "\t",
    "\n",
    "\r",
    "\u000b",
    "\f",
    "\u00a0",
    "\u3000",
    "a",
    "1",
    "!",
  ];
  assertRandomTextsLikeRegex(alphabet, 777, 16);
});

test("splitPieces() treats 'ſ (U+017F) as the contraction 's, as Rust's (?i) does", () => {
  assert.deepEqual(pieces("he'\u017f"), ["he'\u017f"]);
  assert.deepEqual(pieces("HE'\u017f"), ["HE'\u017f"]);
  assert.deepEqual(pieces("it'\u017f fine"), ["it'\u017f", " fine"]);
  assert.deepEqual(pieces("x'\u017f\u017f"), ["x'\u017f", "\u017f"]);
});

test("splitPieces() uses Unicode 16.0 classes, not the JS engine's", () => {
  // U+0085 is White_Space (Rust \s) but not JS \s; U+FEFF is JS \s but not White_Space.
  assert.deepEqual(pieces("Hi!\u0085\u0085 there"), ["Hi", "!", "\u0085\u0085", " there"]);
  assert.deepEqual(pieces("Hi!\ufeff"), ["Hi", "!\ufeff"]);
  // U+0295 is Ll in 16.0 (Lo in 17.0, where it would also be "upper" and join "Ab").
  assert.deepEqual(pieces("\u0295Ab"), ["\u0295", "Ab"]);
  // Unassigned in 16.0 (letters or numbers in 17.0): neither letter nor number here.
  assert.deepEqual(pieces("x\ua7cey"), ["x", "\ua7cey"]);
  assert.deepEqual(pieces("x\u{2b73a}y"), ["x", "\u{2b73a}y"]);
  assert.deepEqual(pieces("a\u{11de0}1"), ["a", "\u{11de0}", "1"]);
});

test("splitPieces() respects start and end: the text ends at end", () => {
  const utf8 = te.encode("xx  yy  ");
  const ends = new TokenBuffer();
  assert.equal(splitPieces(utf8, 2, 6, ends), 2); // "  yy" -> " ", " yy"
  assert.deepEqual(Array.from(ends.view()), [3, 6]);
  ends.clear();
  assert.equal(splitPieces(utf8, 2, 4, ends), 1); // "  " at the end of the text: one piece
  assert.deepEqual(Array.from(ends.view()), [4]);
});

test("splitPieces() is linear on long runs (1 MB of one letter is one piece)", () => {
  const utf8 = new Uint8Array(1 << 20).fill(0x61);
  const ends = new TokenBuffer();
  assert.equal(splitPieces(utf8, 0, utf8.length, ends), 1);
  const spaces = new Uint8Array(1 << 20).fill(0x20);
  ends.clear();
  assert.equal(splitPieces(spaces, 0, spaces.length, ends), 1);
});
