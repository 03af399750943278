import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  conversationFromJson,
  conversationToJson,
  conversationToJsonText,
  messageFromJson,
  messageToJson,
  messageToJsonText,
} from "../../src/chat/json.ts";
import {
  formatFloat,
  parseJsonPreservingOrder,
  sortKeysAsBTreeMap,
  stringifyJson,
} from "../../src/chat/json_text.ts";
import {
  ChannelConfig,
  DeveloperContent,
  JsonFloat,
  ReasoningEffort,
  SystemContent,
  TextContent,
  ToolDescription,
  ToolNamespaceConfig,
} from "../../src/chat/content.ts";
import { Author, Role } from "../../src/chat/role.ts";
import { Conversation, Message } from "../../src/chat/message.ts";

describe("messageToJson writes serde's form", () => {
  test("a single text is a string; unset name/recipient/channel/content_type are left out", () => {
    assert.deepEqual(messageToJson(Message.fromRoleAndContent(Role.User, "Hi")), {
      role: "user",
      content: "Hi",
    });
  });

  test("field order is role, name, recipient, content, channel, content_type", () => {
    const m = Message.fromAuthorAndContent(Author.new(Role.Tool, "functions.f"), "{}")
      .withContentType("<|constrain|>json").withChannel("commentary").withRecipient("assistant");
    assert.equal(
      messageToJsonText(m),
      '{"role":"tool","name":"functions.f","recipient":"assistant","content":"{}","channel":"commentary","content_type":"<|constrain|>json"}',
    );
  });

  test("two texts are a list of tagged contents", () => {
    const m = Message.fromRoleAndContents(Role.User, ["a", "b"]);
    assert.deepEqual(messageToJson(m).content, [
      { type: "text", text: "a" },
      { type: "text", text: "b" },
    ]);
  });

  test("system content writes every field, null when unset, effort as Low|Medium|High", () => {
    const sys = new SystemContent().withReasoningEffort(ReasoningEffort.Low);
    assert.equal(
      messageToJsonText(Message.fromRoleAndContent(Role.System, sys)),
      '{"role":"system","content":[{"type":"system_content","model_identity":null,"reasoning_effort":"Low","tools":null,"conversation_start_date":null,"knowledge_cutoff":null,"channel_config":null}]}',
    );
  });

  test("tool namespaces are written in BTreeMap (name) order with null descriptions/parameters", () => {
    const dev = DeveloperContent.new()
      .withTools(new ToolNamespaceConfig("zeta", undefined, [new ToolDescription("f", "d")]))
      .withTools(new ToolNamespaceConfig("alpha", "A", []));
    assert.equal(
      messageToJsonText(Message.fromRoleAndContent(Role.Developer, dev)),
      '{"role":"developer","content":[{"type":"developer_content","instructions":null,"tools":{"alpha":{"name":"alpha","description":"A","tools":[]},"zeta":{"name":"zeta","description":null,"tools":[{"name":"f","description":"d","parameters":null}]}}}]}',
    );
  });

  test("schemas keep their key order and floats in text form", () => {
    const params = parseJsonPreservingOrder(
      '{"type":"object","properties":{"b":{"type":"number","default":10.0},"10":{},"0":{}}}',
    );
    const dev = DeveloperContent.new().withFunctionTools([new ToolDescription("f", "d", params)]);
    const text = conversationToJsonText(
      new Conversation([Message.fromRoleAndContent(Role.Developer, dev)]),
    );
    assert.ok(
      text.includes(
        '"parameters":{"type":"object","properties":{"b":{"type":"number","default":10.0},"10":{},"0":{}}}',
      ),
    );
  });
});

describe("messageFromJson reads serde's form", () => {
  test("round trip of every kind of content", () => {
    const sys = SystemContent.new().withConversationStartDate("2025-06-28").withBrowserTool()
      .withChannelConfig(new ChannelConfig(["final"], false));
    const dev = DeveloperContent.new().withInstructions("Be brief").withFunctionTools([
      new ToolDescription("get", "Gets.", {
        type: "object",
        properties: { a: { type: "string" } },
      }),
      new ToolDescription("noargs", "No args."),
    ]);
    const convo = new Conversation([
      Message.fromRoleAndContent(Role.System, sys),
      Message.fromRoleAndContent(Role.Developer, dev),
      Message.fromRoleAndContents(Role.User, ["x", "y"]),
      Message.fromRoleAndContent(Role.Assistant, "{}").withChannel("commentary")
        .withRecipient("functions.get").withContentType("<|constrain|>json"),
      Message.fromAuthorAndContent(Author.new(Role.Tool, "functions.get"), "ok"),
    ]);
    const json = JSON.parse(JSON.stringify(conversationToJson(convo)));
    const back = conversationFromJson(json);
    assert.deepEqual(conversationToJson(back), json);
    assert.ok(back.messages[0].content[0] instanceof SystemContent);
    assert.ok(back.messages[1].content[0] instanceof DeveloperContent);
    assert.equal(back.messages[3].contentType, "<|constrain|>json");
    assert.equal(back.messages[4].author.name, "functions.get");
  });

  test("missing and null optional fields read as unset; unknown fields are ignored", () => {
    const m = messageFromJson({
      role: "system",
      extra: 1,
      name: null,
      content: [{ type: "system_content", reasoning_effort: "High" }],
    });
    const s = m.content[0] as SystemContent;
    assert.equal(s.reasoningEffort, "High");
    assert.equal(s.modelIdentity, undefined);
    assert.equal(s.tools, undefined);
    assert.equal(m.author.name, undefined);
  });

  test("text-only messages (the fast path) read as zod-checked ones do", () => {
    const json = {
      role: "tool",
      name: "functions.f",
      recipient: null,
      channel: "commentary",
      content_type: "json",
      content: [{ type: "text", text: "a" }, { type: "text", text: "b", extra: 1 }],
    };
    const m = messageFromJson(json);
    assert.deepEqual(messageToJson(m), {
      role: "tool",
      name: "functions.f",
      content: [{ type: "text", text: "a" }, { type: "text", text: "b" }],
      channel: "commentary",
      content_type: "json",
    });
    const fromMap = messageFromJson(parseJsonPreservingOrder(JSON.stringify(json)));
    assert.deepEqual(messageToJson(fromMap), messageToJson(m));
  });

  test("a string content is one text content", () => {
    const m = messageFromJson({ role: "user", content: "hello" });
    assert.deepEqual(m.content, [new TextContent("hello")]);
  });

  test("Maps from parseJsonPreservingOrder are read, parameters kept as Maps", () => {
    const v = parseJsonPreservingOrder(
      '{"messages":[{"role":"developer","content":[{"type":"developer_content","instructions":null,"tools":{"functions":{"name":"functions","description":null,"tools":[{"name":"f","description":"d","parameters":{"type":"object","properties":{"2":{},"1":{}}}}]}}}]}]}',
    );
    const c = conversationFromJson(v);
    const dev = c.messages[0].content[0] as DeveloperContent;
    const params = dev.tools!.get("functions")!.tools[0].parameters as Map<string, unknown>;
    assert.ok(params instanceof Map);
    assert.deepEqual([...(params.get("properties") as Map<string, unknown>).keys()], ["2", "1"]);
  });

  const errorCases: Array<[string, unknown, RegExp]> = [
    ["role missing", { content: "x" }, /^Cannot read message: messages\[0\]\.role: /],
    ["unknown role", { role: "bot", content: "x" }, /messages\[0\]\.role: expected one of "user"/],
    [
      "content a number",
      { role: "user", content: 5 },
      /messages\[0\]\.content: expected a string or a list of contents/,
    ],
    [
      "channel a number",
      { role: "user", content: "x", channel: 5 },
      /messages\[0\]\.channel: expected string, got number/,
    ],
    [
      "name an object",
      { role: "user", name: {}, content: [{ type: "text", text: "x" }] },
      /messages\[0\]\.name: expected string, got object/,
    ],
    ["content null", { role: "user", content: null }, /messages\[0\]\.content: /],
    [
      "unknown content type",
      { role: "user", content: [{ type: "image" }] },
      /messages\[0\]\.content\[0\]/,
    ],
    [
      "text without text",
      { role: "user", content: [{ type: "text" }] },
      /messages\[0\]\.content\[0\]\.text: expected string, got nothing/,
    ],
    ["bad effort", {
      role: "system",
      content: [{ type: "system_content", reasoning_effort: "low" }],
    }, /content\[0\]\.reasoning_effort: expected one of "Low", "Medium", "High"/],
    ["channel config half", {
      role: "system",
      content: [{ type: "system_content", channel_config: { valid_channels: [] } }],
    }, /content\[0\]\.channel_config\.channel_required: expected boolean/],
    [
      "tool name a number",
      {
        role: "developer",
        content: [{
          type: "developer_content",
          tools: {
            functions: {
              name: "functions",
              tools: [{ name: "a", description: "" }, { name: 3, description: "" }],
            },
          },
        }],
      },
      /^Cannot read message: messages\[0\]\.content\[0\]\.tools\.functions\.tools\[1\]\.name: expected string/,
    ],
  ];
  for (const [name, value, re] of errorCases) {
    test(`an invalid message gives a TypeError with its JSON path: ${name}`, () => {
      assert.throws(() => conversationFromJson({ messages: [value] }), (e: unknown) => {
        assert.ok(e instanceof TypeError);
        assert.match((e as Error).message, re);
        return true;
      });
    });
  }

  test("a conversation without a messages list is a TypeError", () => {
    assert.throws(
      () => conversationFromJson({}),
      /Cannot read conversation: messages: expected array/,
    );
    assert.throws(() => conversationFromJson([]), TypeError);
  });

  test("the path names the message index", () => {
    assert.throws(
      () =>
        conversationFromJson({ messages: [{ role: "user", content: "ok" }, {}, {}, { role: 1 }] }),
      /messages\[1\]\./,
    );
    assert.throws(
      () => messageFromJson({ role: 1, content: "" }, "x[2]"),
      /Cannot read message: x\[2\]\.role/,
    );
  });
});

describe("parseJsonPreservingOrder", () => {
  test("objects keep written key order, integer-like keys included", () => {
    const v = parseJsonPreservingOrder('{"b":1,"10":2,"0":3,"a":{"2":null,"1":true}}') as Map<
      string,
      unknown
    >;
    assert.deepEqual([...v.keys()], ["b", "10", "0", "a"]);
    assert.deepEqual([...(v.get("a") as Map<string, unknown>).keys()], ["2", "1"]);
  });

  test("integer-valued floats become JsonFloat; others stay numbers", () => {
    const v = parseJsonPreservingOrder("[1, 1.0, 2e3, 0.5, -3, 1E-2]") as unknown[];
    assert.equal(v[0], 1);
    assert.ok(v[1] instanceof JsonFloat && v[1].value === 1);
    assert.ok(v[2] instanceof JsonFloat && v[2].value === 2000);
    assert.equal(v[3], 0.5);
    assert.equal(v[4], -3);
    assert.equal(v[5], 0.01);
  });

  test("strings with escapes decode as JSON.parse does", () => {
    const s = '"a\\n\\t\\"\\\\\\/\\u00e9\\ud83d\\ude00 z"';
    assert.equal(parseJsonPreservingOrder(s), JSON.parse(s));
  });

  test("a duplicate key keeps its first position and its last value", () => {
    const v = parseJsonPreservingOrder('{"a":1,"b":2,"a":3}') as Map<string, unknown>;
    assert.deepEqual([...v.entries()], [["a", 3], ["b", 2]]);
  });

  const bad = ["", "{", '{"a" 1}', "[1,]", "01", "1.", '"\\x"', "tru", "[1] 2", '"a\nb"', "1e999"];
  for (const text of bad) {
    test(`malformed JSON ${JSON.stringify(text)} is a SyntaxError naming the offset`, () => {
      assert.throws(() => parseJsonPreservingOrder(text), (e: unknown) => {
        assert.ok(e instanceof SyntaxError);
        assert.match((e as Error).message, /^Cannot parse JSON: .* at byte \d+/);
        return true;
      });
    });
  }
});

describe("stringifyJson prints as serde_json", () => {
  const cases: Array<[number, string]> = [
    [10, "10.0"],
    [0, "0.0"],
    [-0, "-0.0"],
    [0.5, "0.5"],
    [1e15, "1000000000000000.0"],
    [1e16, "1e16"],
    [1.5e16, "1.5e16"],
    [123456.789, "123456.789"],
    [0.0001, "0.0001"],
    [0.00001, "0.00001"],
    [0.000001, "1e-6"],
    [1.25e-7, "1.25e-7"],
    [1.5e300, "1.5e300"],
    [-2.5, "-2.5"],
  ];
  for (const [f, s] of cases) {
    test(`formatFloat(${f}) is ${s} (ryu)`, () => assert.equal(formatFloat(f), s));
  }

  test("integers print as integers, floats via ryu, Map order kept, strings escaped", () => {
    assert.equal(
      stringifyJson(
        new Map<string, never>([
          ["z", [1, -7, new JsonFloat(3), 0.25, 1e21, 2 ** 53] as never],
          ["a", 'q"\n\u0001é' as never],
          ["0", { x: null, y: true } as never],
        ]),
      ),
      '{"z":[1,-7,3.0,0.25,1e21,9007199254740992],"a":"q\\"\\n\\u0001é","0":{"x":null,"y":true}}',
    );
  });

  test("sortKeysAsBTreeMap orders by UTF-8 bytes", () => {
    assert.deepEqual(sortKeysAsBTreeMap(["b", "a", "B", "é", "z", "\uffff", "😀"]), [
      "B",
      "a",
      "b",
      "z",
      "é",
      "\uffff",
      "😀",
    ]);
  });
});
