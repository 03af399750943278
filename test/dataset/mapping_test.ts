import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_MODEL_IDENTITY,
  detectRecordFormat,
  RecordFormatError,
  recordToHarmonyJson,
} from "../../src/dataset/mapping.ts";
import { parseRecordText } from "../../src/dataset/record_json.ts";
import { conversationFromJson } from "../../src/chat/json.ts";

const SYSTEM = {
  role: "system",
  content: [{
    type: "system_content",
    model_identity: DEFAULT_MODEL_IDENTITY,
    reasoning_effort: "Medium",
    knowledge_cutoff: "2024-06",
    channel_config: { valid_channels: ["analysis", "commentary", "final"], channel_required: true },
  }],
};

describe("detectRecordFormat()", () => {
  const cases: Array<[string, unknown, string]> = [
    ["conversations → sharegpt", { conversations: [] }, "sharegpt"],
    ["plain role/content → openai", { messages: [{ role: "user", content: "x" }] }, "openai"],
    [
      "channel → harmony",
      { messages: [{ role: "assistant", channel: "final", content: "x" }] },
      "harmony",
    ],
    ["recipient → harmony", {
      messages: [{ role: "assistant", recipient: "functions.f", content: "{}" }],
    }, "harmony"],
    ["tool_calls → openai", { messages: [{ role: "assistant", tool_calls: [] }] }, "openai"],
    ["top-level tools → openai", { messages: [], tools: [] }, "openai"],
    [
      "system_content part → harmony",
      { messages: [{ role: "system", content: [{ type: "system_content" }] }] },
      "harmony",
    ],
  ];
  for (const [name, rec, want] of cases) {
    test(name, () => assert.equal(detectRecordFormat(rec), want));
  }

  test("throws RecordFormatError without messages or conversations", () => {
    assert.throws(() => detectRecordFormat({ text: "x" }), {
      name: "RecordFormatError",
      message: /^Cannot map record at \$: expected "messages"/,
    });
  });
});

describe("OpenAI chat mapping", () => {
  test("system → developer instructions, assistant → final, default system message first", () => {
    const h = recordToHarmonyJson({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: [{ type: "text", text: "Hi" }] },
        { role: "assistant", content: "Hello" },
      ],
    });
    assert.deepEqual(h.messages, [
      SYSTEM,
      { role: "developer", content: [{ type: "developer_content", instructions: "Be brief." }] },
      { role: "user", content: "Hi" },
      { role: "assistant", channel: "final", content: "Hello" },
    ]);
  });

  test("tools, reasoning, tool_calls and tool results map to harmony function calling", () => {
    const params = { type: "object", properties: { city: { type: "string" } } };
    const h = recordToHarmonyJson({
      tools: [{
        type: "function",
        function: { name: "get_weather", description: "Weather", parameters: params },
      }],
      messages: [
        { role: "user", content: "Tokyo?" },
        {
          role: "assistant",
          content: "Let me check.",
          reasoning_content: "Use the tool.",
          tool_calls: [
            {
              id: "a",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Tokyo"}' },
            },
            { id: "b", type: "function", function: { name: "get_time", arguments: { tz: "JST" } } },
          ],
        },
        { role: "tool", tool_call_id: "b", content: "noon" },
        { role: "tool", tool_call_id: "a", content: [{ type: "text", text: "20C" }] },
        { role: "assistant", content: "20C at noon." },
      ],
    });
    assert.deepEqual(h.messages.slice(1), [
      {
        role: "developer",
        content: [{
          type: "developer_content",
          tools: {
            functions: {
              name: "functions",
              description: null,
              tools: [{ name: "get_weather", description: "Weather", parameters: params }],
            },
          },
        }],
      },
      { role: "user", content: "Tokyo?" },
      { role: "assistant", channel: "analysis", content: "Use the tool." },
      { role: "assistant", channel: "commentary", content: "Let me check." },
      {
        role: "assistant",
        channel: "commentary",
        recipient: "functions.get_weather",
        content_type: "<|constrain|>json",
        content: '{"city":"Tokyo"}',
      },
      {
        role: "assistant",
        channel: "commentary",
        recipient: "functions.get_time",
        content_type: "<|constrain|>json",
        content: '{"tz":"JST"}',
      },
      {
        role: "tool",
        name: "functions.get_time",
        recipient: "assistant",
        channel: "commentary",
        content: "noon",
      },
      {
        role: "tool",
        name: "functions.get_weather",
        recipient: "assistant",
        channel: "commentary",
        content: "20C",
      },
      { role: "assistant", channel: "final", content: "20C at noon." },
    ]);
    // The chat layer accepts the result.
    assert.equal(conversationFromJson(h).messages.length, 10);
  });

  test("a bare array record is read as its messages; JSON text in messages is parsed", () => {
    const h = recordToHarmonyJson([{ role: "user", content: "Hi" }]);
    assert.deepEqual(h.messages.slice(1), [{ role: "user", content: "Hi" }]);
    const j = recordToHarmonyJson({ messages: '[{"role": "user", "content": "Hi"}]' });
    assert.deepEqual(j.messages.slice(1), [{ role: "user", content: "Hi" }]);
  });

  test("flat glaive-style tools and calls, tool name from `name`", () => {
    const h = recordToHarmonyJson({
      tools: [{ name: "f", description: "d", parameters: { type: "object", properties: {} } }],
      messages: [
        { role: "user", content: "x" },
        { role: "assistant", content: null, tool_calls: [{ name: "f", arguments: "{}" }] },
        { role: "tool", name: "f", content: "ok" },
      ],
    });
    assert.equal(h.messages[3].recipient, "functions.f");
    assert.equal(h.messages[4].name, "functions.f");
  });

  test("a tool message without id or name takes the only declared tool", () => {
    const h = recordToHarmonyJson({
      tools: [{ name: "only", description: "", parameters: { type: "object" } }],
      messages: [{ role: "user", content: "x" }, { role: "tool", name: null, content: "1" }],
    });
    assert.equal(h.messages[3].name, "functions.only");
  });

  test("reasoning_effort on the record and flag defaults shape the system message", () => {
    const h = recordToHarmonyJson(
      { reasoning_effort: "high", messages: [{ role: "user", content: "x" }] },
      "auto",
      { knowledgeCutoff: "2025-01", conversationStartDate: "2025-06-01", instructions: "Be kind." },
    );
    const sys = (h.messages[0].content as Array<Record<string, unknown>>)[0];
    assert.equal(sys.reasoning_effort, "High");
    assert.equal(sys.knowledge_cutoff, "2025-01");
    assert.equal(sys.conversation_start_date, "2025-06-01");
    assert.deepEqual(h.messages[1], {
      role: "developer",
      content: [{ type: "developer_content", instructions: "Be kind." }],
    });
  });

  const errors: Array<[string, unknown, RegExp]> = [
    [
      "unknown role",
      { messages: [{ role: "wizard", content: "x" }] },
      /^Cannot map record at \$\.messages\[0\]\.role: unknown role "wizard"$/,
    ],
    [
      "unknown tool_call_id",
      { messages: [{ role: "tool", tool_call_id: "zz", content: "x" }] },
      /^Cannot map record at \$\.messages\[0\]\.tool_call_id: no earlier tool call has id "zz"/,
    ],
    [
      "image part",
      { messages: [{ role: "user", content: [{ type: "image_url", image_url: {} }] }] },
      /^Cannot map record at \$\.messages\[0\]\.content\[0\]: unsupported content part type "image_url"$/,
    ],
    [
      "tool call without a name",
      { messages: [{ role: "assistant", tool_calls: [{ function: { arguments: "{}" } }] }] },
      /^Cannot map record at \$\.messages\[0\]\.tool_calls\[0\]\.function\.name/,
    ],
  ];
  for (const [name, rec, re] of errors) {
    test(`throws RecordFormatError with a JSON path: ${name}`, () => {
      assert.throws(() => recordToHarmonyJson(rec), (e: unknown) => {
        assert.ok(e instanceof RecordFormatError);
        assert.match(e.message, re);
        return true;
      });
    });
  }
});

describe("ShareGPT mapping", () => {
  test("system/human/gpt/function_call/observation", () => {
    const h = recordToHarmonyJson({
      tools: '[{"name": "search", "description": "Search", "parameters": {"type": "object"}}]',
      conversations: [
        { from: "system", value: "Pirate." },
        { from: "human", value: "Find x" },
        { from: "function_call", value: '{"name": "search", "arguments": {"q": "x"}}' },
        { from: "observation", value: "x found" },
        { from: "gpt", value: "Arr, x." },
      ],
    });
    assert.deepEqual(h.messages.slice(1), [
      {
        role: "developer",
        content: [{
          type: "developer_content",
          instructions: "Pirate.",
          tools: {
            functions: {
              name: "functions",
              description: null,
              tools: [{ name: "search", description: "Search", parameters: { type: "object" } }],
            },
          },
        }],
      },
      { role: "user", content: "Find x" },
      {
        role: "assistant",
        channel: "commentary",
        recipient: "functions.search",
        content_type: "<|constrain|>json",
        content: '{"q":"x"}',
      },
      {
        role: "tool",
        name: "functions.search",
        recipient: "assistant",
        channel: "commentary",
        content: "x found",
      },
      { role: "assistant", channel: "final", content: "Arr, x." },
    ]);
  });

  test("throws on an unknown speaker, naming the turn", () => {
    assert.throws(
      () => recordToHarmonyJson({ conversations: [{ from: "narrator", value: "x" }] }),
      {
        message: /^Cannot map record at \$\.conversations\[0\]\.from: unknown speaker "narrator"$/,
      },
    );
  });
});

describe("harmony JSON records", () => {
  test("are kept, with a default system message added when missing", () => {
    const msgs = [{ role: "user", content: "x" }, {
      role: "assistant",
      channel: "final",
      content: "y",
    }];
    assert.deepEqual(recordToHarmonyJson({ messages: msgs }, "harmony").messages, [
      SYSTEM,
      ...msgs,
    ]);
    assert.deepEqual(
      recordToHarmonyJson({ messages: msgs }, "harmony", { addSystem: false }).messages,
      msgs,
    );
  });

  test("--instructions goes after the record's own system message", () => {
    const msgs = [{ role: "system", content: [{ type: "system_content" }] }, {
      role: "user",
      content: "x",
    }];
    const h = recordToHarmonyJson({ messages: msgs }, "harmony", { instructions: "I" });
    assert.deepEqual(h.messages.map((m) => m.role), ["system", "developer", "user"]);
  });
});

describe("parseRecordText()", () => {
  test("keeps the written order of integer-like keys inside tool parameters", () => {
    const rec = parseRecordText(
      '{"tools": [{"name": "f", "parameters": {"type": "object", "properties": {"b": {}, "10": {}, "2": {}}}}], "messages": []}',
    ) as { tools: Array<{ parameters: Map<string, unknown> }> };
    const props = rec.tools[0].parameters.get("properties") as Map<string, unknown>;
    assert.deepEqual([...props.keys()], ["b", "10", "2"]);
  });

  test("throws SyntaxError on malformed JSON", () => {
    assert.throws(() => parseRecordText('{"a": '), {
      name: "SyntaxError",
      message: /^Cannot parse record: /,
    });
  });
});
