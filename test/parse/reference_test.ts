// Every parsing and streaming test of openai/harmony v0.0.8 (src/tests.rs, tests/test_harmony.py),
// re-expressed. Test names carry the reference test's name.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Author, Role } from "../../src/chat/role.ts";
import { Message } from "../../src/chat/message.ts";
import {
  HarmonyParseError,
  parseMessagesFromCompletionTokens,
  StreamableParser,
} from "../../src/parse/mod.ts";
import { enc, encoding, golden, goldenTokens, json, ord, tokenizer } from "./_helpers.ts";

const A = Role.Assistant;
const msg = (text: string) => Message.fromRoleAndContent(A, text);

function feed(parser: StreamableParser, tokens: Iterable<number>): StreamableParser {
  for (const t of tokens) parser.process(t);
  return parser;
}

describe("reference parsing tests", () => {
  test("test_simple_reasoning_response: analysis then final, role assistant", () => {
    const messages = parseMessagesFromCompletionTokens(
      encoding,
      goldenTokens("test_simple_reasoning_response.txt"),
      A,
    );
    assert.deepEqual(
      json(messages),
      json([
        msg('User asks: "What is 2 + 2?" Simple arithmetic. Provide answer.').withChannel(
          "analysis",
        ),
        msg("2 + 2 = 4.").withChannel("final"),
      ]),
    );
  });

  const toolCallExpected = [
    msg('User asks: "What is the weather in Tokyo?" We need to use lookup_weather tool.')
      .withChannel("analysis"),
    msg('{"location": "Tokyo"}').withChannel("analysis").withRecipient("lookup_weather")
      .withContentType("code"),
  ];

  test("test_simple_tool_call (tests.rs tokens): recipient before channel, content type", () => {
    const response = [
      200005,
      35644,
      200008,
      1844,
      31064,
      25,
      392,
      4827,
      382,
      290,
      11122,
      306,
      40510,
      16842,
      1416,
      1309,
      316,
      1199,
      37342,
      170154,
      4584,
      13,
      200007,
      200006,
      173781,
      200005,
      35644,
      316,
      28,
      29712,
      170154,
      3490,
      200008,
      10848,
      7693,
      1243,
      392,
      173844,
      18583,
    ];
    assert.deepEqual(
      json(parseMessagesFromCompletionTokens(encoding, response, A)),
      json(toolCallExpected),
    );
  });

  test("test_simple_tool_call (test-data file): ends without a stop token", () => {
    const tokens = goldenTokens("test_simple_tool_call.txt");
    assert.deepEqual(
      json(parseMessagesFromCompletionTokens(encoding, tokens, A)),
      json(toolCallExpected),
    );
  });

  test("test_tool_response_parsing: unknown role becomes a tool author, role null", () => {
    const text = golden("test_tool_response_parsing.txt");
    const tokens = enc(text);
    assert.equal(tokenizer.decode(tokens), text);
    const messages = parseMessagesFromCompletionTokens(encoding, tokens, null);
    assert.deepEqual(
      json(messages),
      json([
        Message.fromAuthorAndContent(
          Author.new(Role.Tool, "browser.search"),
          '{"result": "https://openai.com/"}',
        ).withChannel("commentary").withRecipient("assistant"),
      ]),
    );
  });

  test("test_streamable_parser: three messages from the test-data text, role assistant", () => {
    const parser = feed(
      new StreamableParser(encoding, A),
      enc(golden("test_streamable_parser.txt")),
    );
    assert.equal(parser.messages.length, 3);
    assert.deepEqual(json(parser.messages).map((m) => [m.role, m.name, m.recipient, m.channel]), [
      ["assistant", undefined, undefined, "analysis"],
      ["assistant", undefined, "browser.search", "commentary"],
      ["tool", "browser.search", "assistant", "commentary"],
    ]);
    assert.equal(parser.messages[1].contentType, "code");
  });

  const constrainExpected = [
    msg('{"latitude":48.8566,"longitude":2.3522}').withChannel("commentary")
      .withRecipient("functions.get_weather").withContentType("<|constrain|>json"),
  ];

  test("test_streamable_parser_tool_call_with_constrain_adjacent", () => {
    const text =
      '<|start|>assistant<|channel|>commentary to=functions.get_weather<|constrain|>json<|message|>{"latitude":48.8566,"longitude":2.3522}<|call|>';
    const parser = feed(new StreamableParser(encoding, null), enc(text));
    assert.deepEqual(json(parser.messages), json(constrainExpected));
  });

  test("test_tool_call_with_channel_before_recipient_and_constrain_adjacent", () => {
    const text =
      '<|start|>assistant<|channel|>commentary to=functions.get_weather<|constrain|>json<|message|>{"latitude":48.8566,"longitude":2.3522}<|call|>';
    assert.deepEqual(
      json(parseMessagesFromCompletionTokens(encoding, enc(text))),
      json(constrainExpected),
    );
  });

  const tokyo = [
    msg('{"location": "Tokyo"}').withChannel("commentary").withRecipient("functions.get_weather")
      .withContentType("<|constrain|>json"),
  ];

  test("test_tool_call_with_constrain_marker_adjacent (recipient before channel)", () => {
    for (const end of ["<|end|>", "<|call|>"]) {
      const text =
        `<|start|>assistant to=functions.get_weather<|channel|>commentary<|constrain|>json<|message|>{"location": "Tokyo"}${end}`;
      assert.deepEqual(
        json(parseMessagesFromCompletionTokens(encoding, enc(text), null)),
        json(tokyo),
      );
    }
  });

  test("test_tool_call_with_constrain_tokenized_correctly (space before <|constrain|>)", () => {
    const text =
      '<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>{"location": "Tokyo"}<|call|>';
    const tokens = enc(text);
    assert.equal(tokenizer.decode(tokens), text);
    assert.ok(tokens.includes(200003), "<|constrain|> must be one special token");
    assert.deepEqual(json(parseMessagesFromCompletionTokens(encoding, tokens, null)), json(tokyo));
  });

  test("test_missing_message_token_requires_non_strict_mode", () => {
    const tokens = enc("<|channel|>commentary Hello<|end|>");
    assert.throws(
      () => parseMessagesFromCompletionTokens(encoding, tokens, A),
      (e: unknown) => e instanceof HarmonyParseError && e.reason === "eos-in-header",
    );
    const parsed = parseMessagesFromCompletionTokens(encoding, tokens, A, { strict: false });
    assert.deepEqual(json(parsed), json([msg("Hello").withChannel("commentary")]));
  });

  const refusalTail = "<|start|>assistant<|channel|>analysis<|message|>We must refuse<|end|>" +
    "<|start|>assistant<|channel|>final<|message|>I'm sorry, but I can't help with that.<|return|>";
  const missingMessageCases: [string, string, Message[]][] = [
    ["test_streamable_parser_missing_message_token", "I must refuse<|end|>" + refusalTail, [
      msg("I must refuse"),
      msg("We must refuse").withChannel("analysis"),
      msg("I'm sorry, but I can't help with that.").withChannel("final"),
    ]],
    [
      "test_streamable_parser_missing_message_token_other_initial_headers",
      "<|channel|>analysis I must refuse<|end|>" + refusalTail,
      [
        msg("I must refuse").withChannel("analysis"),
        msg("We must refuse").withChannel("analysis"),
        msg("I'm sorry, but I can't help with that.").withChannel("final"),
      ],
    ],
    [
      "test_streamable_parser_missing_message_token_tool_call",
      "... Let's use the tool.<|end|><|start|>assistant to=functions.get_weather<|channel|>commentary json" +
      '<|message|>{"location": "Tokyo"}<|call|>',
      [
        msg("... Let's use the tool."),
        msg('{"location": "Tokyo"}').withChannel("commentary")
          .withRecipient("functions.get_weather").withContentType("json"),
      ],
    ],
  ];
  for (const [name, text, expected] of missingMessageCases) {
    test(`${name} (strict: error on the header leftovers)`, () => {
      const parser = new StreamableParser(encoding, A, { strict: true });
      assert.throws(
        () => feed(parser, enc(text)),
        (e: unknown) =>
          e instanceof HarmonyParseError && e.reason === "header-leftovers" &&
          /unexpected tokens remaining in message header/.test(e.message),
      );
    });
    test(`${name} (non-strict: recovers)`, () => {
      const parser = feed(new StreamableParser(encoding, A, { strict: false }), enc(text));
      assert.deepEqual(json(parser.messages), json(expected));
    });
  }
});

describe("reference streaming UTF-8 tests", () => {
  const prefix = enc("<|start|>assistant<|message|>");

  test("token 9552 is the bytes [32, 240, 159] (an incomplete 4-byte sequence)", () => {
    assert.deepEqual([...tokenizer.tokenBytes(9552)], [32, 240, 159]);
  });

  test("test_streamable_parser_does_not_leak_bytes_between_messages", () => {
    const tokens = [
      ...prefix,
      9552,
      9552,
      ...enc("<|end|>"),
      ...prefix,
      ...enc("Hi"),
      ...enc("<|end|>"),
    ];
    const parser = feed(new StreamableParser(encoding, null), tokens);
    assert.equal(parser.messages.length, 2);
    assert.deepEqual(json([parser.messages[1]]), json([msg("Hi")]));
    assert.equal(
      parser.messages[0].content[0].type === "text" && parser.messages[0].content[0].text,
      " \uFFFD \uFFFD",
    );
  });

  test("test_streamable_parser_flushes_partial_bytes_on_eos", () => {
    const parser = feed(new StreamableParser(encoding, null), [...prefix, 9552, ...enc("Hi")]);
    parser.processEos();
    assert.deepEqual(json(parser.messages), json([msg(" \uFFFDHi")]));
    assert.equal(parser.lastContentDelta, undefined);
    assert.equal(parser.currentContent, "");
  });

  test("test_streamable_parser_waits_for_multi_token_utf8_sequence", () => {
    const parser = feed(new StreamableParser(encoding, null), prefix);
    const emoji = ord("💖");
    assert.ok(emoji.length >= 2);
    parser.process(emoji[0]);
    assert.equal(parser.lastContentDelta, undefined);
    assert.equal(parser.currentContent, "");
    parser.process(emoji[1]);
    assert.equal(parser.lastContentDelta, "💖");
    assert.equal(parser.currentContent, "💖");
    feed(parser, enc("<|end|>"));
    assert.deepEqual(json(parser.messages), json([msg("💖")]));
  });

  test("test_parse_completion_with_invalid_content_token_errors_on_eos (u32::MAX)", () => {
    const parser = feed(
      new StreamableParser(encoding, null),
      enc("<|start|>assistant<|channel|>analysis<|message|>Practice invalid token handling."),
    );
    parser.process(0xffffffff);
    parser.processEos();
    assert.deepEqual(
      json(parser.messages),
      json([msg("Practice invalid token handling.\uFFFD").withChannel("analysis")]),
    );
  });

  test("test_streamable_parser_invalid_utf8_decoding", () => {
    assert.throws(() =>
      new TextDecoder("utf-8", { fatal: true }).decode(tokenizer.decodeBytes([9552, 9552]))
    );
    const parser = feed(new StreamableParser(encoding, null), [
      ...prefix,
      9552,
      9552,
      ...enc("worked<|end|>"),
    ]);
    assert.deepEqual(json(parser.messages), json([msg(" \uFFFD \uFFFDworked")]));
  });

  test("test_streamable_parser_invalid_utf8_decoding_split_across_tokens", () => {
    const parser = feed(new StreamableParser(encoding, null), [
      ...prefix,
      9552,
      ...ord("XY"),
      ...enc("<|end|>"),
    ]);
    assert.deepEqual(json(parser.messages), json([msg(" \uFFFDXY")]));
  });

  test("test_streamable_parser_invalid_utf8_decoding_multi_byte_token", () => {
    const parser = feed(
      new StreamableParser(encoding, null),
      [...prefix, 9552, ...ord(" interesting"), ...enc("<|end|>")],
    );
    assert.deepEqual(json(parser.messages), json([msg(" \uFFFD interesting")]));
  });

  test("test_streamable_parser_invalid_utf8_decoding_multi_byte_token_no_eos_marker", () => {
    const parser = new StreamableParser(encoding, null);
    const deltas: string[] = [];
    for (const t of [...prefix, 9552, ...ord(" interesting"), ...ord(" story")]) {
      parser.process(t);
      if (parser.lastContentDelta !== undefined) deltas.push(parser.lastContentDelta);
    }
    assert.equal(parser.currentContent, " \uFFFD interesting story");
    assert.equal(deltas.join(""), " \uFFFD interesting story");
    parser.process(ord("Y")[0]);
    assert.equal(parser.lastContentDelta, "Y");
    assert.equal(parser.currentContent, " \uFFFD interesting storyY");
  });

  test("test_streamable_parser_tricky_utf8_decoding", () => {
    const tricky = "Hello Müller, Γειά σου, Привет, שלום, مرحبا, नमस्ते, こんにちは, 안녕하세요," +
      " 你好. Normalized (naïve) vs. decomposed (naïve) characters. " +
      "Some emojis: 😊👋🏾👨‍👩‍👧‍👦🇺🇸.";
    const parser = new StreamableParser(encoding, null);
    const deltas: string[] = [];
    for (const t of [...prefix, ...ord(tricky), ...enc("<|end|>")]) {
      parser.process(t);
      if (parser.lastContentDelta !== undefined) deltas.push(parser.lastContentDelta);
    }
    assert.deepEqual(json(parser.messages), json([msg(tricky)]));
    assert.equal(deltas.join(""), tricky);
  });
});
