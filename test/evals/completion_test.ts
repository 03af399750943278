import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { analyzeCompletion, summarizeMessages } from "../../src/evals/completion.ts";
import { HarmonyParseError, parseMessagesFromCompletionTokens } from "../../src/parse/mod.ts";
import { messageToJson } from "../../src/chat/json.ts";
import { Message } from "../../src/chat/message.ts";
import {
  byteToken,
  completionsOf,
  conversations,
  enc,
  encoding,
  harmonyOutputs,
  sp,
  toks,
  toolConversations,
} from "./_helpers.ts";

describe("analyzeCompletion() on completions re-rendered from the corpus", () => {
  test("final and analysis texts of every assistant turn come back exactly, stop return", () => {
    let n = 0;
    for (const c of conversations()) {
      for (const built of completionsOf(c)) {
        const r = analyzeCompletion(encoding, built.tokens);
        assert.equal(r.status, "ok");
        assert.equal(r.stop, "return");
        assert.equal(r.final, built.final);
        assert.equal(r.analysis, built.analysis);
        assert.deepEqual(r.tool_calls, []);
        assert.equal(r.messages.length, 2);
        n++;
      }
    }
    assert.ok(n >= 20, `only ${n} completions`);
  });

  test("glaive tool calls give recipient, channel, content type, parsed arguments and raw text", () => {
    let calls = 0;
    for (const c of toolConversations()) {
      for (const built of completionsOf(c)) {
        if (built.stop !== "call") continue;
        const r = analyzeCompletion(encoding, built.tokens);
        assert.equal(r.status, "ok");
        assert.equal(r.stop, "call");
        assert.equal(r.final, null);
        assert.equal(r.tool_calls.length, built.toolCalls.length);
        for (let i = 0; i < built.toolCalls.length; i++) {
          const got = r.tool_calls[i];
          assert.equal(got.recipient, built.toolCalls[i].recipient);
          assert.equal(got.channel, "commentary");
          assert.equal(got.content_type, "<|constrain|>json");
          assert.equal(got.raw, built.toolCalls[i].raw);
          assert.deepEqual(got.arguments, built.toolCalls[i].arguments);
          calls++;
        }
      }
    }
    assert.ok(calls >= 5, `only ${calls} tool calls`);
  });
});

interface Case {
  name: string;
  tokens: number[];
  role?: "assistant" | null;
  status: "ok" | "recovered" | "error";
  stop: "return" | "call" | "end" | "none";
  final?: string | null;
  analysis?: string | null;
  calls?: { recipient: string; content_type: string | null; arguments: unknown; raw: string }[];
  reason?: string;
  tokenIndex?: number;
  messages?: number;
}

const CALL = '{"location": "Oslo"}';
const JUNK = toks(
  "<|channel|>",
  "analysis",
  "<|message|>",
  "hmm",
  "<|end|>",
  "junk",
  "<|start|>",
  "assistant",
  "<|channel|>",
  "final",
  "<|message|>",
  "ok",
  "<|return|>",
);
const cases: Case[] = [
  {
    name: "channel before recipient",
    tokens: toks(
      "<|channel|>",
      "commentary to=functions.get_weather ",
      "<|constrain|>",
      "json",
      "<|message|>",
      CALL,
      "<|call|>",
    ),
    status: "ok",
    stop: "call",
    calls: [{
      recipient: "functions.get_weather",
      content_type: "<|constrain|>json",
      arguments: { location: "Oslo" },
      raw: CALL,
    }],
  },
  {
    name: "recipient before channel",
    tokens: toks(
      " to=functions.get_weather",
      "<|channel|>",
      "commentary ",
      "<|constrain|>",
      "json",
      "<|message|>",
      CALL,
      "<|call|>",
    ),
    status: "ok",
    stop: "call",
    calls: [{
      recipient: "functions.get_weather",
      content_type: "<|constrain|>json",
      arguments: { location: "Oslo" },
      raw: CALL,
    }],
  },
  {
    name: "<|constrain|> without a space before it",
    tokens: toks(
      "<|channel|>",
      "commentary to=functions.get_weather",
      "<|constrain|>",
      "json",
      "<|message|>",
      CALL,
      "<|call|>",
    ),
    status: "ok",
    stop: "call",
    calls: [{
      recipient: "functions.get_weather",
      content_type: "<|constrain|>json",
      arguments: { location: "Oslo" },
      raw: CALL,
    }],
  },
  {
    name: "bare json content type (no <|constrain|>)",
    tokens: toks(
      "<|channel|>",
      "commentary to=functions.f json",
      "<|message|>",
      "[1, 2]",
      "<|call|>",
    ),
    status: "ok",
    stop: "call",
    calls: [{ recipient: "functions.f", content_type: "json", arguments: [1, 2], raw: "[1, 2]" }],
  },
  {
    name: "JSON content type whose text does not parse keeps raw, arguments null",
    tokens: toks(
      "<|channel|>",
      "commentary to=functions.f ",
      "<|constrain|>",
      "json",
      "<|message|>",
      '{"location": "Os',
      "<|call|>",
    ),
    status: "ok",
    stop: "call",
    calls: [{
      recipient: "functions.f",
      content_type: "<|constrain|>json",
      arguments: null,
      raw: '{"location": "Os',
    }],
  },
  {
    name: "no content type: arguments null even when the text is JSON",
    tokens: toks("<|channel|>", "analysis to=python", "<|message|>", "1", "<|call|>"),
    status: "ok",
    stop: "call",
    analysis: null,
    calls: [{ recipient: "python", content_type: null, arguments: null, raw: "1" }],
  },
  {
    name: "missing <|message|>: strict fails at end of stream, non-strict recovers the text",
    tokens: toks("<|channel|>", "final Hello there", "<|return|>"),
    status: "recovered",
    stop: "return",
    final: "Hello there",
    reason: "eos-in-header",
  },
  {
    name: "stray <|return|> after <|end|>: error at its index, the message before is salvaged",
    tokens: toks("<|channel|>", "final", "<|message|>", "Hi", "<|end|>", "<|return|>"),
    status: "error",
    stop: "return",
    final: "Hi",
    reason: "unexpected-token",
    tokenIndex: 5,
  },
  {
    name: "text before the first header (role none): error at 0, later messages salvaged",
    role: null,
    tokens: toks(
      "Sure! ",
      "<|start|>",
      "assistant",
      "<|channel|>",
      "final",
      "<|message|>",
      "42",
      "<|return|>",
    ),
    status: "error",
    stop: "return",
    final: "42",
    reason: "unexpected-token",
    tokenIndex: 0,
  },
  {
    name: "text before the first header (role assistant): read as the recipient, as the reference",
    tokens: toks("Sure!", "<|channel|>", "final", "<|message|>", "42", "<|return|>"),
    status: "ok",
    stop: "return",
    final: null,
    calls: [{ recipient: "Sure!", content_type: null, arguments: null, raw: "42" }],
  },
  {
    name: "junk between messages: salvage restarts at the next <|start|>",
    tokens: JUNK,
    status: "error",
    stop: "return",
    final: "ok",
    analysis: "hmm",
    reason: "unexpected-token",
    tokenIndex: JUNK.indexOf(sp("<|end|>")) + 1,
    messages: 2,
  },
  {
    name: "truncated inside content: parses without error, stop none, partial final",
    tokens: toks("<|channel|>", "final", "<|message|>", "The answer is 4"),
    status: "ok",
    stop: "none",
    final: "The answer is 4",
  },
  {
    name: "truncated inside a header: eos-in-header at the token count, earlier messages kept",
    tokens: toks(
      "<|channel|>",
      "analysis",
      "<|message|>",
      "Think",
      "<|end|>",
      "<|start|>",
      "assistant",
      "<|channel|>",
      "fin",
    ),
    status: "error",
    stop: "none",
    analysis: "Think",
    final: null,
    reason: "eos-in-header",
  },
  {
    name: "empty completion: the reference's end of stream inside the assistant header",
    tokens: [],
    status: "error",
    stop: "none",
    final: null,
    reason: "eos-in-header",
    messages: 0,
  },
  {
    name: "UTF-8 split across byte tokens decodes whole",
    tokens: [
      ...toks("<|channel|>", "final", "<|message|>"),
      byteToken(0xe2),
      byteToken(0x82),
      byteToken(0xac),
      sp("<|return|>"),
    ],
    status: "ok",
    stop: "return",
    final: "€",
  },
  {
    name: "invalid UTF-8 split across tokens becomes U+FFFD",
    tokens: [
      ...toks("<|channel|>", "final", "<|message|>"),
      byteToken(0xe2),
      byteToken(0x82),
      ...toks("A"),
      sp("<|end|>"),
    ],
    status: "ok",
    stop: "end",
    final: "\uFFFDA",
  },
  {
    name: "invalid UTF-8 in a header is an error",
    tokens: [
      ...toks("<|channel|>", "fi"),
      byteToken(0xff),
      ...toks("<|message|>", "x", "<|end|>"),
    ],
    status: "error",
    stop: "end",
    reason: "undecodable-header",
    messages: 0,
  },
  {
    name: "several analysis messages are joined with a newline; final is the last one",
    tokens: toks(
      "<|channel|>",
      "analysis",
      "<|message|>",
      "a",
      "<|end|>",
      "<|start|>",
      "assistant",
      "<|channel|>",
      "final",
      "<|message|>",
      "draft",
      "<|end|>",
      "<|start|>",
      "assistant",
      "<|channel|>",
      "analysis",
      "<|message|>",
      "b",
      "<|end|>",
      "<|start|>",
      "assistant",
      "<|channel|>",
      "final",
      "<|message|>",
      "answer",
      "<|return|>",
    ),
    status: "ok",
    stop: "return",
    analysis: "a\nb",
    final: "answer",
    messages: 4,
  },
];

describe("analyzeCompletion() on malformed and edge-case completions", () => {
  for (const c of cases) {
    test(c.name, () => {
      const r = analyzeCompletion(encoding, c.tokens, { role: c.role });
      assert.equal(r.status, c.status, r.error ?? "");
      assert.equal(r.stop, c.stop);
      if (c.final !== undefined) assert.equal(r.final, c.final);
      if (c.analysis !== undefined) assert.equal(r.analysis, c.analysis);
      if (c.messages !== undefined) assert.equal(r.messages.length, c.messages);
      if (c.calls !== undefined) {
        assert.deepEqual(
          r.tool_calls.map((t) => ({
            recipient: t.recipient,
            content_type: t.content_type,
            arguments: t.arguments,
            raw: t.raw,
          })),
          c.calls,
        );
      }
      if (c.status === "ok") {
        assert.equal(r.error, undefined);
        assert.equal(r.reason, undefined);
      } else {
        assert.equal(r.reason, c.reason);
        assert.ok(r.error?.startsWith(`${c.reason}: Cannot parse`), r.error ?? "");
        const index = c.tokenIndex ?? (c.reason === "eos-in-header" ? c.tokens.length : undefined);
        if (index !== undefined) assert.equal(r.tokenIndex, index);
      }
    });
  }

  test("role none: a completion starting with <|start|> parses", () => {
    const r = analyzeCompletion(
      encoding,
      toks("<|start|>", "assistant", "<|channel|>", "final", "<|message|>", "Hi", "<|return|>"),
      { role: null },
    );
    assert.equal(r.status, "ok");
    assert.equal(r.final, "Hi");
  });

  test("a token id past 2^32 is a RangeError, not a result", () => {
    assert.throws(() => analyzeCompletion(encoding, [2 ** 32]), RangeError);
  });

  test("summarizeMessages() ignores non-assistant messages and channel-less ones", () => {
    const s = summarizeMessages([
      Message.fromRoleAndContent("user", "q").withChannel("final"),
      Message.fromRoleAndContent("assistant", "no channel"),
      Message.fromRoleAndContent("tool", "{}").withRecipient("assistant"),
      Message.fromRoleAndContent("assistant", "yes").withChannel("final"),
    ]);
    assert.deepEqual(s, { final: "yes", analysis: null, tool_calls: [] });
  });
});

describe("analyzeCompletion() agrees with the parser on harmony_outputs.jsonl", () => {
  test("status, messages and stop follow the strict and non-strict parses", () => {
    const seen = { ok: 0, recovered: 0, error: 0 };
    for (const row of harmonyOutputs()) {
      const tokens = enc(row.text);
      const role = row.text.startsWith("<|start|>") ? null : "assistant" as const;
      const r = analyzeCompletion(encoding, tokens, { role });
      seen[r.status]++;
      const where = `${row.source}: ${row.text.slice(0, 60)}`;
      const parse = (strict: boolean) => {
        try {
          return parseMessagesFromCompletionTokens(encoding, tokens, role, { strict }).map(
            messageToJson,
          );
        } catch (e) {
          assert.ok(e instanceof HarmonyParseError, where);
          return e;
        }
      };
      const strict = parse(true);
      const lax = parse(false);
      if (!(strict instanceof HarmonyParseError)) {
        assert.equal(r.status, "ok", where);
        assert.deepEqual(r.messages, strict, where);
      } else if (!(lax instanceof HarmonyParseError)) {
        assert.equal(r.status, "recovered", where);
        assert.deepEqual(r.messages, lax, where);
        assert.equal(r.reason, strict.reason, where);
        assert.equal(r.tokenIndex, strict.tokenIndex, where);
      } else {
        assert.equal(r.status, "error", where);
        assert.equal(r.reason, lax.reason, where);
        assert.equal(r.tokenIndex, lax.tokenIndex, where);
      }
      const last = tokens[tokens.length - 1];
      const stop = last === sp("<|return|>")
        ? "return"
        : last === sp("<|call|>")
        ? "call"
        : last === sp("<|end|>")
        ? "end"
        : "none";
      assert.equal(r.stop, stop, where);
    }
    assert.ok(seen.ok > 0 && seen.error > 0, JSON.stringify(seen));
  });
});
