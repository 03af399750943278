// The header grammar, errors and streaming states of the reference parser (src/encoding.rs,
// parse_header_from_string and StreamableParser::process_next), one row per rule. Each expected
// value was derived by hand from the reference's code (the rule is named in the row).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Role } from "../../src/chat/role.ts";
import type { MessageJson } from "../../src/chat/json.ts";
import {
  HarmonyParseError,
  type HarmonyParseErrorReason,
  parseMessagesFromCompletionTokens,
  StreamableParser,
} from "../../src/parse/mod.ts";
import { enc, encoding, json, ord } from "./_helpers.ts";

type Row = [
  rule: string,
  text: string,
  role: Role | null,
  strict: boolean,
  expected: MessageJson[] | { reason: HarmonyParseErrorReason; tokenIndex?: number },
];

const rows: Row[] = [
  ["a known role starts the header", "<|start|>user<|message|>Hi<|end|>", null, true, [
    { role: "user", content: "Hi" },
  ]],
  [
    "the role word 'tool' gives a tool author named 'tool'",
    "<|start|>tool<|message|>x<|end|>",
    null,
    true,
    [
      { role: "tool", name: "tool", content: "x" },
    ],
  ],
  [
    "an unknown lone word is an unknown role",
    "<|start|>functions.f<|message|>x<|end|>",
    null,
    true,
    {
      reason: "unknown-role",
    },
  ],
  [
    "a lone to= word is a tool author with that name",
    "<|start|>to=functions.f<|message|>x<|end|>",
    null,
    true,
    [
      { role: "tool", name: "to=functions.f", content: "x" },
    ],
  ],
  ["an empty header has no role", "<|start|><|message|>x<|end|>", null, true, {
    reason: "missing-role",
    tokenIndex: 1,
  }],
  [
    "<|channel|> followed by nothing is an empty channel",
    "<|start|>assistant<|channel|><|message|>x<|end|>",
    null,
    true,
    {
      reason: "empty-channel",
    },
  ],
  [
    "<|channel|> followed by a space is an empty channel",
    "<|start|>assistant<|channel|> final<|message|>x<|end|>",
    null,
    true,
    {
      reason: "empty-channel",
    },
  ],
  [
    "a bare last word is the recipient",
    "<|start|>assistant functions.f<|message|>{}<|call|>",
    null,
    true,
    [
      { role: "assistant", recipient: "functions.f", content: "{}" },
    ],
  ],
  [
    "to=R then a word: recipient R and content type",
    "<|start|>assistant<|channel|>commentary to=functions.f code<|message|>{}<|call|>",
    null,
    true,
    [
      {
        role: "assistant",
        recipient: "functions.f",
        content: "{}",
        channel: "commentary",
        content_type: "code",
      },
    ],
  ],
  [
    "three words after the role: leftovers in strict mode",
    "<|start|>assistant<|channel|>analysis foo bar baz<|message|>x<|end|>",
    null,
    true,
    {
      reason: "header-leftovers",
    },
  ],
  [
    "<|constrain|> right after the channel, no recipient: it becomes the recipient",
    "<|start|>assistant<|channel|>final<|constrain|>json<|message|>x<|end|>",
    null,
    true,
    [
      { role: "assistant", recipient: "<|constrain|>json", content: "x", channel: "final" },
    ],
  ],
  [
    "'<|constrain|> json' (space after the token): leftovers",
    "<|start|>assistant<|channel|>commentary to=functions.f <|constrain|> json<|message|>{}<|call|>",
    null,
    true,
    {
      reason: "header-leftovers",
    },
  ],
  [
    "the channel ends at Unicode whitespace (NBSP)",
    "<|channel|>final\u00a0x<|message|>y<|end|>",
    "assistant",
    true,
    [
      { role: "assistant", recipient: "x", content: "y", channel: "final" },
    ],
  ],
  [
    "only the first <|channel|> is a channel",
    "<|start|>assistant<|channel|>a<|channel|>b<|message|>x<|end|>",
    null,
    true,
    {
      reason: "unknown-role",
    },
  ],
  [
    "words split at tab and newline",
    "<|start|>assistant\tto=f\ncode<|message|>x<|call|>",
    null,
    true,
    [
      { role: "assistant", recipient: "f", content: "x", content_type: "code" },
    ],
  ],
  [
    "vertical tab does not split words (split_ascii_whitespace)",
    "<|start|>assistant\u000bto=f<|message|>x<|end|>",
    null,
    true,
    {
      reason: "unknown-role",
    },
  ],
  [
    "U+FEFF is not trimmed (Rust trim), so it is part of the role word",
    "<|start|>\ufeffassistant<|message|>x<|end|>",
    null,
    true,
    {
      reason: "unknown-role",
    },
  ],
  [
    "U+0085 is trimmed (Rust trim)",
    "<|start|>assistant<|channel|>final\u0085<|message|>x<|end|>",
    null,
    true,
    [
      { role: "assistant", content: "x", channel: "final" },
    ],
  ],
  [
    "a given role is dropped from the header words",
    "assistant<|channel|>final<|message|>x<|return|>",
    "assistant",
    true,
    [
      { role: "assistant", content: "x", channel: "final" },
    ],
  ],
  [
    "a token other than <|start|> after a message",
    "<|start|>user<|message|>Hi<|end|>x",
    null,
    true,
    {
      reason: "unexpected-token",
      tokenIndex: 5,
    },
  ],
  ["a completion not starting with <|start|> when role is null", "hello", null, true, {
    reason: "unexpected-token",
    tokenIndex: 0,
  }],
  [
    "a stop token inside a header is header text in strict mode",
    "<|start|>assistant<|channel|>final<|end|><|start|>user<|message|>x<|end|>",
    null,
    true,
    {
      reason: "unknown-role",
    },
  ],
  [
    "non-strict: a header cut by a stop token after <|start|> is dropped",
    "<|start|>assistant<|channel|>final<|end|><|start|>user<|message|>x<|end|>",
    null,
    false,
    [
      { role: "user", content: "x" },
    ],
  ],
  [
    "non-strict: an empty first header cut by a stop token gives no message",
    "<|end|>",
    "assistant",
    false,
    [],
  ],
  [
    "non-strict: an empty channel in a cut header is still an error",
    "<|channel|><|end|>",
    "assistant",
    false,
    {
      reason: "empty-channel",
      tokenIndex: 1,
    },
  ],
  [
    "non-strict: a cut header's words become the content, joined by one space",
    "analysis  many   spaces\n here<|return|>",
    "assistant",
    false,
    [
      { role: "assistant", content: "analysis many spaces here" },
    ],
  ],
  [
    "non-strict: a cut tool header has no author name",
    "to=assistant hello there<|end|>",
    "tool",
    false,
    [
      { role: "tool", content: "to=assistant hello there" },
    ],
  ],
  ["end of stream inside a header", "<|start|>assistant<|channel|>final", null, true, {
    reason: "eos-in-header",
    tokenIndex: 4,
  }],
  ["end of stream inside a header, non-strict too", "<|channel|>final", "assistant", false, {
    reason: "eos-in-header",
    tokenIndex: 2,
  }],
  [
    "end of stream inside content ends the message",
    "<|start|>assistant<|message|>partial",
    null,
    true,
    [
      { role: "assistant", content: "partial" },
    ],
  ],
  [
    "special tokens other than stops are content text",
    "<|start|>user<|message|>a<|start|>b<|channel|>c<|end|>",
    null,
    true,
    [
      { role: "user", content: "a<|start|>b<|channel|>c" },
    ],
  ],
];

describe("header grammar and errors", () => {
  for (const [rule, text, role, strict, expected] of rows) {
    test(`${rule} (${strict ? "strict" : "non-strict"})`, () => {
      const tokens = enc(text);
      if (Array.isArray(expected)) {
        const got = parseMessagesFromCompletionTokens(encoding, tokens, role, { strict });
        assert.deepEqual(json(got), expected);
      } else {
        assert.throws(
          () => parseMessagesFromCompletionTokens(encoding, tokens, role, { strict }),
          (e: unknown) => {
            assert.ok(e instanceof HarmonyParseError, String(e));
            assert.ok(e instanceof SyntaxError);
            assert.equal(e.reason, expected.reason, e.message);
            if (expected.tokenIndex !== undefined) assert.equal(e.tokenIndex, expected.tokenIndex);
            assert.match(e.message, /^Cannot parse /);
            assert.ok(e.message.includes(String(e.tokenIndex)), "message names the token index");
            return true;
          },
        );
      }
    });
  }

  test("a header with an unknown token id cannot be decoded", () => {
    const tokens = [200006, 300000, 200008];
    assert.throws(
      () => parseMessagesFromCompletionTokens(encoding, tokens),
      (e: unknown) =>
        e instanceof HarmonyParseError && e.reason === "undecodable-header" && e.tokenIndex === 2,
    );
  });

  test("a header with invalid UTF-8 cannot be decoded", () => {
    assert.throws(
      () => parseMessagesFromCompletionTokens(encoding, [200006, 9552, 200008, 200007]),
      (e: unknown) => e instanceof HarmonyParseError && e.reason === "undecodable-header",
    );
  });

  test("tokens that are not u32 integers are a RangeError naming the index", () => {
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
      assert.throws(
        () => parseMessagesFromCompletionTokens(encoding, [200006, bad]),
        (e: unknown) => e instanceof RangeError && /index 1/.test(e.message),
      );
    }
  });

  test("the same token array gives the same result through process() and the whole-array path", () => {
    for (const [, text, role, strict] of rows) {
      const tokens = enc(text);
      let a: unknown, b: unknown;
      try {
        a = json(parseMessagesFromCompletionTokens(encoding, tokens, role, { strict }));
      } catch (e) {
        a = (e as Error).message;
      }
      try {
        const p = new StreamableParser(encoding, role, { strict });
        for (const t of tokens) p.process(t);
        p.processEos();
        b = json(p.messages);
      } catch (e) {
        b = (e as Error).message;
      }
      assert.deepEqual(a, b, text);
    }
  });
});

describe("streaming state", () => {
  test("state, role, channel, recipient and content type after every token", () => {
    const text =
      "<|start|>assistant to=functions.f<|channel|>commentary <|constrain|>json<|message|>{}<|call|>";
    const p = new StreamableParser(encoding, null);
    const seen: string[] = [];
    for (const t of enc(text)) {
      p.process(t);
      seen.push(
        [
          p.state,
          p.currentRole,
          p.currentChannel,
          p.currentRecipient,
          p.currentContentType,
          p.currentContent,
        ]
          .map(String).join("|"),
      );
    }
    const header = "Header|undefined|undefined|undefined|undefined|";
    const content = "Content|assistant|commentary|functions.f|<|constrain|>json|";
    assert.deepEqual(seen[0], header);
    assert.equal(seen.filter((s) => s === header).length, seen.length - 3);
    assert.deepEqual(seen.slice(-3), [
      content,
      content + "{}",
      "ExpectStart|undefined|undefined|undefined|undefined|",
    ]);
    assert.deepEqual([...p.tokens], enc(text));
  });

  test("a role given to the constructor is the current role until its header is parsed", () => {
    const p = new StreamableParser(encoding, "assistant");
    assert.equal(p.state, "Header");
    assert.equal(p.currentRole, "assistant");
    for (const t of enc("<|channel|>final<|message|>")) p.process(t);
    assert.equal(p.currentRole, "assistant");
    assert.equal(p.currentChannel, "final");
    for (const t of enc("x<|end|><|start|>")) p.process(t);
    assert.equal(p.currentRole, undefined);
  });

  test("after a rejected header the state is ExpectStart and the given role is kept (as the reference)", () => {
    const p = new StreamableParser(encoding, "assistant");
    assert.throws(() => {
      for (const t of enc("a b c d<|message|>")) p.process(t);
    }, HarmonyParseError);
    assert.equal(p.state, "ExpectStart");
    assert.equal(p.currentRole, "assistant");
    assert.equal(p.tokens.length, enc("a b c d<|message|>").length);
  });

  test("after an unexpected token the token is recorded and the state unchanged", () => {
    const p = new StreamableParser(encoding, null);
    assert.throws(
      () => p.process(12),
      (e: unknown) => e instanceof HarmonyParseError && e.tokenIndex === 0,
    );
    assert.equal(p.state, "ExpectStart");
    assert.deepEqual([...p.tokens], [12]);
    p.process(200006);
    assert.equal(p.state, "Header");
  });

  test("processEos outside a message is a no-op, inside a header an error", () => {
    const p = new StreamableParser(encoding, null);
    p.processEos().processEos();
    assert.equal(p.messages.length, 0);
    p.process(200006);
    assert.throws(
      () => p.processEos(),
      (e: unknown) => e instanceof HarmonyParseError && e.reason === "eos-in-header",
    );
    assert.equal(p.state, "Header");
  });

  const prefix = enc("<|start|>assistant<|message|>");
  const hi = ord("Hi");

  test("at most one invalid sequence per token becomes U+FFFD; the rest waits (token 20373)", () => {
    // 20373 is [BE B3 E9 97 A8]: two stray continuation bytes, then "门".
    assert.equal(hi.length, 1);
    const p = new StreamableParser(encoding, null);
    for (const t of prefix) p.process(t);
    p.process(20373);
    assert.equal(p.lastContentDelta, "\uFFFD");
    assert.equal(p.currentContent, "\uFFFD");
    p.process(hi[0]);
    assert.equal(p.lastContentDelta, "\uFFFD");
    assert.equal(p.currentContent, "\uFFFD\uFFFD");
    p.process(ord("!")[0]);
    assert.equal(p.lastContentDelta, "门Hi!");
    assert.equal(p.currentContent, "\uFFFD\uFFFD门Hi!");
    p.process(200007);
    assert.equal(p.lastContentDelta, undefined);
    assert.deepEqual(json(p.messages), [{ role: "assistant", content: "\uFFFD\uFFFD门Hi!" }]);
  });

  test("an unknown id freezes the content; its U+FFFD goes before the bytes still pending", () => {
    const p = new StreamableParser(encoding, null);
    for (const t of [...prefix, 20373, hi[0], 0xffffffff]) p.process(t);
    assert.equal(p.lastContentDelta, undefined);
    assert.equal(p.currentContent, "\uFFFD\uFFFD");
    for (const t of ord(" more text")) p.process(t);
    assert.equal(p.currentContent, "\uFFFD\uFFFD");
    assert.equal(p.lastContentDelta, undefined);
    p.process(200012);
    assert.deepEqual(json(p.messages), [{ role: "assistant", content: "\uFFFD\uFFFD\uFFFD门Hi" }]);
    for (const t of [...prefix, ...hi, 200007]) p.process(t);
    assert.deepEqual(json(p.messages)[1], { role: "assistant", content: "Hi" });
  });

  test("a byte-order mark in content is kept", () => {
    const p = parseMessagesFromCompletionTokens(encoding, [...prefix, ...ord("\ufeffx"), 200007]);
    assert.deepEqual(json(p), [{ role: "assistant", content: "\ufeffx" }]);
  });
});
