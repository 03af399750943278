// Real-world harmony strings (shared/corpus/harmony_outputs.jsonl, or the bundled excerpt): every
// row parses or fails with a HarmonyParseError in all four modes, and a dozen representative rows
// have their results pinned (each checked by hand against the reference's rules).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Role } from "../../src/chat/role.ts";
import type { MessageJson } from "../../src/chat/json.ts";
import {
  HarmonyParseError,
  type HarmonyParseErrorReason,
  parseMessagesFromCompletionTokens,
} from "../../src/parse/mod.ts";
import { corpusRows, enc, encoding, hasShared, json } from "./_helpers.ts";

const modes: [Role | null, boolean][] = [[null, true], [null, false], ["assistant", true], [
  "assistant",
  false,
]];

describe(`harmony_outputs corpus (${hasShared ? "shared" : "bundled excerpt"})`, () => {
  test("every row parses or throws HarmonyParseError, with role null/assistant, strict or not", () => {
    const rows = corpusRows();
    assert.ok(rows.length >= (hasShared ? 246 : 20));
    let ok = 0;
    let failed = 0;
    for (const row of rows) {
      const tokens = enc(row.text);
      for (const [role, strict] of modes) {
        try {
          const messages = parseMessagesFromCompletionTokens(encoding, tokens, role, { strict });
          assert.ok(Array.isArray(messages));
          ok++;
        } catch (e) {
          if (!(e instanceof HarmonyParseError)) throw e;
          assert.ok(e.tokenIndex >= 0 && e.tokenIndex <= tokens.length, row.text.slice(0, 60));
          failed++;
        }
      }
    }
    assert.equal(ok + failed, rows.length * 4);
    assert.ok(ok > 0 && failed > 0);
  });
});

type Pin = [
  why: string,
  text: string,
  role: Role | null,
  strict: boolean,
  expected: MessageJson[] | { reason: HarmonyParseErrorReason; tokenIndex?: number },
];

const pins: Pin[] = [
  [
    "completion starting with <|channel|>, then a tool call with ' <|constrain|>json'",
    '<|channel|>analysis<|message|>Need to use function get_weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location":"San Francisco"}<|call|>',
    "assistant",
    true,
    [
      { role: "assistant", content: "Need to use function get_weather.", channel: "analysis" },
      {
        role: "assistant",
        recipient: "functions.get_weather",
        content: '{"location":"San Francisco"}',
        channel: "commentary",
        content_type: "<|constrain|>json",
      },
    ],
  ],
  [
    "tool message: unknown first word is the tool's name",
    '<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{"sunny": true, "temperature": 20}<|end|>',
    null,
    true,
    [{
      role: "tool",
      name: "functions.get_weather",
      recipient: "assistant",
      content: '{"sunny": true, "temperature": 20}',
      channel: "commentary",
    }],
  ],
  [
    "non-strict: a headerless text cut by <|end|> becomes content, whitespace collapsed",
    "# Response Formats\n\n## {format name}\n\n// {description or context}\n{schema}<|end|>",
    "assistant",
    false,
    [{
      role: "assistant",
      content: "# Response Formats ## {format name} // {description or context} {schema}",
    }],
  ],
  [
    "a tool header without recipient is an unknown role",
    '<|start|>user<|message|>What is the weather in SF?<|end|><|start|>functions.lookup_weather<|message|>{"temperature": 20}<|end|>',
    null,
    true,
    { reason: "unknown-role" },
  ],
  [
    "five messages, role null",
    "<|start|>user<|message|>What is 2 + 2?<|end|><|start|>assistant<|channel|>final<|message|>4<|end|><|start|>user<|message|>What is 3 + 5?<|end|><|start|>assistant<|channel|>analysis<|message|>thinking 3+5<|end|><|start|>assistant<|channel|>final<|message|>8<|end|>",
    null,
    true,
    [
      { role: "user", content: "What is 2 + 2?" },
      { role: "assistant", content: "4", channel: "final" },
      { role: "user", content: "What is 3 + 5?" },
      { role: "assistant", content: "thinking 3+5", channel: "analysis" },
      { role: "assistant", content: "8", channel: "final" },
    ],
  ],
  [
    "a tool reply without channel after a call",
    '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location":"San Francisco"}<|call|><|start|>functions.get_weather to=assistant<|message|>{"sunny": true, "temperature": 20}<|end|>',
    null,
    true,
    [
      {
        role: "assistant",
        recipient: "functions.get_weather",
        content: '{"location":"San Francisco"}',
        channel: "commentary",
        content_type: "<|constrain|>json",
      },
      {
        role: "tool",
        name: "functions.get_weather",
        recipient: "assistant",
        content: '{"sunny": true, "temperature": 20}',
      },
    ],
  ],
  [
    "non-strict: leading <|end|> with an empty header is dropped; '<|constrain|> JSON ' gives recipient <|constrain|>",
    "<|end|><|start|>assistant<|channel|>analysis<|message|>This is reasoning<|end|><|start|>assistant<|channel|>final<|constrain|> JSON <|message|>",
    "assistant",
    false,
    [
      { role: "assistant", content: "This is reasoning", channel: "analysis" },
      {
        role: "assistant",
        recipient: "<|constrain|>",
        content: "",
        channel: "final",
        content_type: "JSON",
      },
    ],
  ],
  [
    "text between messages is an unexpected token",
    "Some text <|channel|>analysis<|message|>reasoning<|end|> more text <|start|>assistant<|channel|>final<|message|>answer<|return|> trailing text",
    "assistant",
    false,
    { reason: "unexpected-token", tokenIndex: 9 },
  ],
  [
    "special tokens stripped: the header never ends",
    "analysis I need to think about this. assistantfinal The answer is 42.",
    "assistant",
    false,
    { reason: "eos-in-header" },
  ],
  [
    "a nonstandard channel cut off",
    "<|channel|>thinking",
    "assistant",
    false,
    { reason: "eos-in-header", tokenIndex: 2 },
  ],
  [
    "a template header: one word after a given role is the recipient",
    "<|start|>{header}<|message|>{content}<|end|>",
    "assistant",
    true,
    [{ role: "assistant", recipient: "<|start|>{header}", content: "{content}" }],
  ],
  [
    "the same template header with role null: unknown role",
    "<|start|>{header}<|message|>{content}<|end|>",
    null,
    true,
    { reason: "unknown-role" },
  ],
  [
    "messages separated by newlines: the newline is an unexpected token",
    "<|start|>user<|message|>What is 2 + 2?<|end|>\n<|start|>assistant",
    null,
    true,
    { reason: "unexpected-token" },
  ],
  [
    "an escaped backslash in content",
    "<|channel|>analysis<|message|>\\1<|end|>",
    "assistant",
    true,
    [{ role: "assistant", content: "\\1", channel: "analysis" }],
  ],
];

describe("pinned corpus rows", () => {
  for (const [why, text, role, strict, expected] of pins) {
    test(`${why} (role ${role}, ${strict ? "strict" : "non-strict"})`, () => {
      const tokens = enc(text);
      if (Array.isArray(expected)) {
        assert.deepEqual(
          json(parseMessagesFromCompletionTokens(encoding, tokens, role, { strict })),
          expected,
        );
      } else {
        assert.throws(
          () => parseMessagesFromCompletionTokens(encoding, tokens, role, { strict }),
          (e: unknown) =>
            e instanceof HarmonyParseError && e.reason === expected.reason &&
            (expected.tokenIndex === undefined || e.tokenIndex === expected.tokenIndex),
        );
      }
    });
  }
});
