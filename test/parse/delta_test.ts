// The parser's two content paths give the same observable state: tokens whose bytes are valid
// UTF-8 on their own take their text from a per-tokenizer cache (when no bytes are pending), the
// others go through the byte path (split characters, invalid bytes, pending bytes). A second
// parser, on a tokenizer whose cache is pre-filled with "not self-contained", takes the byte path
// for every token and serves as the oracle. White-box: reads the private byte table of src/parse.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Role } from "../../src/chat/role.ts";
import type { Tokenizer } from "../../src/tokenizer/types.ts";
import { mulberry32 } from "../_support/random.ts";
import { HarmonyParseError, StreamableParser } from "../../src/parse/mod.ts";
import { byteTable, tokenText } from "../../src/parse/_byte_table.ts";
import { corpusRows, enc, encoding, json, ord, tokenizer } from "./_helpers.ts";

// Same vocabulary, another identity: its own byte table, whose text cache says "not
// self-contained" for every token, so its parsers always take the byte path.
const bytePathTokenizer = {
  name: tokenizer.name,
  vocabSize: tokenizer.vocabSize,
  specialTokens: tokenizer.specialTokens,
  tokenBytes: (id: number) => tokenizer.tokenBytes(id),
} as unknown as Tokenizer;
byteTable(bytePathTokenizer).texts.fill(null);
const bytePath = { tokenizer: bytePathTokenizer };

type Reads = "delta" | "content" | "both" | "sometimes";

/** Per token: [state, delta, content] as read under `reads`, then the messages or the error. */
function trace(
  enc: { tokenizer: Tokenizer },
  tokens: readonly number[],
  role: Role | null,
  strict: boolean,
  reads: Reads,
): unknown[] {
  const out: unknown[] = [];
  const p = new StreamableParser(enc, role, { strict });
  let joined = ""; // the deltas of the current message
  try {
    for (let i = 0; i < tokens.length; i++) {
      const wasContent = p.state === "Content";
      p.process(tokens[i]);
      if (!wasContent) joined = "";
      const d = reads === "content" ? null : p.lastContentDelta;
      if (reads === "both") assert.equal(p.lastContentDelta, d, "a second read is the same");
      if (typeof d === "string") joined += d;
      const c = reads === "delta" || (reads === "sometimes" && i % 5 !== 4)
        ? null
        : p.currentContent;
      if (c !== null && reads !== "content" && p.state === "Content") {
        assert.equal(c, joined, "content = the message's deltas joined");
      }
      out.push([p.state, d, c]);
    }
    p.processEos();
    out.push(json(p.messages), p.currentContent, p.lastContentDelta);
  } catch (e) {
    if (!(e instanceof HarmonyParseError)) throw e;
    out.push(`${e.reason}@${e.tokenIndex}`, json(p.messages), p.currentContent);
  }
  return out;
}

function assertSame(tokens: readonly number[], role: Role | null, strict: boolean, reads: Reads) {
  assert.deepEqual(
    trace(encoding, tokens, role, strict, reads),
    trace(bytePath, tokens, role, strict, reads),
    JSON.stringify({ tokens, role, strict, reads }),
  );
}

const PREFIX = enc("<|start|>assistant<|message|>");
const READS: Reads[] = ["delta", "content", "both", "sometimes"];

describe("token text cache", () => {
  test("holds the text of self-contained tokens and null for the others", () => {
    const table = byteTable(tokenizer);
    const hello = ord("hello")[0];
    assert.equal(tokenText(table, hello), "hello");
    assert.equal(table.texts[hello], "hello");
    assert.equal(tokenText(table, ord("门")[0]), "门");
    for (const partial of [9552, 20373, 52415, 222, 187, 158]) {
      assert.equal(tokenText(table, partial), null, `token ${partial}`);
      assert.equal(table.texts[partial], null);
    }
    assert.equal(table.texts.length, tokenizer.vocabSize);
  });

  test("the byte-path tokenizer gives the same messages as the reference tests pin", () => {
    const p = new StreamableParser(bytePath, null);
    for (const t of [...PREFIX, 9552, 9552, ...enc("worked<|end|>")]) p.process(t);
    assert.deepEqual(json(p.messages), [{ role: "assistant", content: " \uFFFD \uFFFDworked" }]);
  });
});

describe("cached path = byte path", () => {
  test("characters split across tokens, invalid bytes, pending bytes at the end", () => {
    const cases: number[][] = [
      [...PREFIX, ...ord("💖 héllo 门 "), ...ord("😊👋🏾👨‍👩‍👧‍👦🇺🇸"), ...enc("<|end|>")],
      [...PREFIX, 9552, ...ord("XY"), ...enc("<|end|>")], // [20 F0 9F] then ASCII
      [...PREFIX, 9552, 9552, ...ord(" worked")], // invalid twice, no end
      [...PREFIX, 9552, 20373, ...ord("ok"), ...enc("<|end|>")], // [20 F0 9F][BE B3 E9 97 A8]
      [...PREFIX, 158, 52415, ...ord("ok")], // [E2][8C 93 EA B8 80]
      [...PREFIX, 222, 187, ...ord("a"), 158], // lone continuation, FF, then pending E2
      [...PREFIX, ...ord("a"), 201089, ...ord("b"), ...enc("<|end|>")], // unknown id
      [...PREFIX, ...ord("\ufeffBOM"), ...enc("<|end|>")],
      [...PREFIX, 158, ...enc("<|end|><|start|>user<|message|>"), ...ord("next")],
    ];
    for (const tokens of cases) {
      for (const reads of READS) assertSame(tokens, null, true, reads);
    }
  });

  test("deltas joined = currentContent, per token, on a split emoji", () => {
    const emoji = ord("💖");
    assert.ok(emoji.length >= 2);
    const p = new StreamableParser(encoding, null);
    let joined = "";
    const deltas: (string | undefined)[] = [];
    for (const t of [...PREFIX, ...ord("a"), ...emoji, ...ord("b")]) {
      p.process(t);
      const d = p.lastContentDelta;
      if (p.state === "Content") deltas.push(d);
      if (d !== undefined) joined += d;
      assert.equal(p.currentContent, joined);
    }
    // After <|message|>: none; "a"; nothing until the emoji's last token; the emoji; "b".
    assert.deepEqual(deltas, [undefined, "a", ...emoji.slice(1).map(() => undefined), "💖", "b"]);
    assert.equal(joined, "a💖b");
  });

  test("1500 seeded random streams (fuzz vocabulary) × 4 modes × 4 read patterns", () => {
    const words = [
      ...new Set([
        ...ord("héllo 💖 门 Привет, こんにちは 👨‍👩‍👧‍👦"),
        ...ord(" to=functions.get_weather analysis final"),
        9552,
        20373,
        52415,
        222,
        187,
        158,
      ]),
    ];
    const special = [200005, 200006, 200007, 200008, 200012];
    const rand = mulberry32(0xde17a);
    const modes: [Role | null, boolean][] = [[null, true], [null, false], ["assistant", true], [
      "assistant",
      false,
    ]];
    for (let run = 0; run < 1500; run++) {
      const tokens = run % 2 === 0 ? [...PREFIX] : [];
      const n = Math.floor(rand() * 40);
      for (let i = 0; i < n; i++) {
        const r = rand();
        if (r < 0.15) tokens.push(special[Math.floor(rand() * special.length)]);
        else if (r < 0.95) tokens.push(words[Math.floor(rand() * words.length)]);
        else if (r < 0.99) tokens.push(Math.floor(rand() * 199998));
        else tokens.push(201089);
      }
      const [role, strict] = modes[run % 4];
      assertSame(tokens, role, strict, READS[(run >> 2) % 4]);
    }
  });

  test("every harmony_outputs corpus row, read per token", () => {
    for (const row of corpusRows()) {
      const tokens = enc(row.text);
      assertSame(tokens, "assistant", false, "delta");
      assertSame(tokens, null, true, "sometimes");
    }
  });
});
