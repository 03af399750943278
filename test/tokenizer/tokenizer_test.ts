import { test } from "node:test";
import assert from "node:assert/strict";
import { loadTokenizer, SpecialToken, TokenBuffer, VOCAB_SIZE } from "../../src/tokenizer/mod.ts";
import { fromPieces, jsOrdinary, jsTiktoken, wasmOrdinary } from "./_reference.ts";
import { assertSameTokens } from "./_assert.ts";

const tok = await loadTokenizer();
const te = new TextEncoder();

test("loadTokenizer() returns one shared o200k_harmony instance", async () => {
  assert.equal(await loadTokenizer(), tok);
  assert.equal(tok.name, "o200k_harmony");
  assert.equal(tok.vocabSize, 201089);
  assert.equal(VOCAB_SIZE, 201089);
  assert.equal(tok.specialTokens.size, 201088 - 199998 + 1);
  assert.equal(tok.specialTokens.get("<|start|>"), 200006);
  assert.equal(tok.specialTokens.get("<|reserved_200014|>"), 200014);
});

test("encodeOrdinary() gives the reference ids for known texts", () => {
  assert.deepEqual(Array.from(tok.encodeOrdinary("hello world")), [24912, 2375]);
  assert.deepEqual(Array.from(tok.encodeOrdinary("")), []);
  assert.deepEqual(Array.from(tok.encodeOrdinary("<|end|>")), [27, 91, 419, 91, 29]);
});

test("encodeOrdinaryInto() appends to the sink and returns the count; countTokens() agrees", () => {
  const out = new TokenBuffer();
  out.push(1);
  assert.equal(tok.encodeOrdinaryInto("hello world", out), 2);
  assert.deepEqual(Array.from(out.view()), [1, 24912, 2375]);
  for (
    const text of ["", "hello world", "\u4e2d\u6587\u5b57 and more text, 12345!", "a".repeat(5000)]
  ) {
    assert.equal(tok.countTokens(text), tok.encodeOrdinary(text).length);
  }
});

test("encode() turns allowed special-token literals into ids, the rest as tiktoken does", () => {
  const text = "<|start|>user<|message|>hi<|end|> <|return|>";
  assert.deepEqual(Array.from(tok.encode(text, { allowedSpecial: "all" })), [
    200006,
    1428,
    200008,
    3686,
    200007,
    220,
    200002,
  ]);
  assertSameTokens(
    tok.encode(text, { allowedSpecial: "all" }),
    jsTiktoken.encode(text, "all"),
    "all",
  );
  const some = tok.encode(text, {
    allowedSpecial: ["<|start|>", "<|end|>"],
    disallowedSpecial: [],
  });
  assertSameTokens(some, jsTiktoken.encode(text, ["<|start|>", "<|end|>"], []), "subset");
  assert.equal(some[0], SpecialToken.Start);
  assertSameTokens(tok.encode(text, { disallowedSpecial: [] }), tok.encodeOrdinary(text), "none");
  // Text around an allowed special token is encoded on its own (`\s+(?!\S)` sees its end).
  const ws = "a  <|end|>  b\n\n<|end|>\n";
  assertSameTokens(tok.encode(ws, { allowedSpecial: "all" }), jsTiktoken.encode(ws, "all"), "ws");
  assertSameTokens(
    tok.encode("<|<|end|>|>", { allowedSpecial: "all" }),
    [27, 91, 200007, 91, 29],
    "nested",
  );
});

test("encode() finds special tokens in linear time among many lookalikes", () => {
  const text = "<|".repeat(50_000) + "|> <|end|>" + "|>".repeat(1000);
  const ids = tok.encode(text, { allowedSpecial: "all" });
  assert.equal(ids.filter((t) => t === SpecialToken.End).length, 1);
  assert.equal(tok.decode(ids), text);
  assert.throws(() => tok.encode(text), { message: /<\|end\|> at offset 100003$/ });
});

test("encode() throws SyntaxError naming a disallowed special token and its offset", () => {
  const cases: Array<[string, Parameters<typeof tok.encode>[1], string]> = [
    ["hi <|end|>", undefined, "<|end|> at offset 3"],
    ["<|start|>x<|end|>", { allowedSpecial: ["<|start|>"] }, "<|end|> at offset 10"],
    ["\u{1f600}<|reserved_200100|>", {}, "<|reserved_200100|> at offset 2"],
    [
      "<|start|><|end|>",
      { allowedSpecial: [], disallowedSpecial: ["<|end|>"] },
      "<|end|> at offset 9",
    ],
  ];
  for (const [text, options, where] of cases) {
    assert.throws(() => tok.encode(text, options), {
      name: "SyntaxError",
      message: `Cannot encode text: disallowed special token ${where}`,
    });
  }
  // Not special tokens: no error.
  assertSameTokens(
    tok.encode("<|nope|> <|end"),
    tok.encodeOrdinary("<|nope|> <|end"),
    "lookalikes",
  );
});

test("decode() and decodeBytes() invert encoding; split UTF-8 becomes U+FFFD", () => {
  const text = "Grüße, 世界! \u{1f468}\u200d\u{1f469}\u200d\u{1f467} <|end|>\r\n";
  assert.equal(tok.decode(tok.encodeOrdinary(text)), text);
  assert.deepEqual(tok.decodeBytes(tok.encodeOrdinary(text)), te.encode(text));
  assert.equal(tok.decode([200006, 1428, 200008]), "<|start|>user<|message|>");
  // The token of the single byte E4 (a lead byte of 3) is not UTF-8 on its own: U+FFFD.
  const e4 = tok.vocabulary.rankOf(new Uint8Array([0xe4]), 0, 1);
  assert.equal(tok.decode([e4]), "\ufffd");
  assert.equal(tok.decode([e4, 24912]), "\ufffdhello");
  assert.equal(tok.decode([]), "");
});

test("decode() keeps a leading byte-order mark", () => {
  assert.equal(tok.decode(tok.encodeOrdinary("\ufeffhi")), "\ufeffhi");
});

test("decode(), decodeBytes() and tokenBytes() throw RangeError naming a bad id and its index", () => {
  for (
    const [tokens, id, index] of [
      [[1, -1], -1, 1],
      [[201089], 201089, 0],
      [[5, 6, 1.5], 1.5, 2],
      [[NaN], NaN, 0],
    ] as Array<[number[], number, number]>
  ) {
    const message = `Cannot decode tokens: id ${id} at index ${index} is outside 0..201088`;
    assert.throws(() => tok.decode(tokens), { name: "RangeError", message });
    assert.throws(() => tok.decodeBytes(tokens), { name: "RangeError", message });
  }
  assert.throws(() => tok.tokenBytes(9999999), {
    name: "RangeError",
    message: /9999999 at index 0/,
  });
});

test("tokenBytes() gives a copy of a token's bytes; isSpecial() marks 199998..201088", () => {
  assert.deepEqual(tok.tokenBytes(200006), te.encode("<|start|>"));
  assert.deepEqual(tok.tokenBytes(201088), te.encode("<|reserved_201088|>"));
  assert.deepEqual(tok.tokenBytes(24912), te.encode("hello"));
  tok.tokenBytes(24912).fill(0);
  assert.deepEqual(tok.tokenBytes(24912), te.encode("hello"));
  assert.equal(tok.isSpecial(199997), false);
  assert.equal(tok.isSpecial(199998), true);
  assert.equal(tok.isSpecial(201088), true);
  assert.equal(tok.isSpecial(201089), false);
  assert.equal(tok.isSpecial(-1), false);
});

test("lone UTF-16 surrogates encode as U+FFFD (as TextEncoder does)", () => {
  for (
    const [text, same] of [
      ["a\ud800b", "a\ufffdb"],
      ["\udc00", "\ufffd"],
      ["x\ud83d", "x\ufffd"],
      ["\ude00\ud83d\ude00\ud83d", "\ufffd\u{1f600}\ufffd"],
    ]
  ) {
    assertSameTokens(tok.encodeOrdinary(text), tok.encodeOrdinary(same), JSON.stringify(text));
    assertSameTokens(tok.encodeOrdinary(same), wasmOrdinary(same), JSON.stringify(same));
  }
});

/** Adversarial inputs compared with tiktoken (WASM) and js-tiktoken. */
const adversarial: Array<[string, string]> = [
  ["empty", ""],
  ["emoji ZWJ, skin tones, flags, keycaps", "👨‍👩‍👧‍👦 🏳️‍🌈 🇺🇸🇯🇵🇩🇪 👍🏽👋🏿 1️⃣#️⃣ 🧑🏽‍💻 ❤️‍🔥 🏴󠁧󠁢󠁳󠁣󠁴󠁿"],
  [
    "combining marks",
    "e\u0301 a\u0308\u0323 Z\u0324\u0308\u0345 \u0301start x\u0300\u0301\u0302\u0303 क्षत्रिय 한국어 각",
  ],
  [
    "zalgo",
    "h\u0336\u0334\u0335e\u0337\u0338l\u0321\u0322l\u0327\u0328o\u0340\u0341\u0342".repeat(20),
  ],
  [
    "CRLF and mixed whitespace",
    "a\r\n\r\n  \t b \n \n  \r\r\n\n\t\t\n\u00a0\u3000x\u2028\u2029y   \n\n\n   z \t",
  ],
  ["only spaces", "     "],
  ["only newlines", "\n\n\r\n\r\r"],
  ["long digit runs", "1234567890".repeat(50) + " ١٢٣٤٥٦٧٨٩ ½¼¾ Ⅻ ² " + "9".repeat(101)],
  [
    "special-token spellings",
    "<|start|>user<|message|>hi<|end|><|reserved_200100|><|endoftext|><| |> <|",
  ],
  [
    "code",
    'fn main() {\n    let x: Vec<u8> = vec![1, 2, 3];\n    println!("{x:?}");\n}\n// done\r\n',
  ],
  ["json", JSON.stringify({ a: [1, 2.5e-10, "x\ny"], "b c": { d: null, e: true } }, null, 2)],
  [
    "urls and paths",
    "https://example.com/a/b?c=d&e=f#g /usr/local/bin//x \\\\server\\share C:\\Windows",
  ],
];

const CONTRACTIONS = ["s", "t", "re", "ve", "m", "ll", "d"];
function caseVariants(s: string): string[] {
  if (s === "") return [""];
  const rest = caseVariants(s.slice(1));
  return [...rest.map((r) => s[0].toLowerCase() + r), ...rest.map((r) => s[0].toUpperCase() + r)];
}
const contractions = CONTRACTIONS.flatMap(caseVariants).flatMap((c) =>
  ["it", "IT", "It", "中", "e\u0301", "9", " ", ""].map((w) => `${w}'${c} ${w}'${c}x '${c}`)
).join(" ");
adversarial.push(["contractions in every case", contractions]);

for (const [name, text] of adversarial) {
  test(`encodeOrdinary() equals tiktoken and js-tiktoken on ${name}`, () => {
    const ours = tok.encodeOrdinary(text);
    assertSameTokens(ours, wasmOrdinary(text), `${name} (tiktoken)`);
    assertSameTokens(ours, jsOrdinary(text), `${name} (js-tiktoken)`);
    assert.equal(tok.decode(ours), text);
  });
}

test("encodeOrdinary() equals tiktoken on 100 KB without a space", () => {
  let text = "";
  const parts = [
    "abc",
    ",",
    "DEF",
    ".",
    "ghi",
    ";",
    "123",
    "/",
    "Ω",
    "\u4e2d",
    "'s",
    "-",
    "_",
    "é",
  ];
  for (let i = 0; text.length < 100_000; i++) text += parts[(i * 7 + (i >> 3)) % parts.length];
  assertSameTokens(tok.encodeOrdinary(text), wasmOrdinary(text), "100 KB");
  const b64 = btoa(
    String.fromCharCode(...new Uint8Array(75_000).map((_, i) => (i * 131 + 7) & 255)),
  );
  assertSameTokens(tok.encodeOrdinary(b64), wasmOrdinary(b64), "base64");
  assertSameTokens(tok.encodeOrdinary(b64.slice(0, 4000)), jsOrdinary(b64.slice(0, 4000)), "js");
});

test("encodeOrdinary() of a 1 MB run of one letter decodes back (near-linear merge)", () => {
  const text = "a".repeat(1 << 20);
  const ids = tok.encodeOrdinary(text);
  assert.equal(tok.decode(ids), text);
  assert.equal(tok.countTokens(text), ids.length);
});

test("encodeOrdinary() follows Unicode 16.0 and Rust case folding where js-tiktoken does not", () => {
  // Expected ids: the reference's pieces (worked out by hand from the pattern, see
  // pieces_test.ts), each byte-pair encoded by the naive reference merge. tiktoken (WASM, Rust)
  // agrees; js-tiktoken differs because of JS \s, the engine's Unicode version or its `'s|'S` list.
  const cases: Array<[string, string[]]> = [
    ["he'\u017f", ["he'\u017f"]],
    ["HE'\u017f", ["HE'\u017f"]],
    ["it'\u017f fine", ["it'\u017f", " fine"]],
    ["Hi!\u0085\u0085 there", ["Hi", "!", "\u0085\u0085", " there"]],
    ["Hi!\ufeff", ["Hi", "!\ufeff"]],
    ["\u0295Ab", ["\u0295", "Ab"]],
    ["x\ua7cey", ["x", "\ua7cey"]],
    ["x\u{2b73a}y", ["x", "\u{2b73a}y"]],
    ["a\u{11de0}1", ["a", "\u{11de0}", "1"]],
  ];
  for (const [text, pieces] of cases) {
    const want = fromPieces(pieces);
    assertSameTokens(tok.encodeOrdinary(text), want, JSON.stringify(text));
    assertSameTokens(wasmOrdinary(text), want, `tiktoken on ${JSON.stringify(text)}`);
  }
  // js-tiktoken splits "'ſ" off: a different result, in every runtime.
  assert.notDeepEqual(jsOrdinary("he'\u017f"), fromPieces(["he'\u017f"]));
});
