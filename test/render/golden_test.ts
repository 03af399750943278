// The reference's rendering tests (openai/harmony v0.0.8: src/tests.rs, tests/test_harmony.py),
// re-expressed against the golden files of its test-data/ folder.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Author, Role } from "../../src/chat/role.ts";
import { Conversation, Message } from "../../src/chat/message.ts";
import {
  DeveloperContent,
  ReasoningEffort,
  SystemContent,
  ToolDescription,
} from "../../src/chat/content.ts";
import { loadHarmonyEncoding } from "../../src/encoding/mod.ts";
import { golden, goldenTokens } from "./_fixtures.ts";

const enc = await loadHarmonyEncoding("HarmonyGptOss");
const IDENTITY = "You are ChatGPT, a large language model trained by OpenAI.";

function expectTokens(actual: Uint32Array, goldenName: string): void {
  const text = golden(goldenName);
  assert.equal(enc.decodeUtf8(actual), text);
  assert.deepEqual([...actual], [...enc.encode(text, { allowedSpecial: "all" })]);
}

function expectText(actual: Uint32Array, goldenName: string): void {
  assert.equal(enc.decodeUtf8(actual), golden(goldenName));
}

describe("reference rendering tests (golden files)", () => {
  test("test_simple_convo: system identity + user, completion for assistant", () => {
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(Role.System, SystemContent.new().withModelIdentity(IDENTITY)),
      Message.fromRoleAndContent(Role.User, "What is 2 + 2?"),
    ]);
    expectTokens(
      enc.renderConversationForCompletion(convo, Role.Assistant),
      "test_simple_convo.txt",
    );
  });

  const effortCases: Array<[ReasoningEffort, string, boolean]> = [
    [ReasoningEffort.Low, "test_simple_convo_low_effort.txt", true],
    [ReasoningEffort.Medium, "test_simple_convo_medium_effort.txt", true],
    [ReasoningEffort.High, "test_simple_convo_high_effort.txt", true],
    [ReasoningEffort.Low, "test_simple_convo_low_effort_no_instruction.txt", false],
    [ReasoningEffort.Medium, "test_simple_convo_medium_effort_no_instruction.txt", false],
    [ReasoningEffort.High, "test_simple_convo_high_effort_no_instruction.txt", false],
  ];
  for (const [effort, file, withInstruction] of effortCases) {
    test(`test_simple_convo_with_effort: ${file}`, () => {
      const sys = SystemContent.new().withModelIdentity(IDENTITY).withReasoningEffort(effort);
      const q = "What is the capital of the largest country in the world?";
      const messages = [Message.fromRoleAndContent(Role.System, sys)];
      if (withInstruction) {
        messages.push(
          Message.fromRoleAndContent(
            Role.Developer,
            DeveloperContent.new().withInstructions("Answer the user's questions like a robot."),
          ),
        );
      }
      messages.push(Message.fromRoleAndContent(Role.User, q));
      expectTokens(
        enc.renderConversationForCompletion(Conversation.fromMessages(messages), Role.Assistant),
        file,
      );
    });
  }

  test("test_reasoning_system_message: required channels analysis, final", () => {
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(
        Role.System,
        SystemContent.new().withModelIdentity(IDENTITY).withReasoningEffort(ReasoningEffort.Medium)
          .withRequiredChannels(["analysis", "final"]),
      ),
      Message.fromRoleAndContent(Role.User, "What is 2 + 2?"),
    ]);
    expectTokens(
      enc.renderConversationForCompletion(convo, Role.Assistant),
      "test_reasoning_system_message.txt",
    );
  });

  test("test_reasoning_system_message_no_instruction: high effort", () => {
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(
        Role.System,
        SystemContent.new().withModelIdentity(IDENTITY).withReasoningEffort(ReasoningEffort.High)
          .withRequiredChannels(["analysis", "final"]),
      ),
      Message.fromRoleAndContent(Role.User, "What is the best place to eat candy in the world?"),
    ]);
    expectTokens(
      enc.renderConversationForCompletion(convo, Role.Assistant),
      "test_reasoning_system_message_no_instruction.txt",
    );
  });

  test("test_reasoning_system_message_with_dates: start date and knowledge cutoff", () => {
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(
        Role.System,
        SystemContent.new().withModelIdentity(IDENTITY).withReasoningEffort(ReasoningEffort.Medium)
          .withConversationStartDate("2021-01-01").withKnowledgeCutoff("2021-01")
          .withRequiredChannels(["analysis", "final"]),
      ),
      Message.fromRoleAndContent(Role.User, "What is 42 * pi?"),
    ]);
    expectTokens(
      enc.renderConversationForCompletion(convo, Role.Assistant),
      "test_reasoning_system_message_with_dates.txt",
    );
  });

  test("test_render_functions_with_parameters: enums, defaults, titles, examples, oneOf, nullable", () => {
    const sys = SystemContent.new().withReasoningEffort(ReasoningEffort.High)
      .withConversationStartDate("2025-06-28");
    const dev = DeveloperContent.new().withInstructions("Always respond in riddles")
      .withFunctionTools([
        ToolDescription.new("get_location", "Gets the location of the user."),
        ToolDescription.new(
          "get_current_weather",
          "Gets the current weather in the provided location.",
          {
            type: "object",
            properties: {
              location: {
                type: "string",
                description: "The city and state, e.g. San Francisco, CA",
              },
              format: { type: "string", enum: ["celsius", "fahrenheit"], default: "celsius" },
            },
            required: ["location"],
          },
        ),
        ToolDescription.new(
          "get_multiple_weathers",
          "Gets the current weather in the provided list of locations.",
          {
            type: "object",
            properties: {
              locations: {
                type: "array",
                items: { type: "string" },
                description: 'List of city and state, e.g. ["San Francisco, CA", "New York, NY"]',
              },
              format: { type: "string", enum: ["celsius", "fahrenheit"], default: "celsius" },
            },
            required: ["locations"],
          },
        ),
        ToolDescription.new("kitchensink", "A function with various complex schemas.", {
          description: "params object",
          type: "object",
          properties: {
            string: {
              type: "string",
              title: "STRING",
              description: "A string",
              examples: ["hello", "world"],
            },
            string_nullable: {
              type: "string",
              nullable: true,
              description: "A nullable string",
              default: "the default",
            },
            string_enum: { type: "string", enum: ["a", "b", "c"] },
            oneof_string_or_number: {
              oneOf: [
                { type: "string", default: "default_string_in_oneof" },
                { type: "number", description: "numbers can happen too" },
              ],
              description: "a oneof",
              default: 20,
            },
          },
        }),
      ]);
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(Role.System, sys),
      Message.fromRoleAndContent(Role.Developer, dev),
      Message.fromRoleAndContent(Role.User, "What is the weather like in SF?"),
    ]);
    expectText(
      enc.renderConversationForCompletion(convo, Role.Assistant),
      "test_render_functions_with_parameters.txt",
    );
  });

  test("test_no_tools: default system content with a date", () => {
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(
        Role.System,
        SystemContent.new().withConversationStartDate("2025-06-28"),
      ),
    ]);
    expectText(enc.renderConversationForCompletion(convo, Role.Assistant), "test_no_tools.txt");
  });

  test("test_browser_tool_only: the built-in browser namespace", () => {
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(
        Role.System,
        SystemContent.new().withConversationStartDate("2025-06-28").withBrowserTool(),
      ),
    ]);
    expectText(
      enc.renderConversationForCompletion(convo, Role.Assistant),
      "test_browser_tool_only.txt",
    );
  });

  test("test_browser_and_function_tool: functions line in the channels header", () => {
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(
        Role.System,
        SystemContent.new().withConversationStartDate("2025-06-28").withBrowserTool(),
      ),
      Message.fromRoleAndContent(
        Role.Developer,
        DeveloperContent.new().withFunctionTools([
          ToolDescription.new(
            "lookup_weather",
            "Use this tool to lookup the weather in a given location. Call it with the parameter 'location', can be any textual description of a location.",
            {
              type: "object",
              properties: { location: { type: "string" } },
              required: ["location"],
            },
          ),
        ]),
      ),
    ]);
    expectText(
      enc.renderConversationForCompletion(convo, Role.Assistant),
      "test_browser_and_function_tool.txt",
    );
  });

  test("test_browser_and_python_tool: namespaces in name order, python without tools", () => {
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(
        Role.System,
        SystemContent.new().withConversationStartDate("2025-06-28").withPythonTool()
          .withBrowserTool(),
      ),
    ]);
    expectText(
      enc.renderConversationForCompletion(convo, Role.Assistant),
      "test_browser_and_python_tool.txt",
    );
  });

  test("test_dropping_cot_by_default: analysis before the final answer is dropped", () => {
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(Role.User, "What is 2 + 2?"),
      Message.fromRoleAndContent(
        Role.Assistant,
        "User asks: “What is 2 + 2?” Simple arithmetic. Provide answer.",
      ).withChannel("analysis"),
      Message.fromRoleAndContent(Role.Assistant, "2 + 2 equals 4.").withChannel("final"),
      Message.fromRoleAndContent(Role.User, "What about 9 / 2?"),
    ]);
    expectTokens(
      enc.renderConversationForCompletion(convo, Role.Assistant, { autoDropAnalysis: true }),
      "test_dropping_cot_by_default.txt",
    );
    // The default config drops too.
    expectTokens(
      enc.renderConversationForCompletion(convo, Role.Assistant),
      "test_dropping_cot_by_default.txt",
    );
  });

  test("test_does_not_drop_if_ongoing_analysis: <|constrain|> is the special token", () => {
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(Role.User, "What is the weather in SF?"),
      Message.fromRoleAndContent(
        Role.Assistant,
        "User asks: “What is the weather in SF?” We need to use lookup_weather tool.",
      ).withChannel("analysis"),
      Message.fromRoleAndContent(Role.Assistant, '{"location": "San Francisco"}')
        .withChannel("commentary").withRecipient("functions.lookup_weather")
        .withContentType("<|constrain|>json"),
      Message.fromAuthorAndContent(
        Author.new(Role.Tool, "functions.lookup_weather"),
        '{"temperature": 20, "description": "sunny"}',
      ),
    ]);
    const tokens = enc.renderConversationForCompletion(convo, Role.Assistant, {
      autoDropAnalysis: true,
    });
    expectTokens(tokens, "test_does_not_drop_if_ongoing_analysis.txt");
    assert.ok(tokens.includes(200003));
    assert.ok(tokens.includes(200012));
  });

  test("test_preserve_cot: autoDropAnalysis false keeps the analysis", () => {
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(Role.User, "What is 2 + 2?"),
      Message.fromRoleAndContent(
        Role.Assistant,
        'User asks a simple question: "What is 2 + 2?" The answer: 4.',
      ).withChannel("analysis"),
      Message.fromRoleAndContent(Role.Assistant, "2 + 2 equals 4.").withChannel("final"),
      Message.fromRoleAndContent(Role.User, "What about 9 / 2?"),
    ]);
    expectTokens(
      enc.renderConversationForCompletion(convo, Role.Assistant, { autoDropAnalysis: false }),
      "test_preserve_cot.txt",
    );
  });

  test("test_keep_analysis_between_final_messages: only analysis before the first final goes", () => {
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(Role.User, "What is 2 + 2?"),
      Message.fromRoleAndContent(Role.Assistant, "thinking 2+2").withChannel("analysis"),
      Message.fromRoleAndContent(Role.Assistant, "4").withChannel("final"),
      Message.fromRoleAndContent(Role.User, "What is 3 + 5?"),
      Message.fromRoleAndContent(Role.Assistant, "thinking 3+5").withChannel("analysis"),
      Message.fromRoleAndContent(Role.Assistant, "8").withChannel("final"),
    ]);
    expectTokens(enc.renderConversation(convo), "test_keep_analysis_between_finals.txt");
  });

  test("test_tool_call_with_constrain_tokenized_correctly: render equals the encoded text", () => {
    const text = "<|start|>assistant to=functions.get_weather<|channel|>commentary" +
      ' <|constrain|>json<|message|>{"location": "Tokyo"}<|call|>';
    const msg = Message.fromRoleAndContent(Role.Assistant, '{"location": "Tokyo"}')
      .withChannel("commentary").withRecipient("functions.get_weather")
      .withContentType("<|constrain|>json");
    const tokens = enc.encode(text, { allowedSpecial: "all" });
    assert.deepEqual([...enc.renderConversation(Conversation.fromMessages([msg]))], [...tokens]);
    assert.equal(enc.decodeUtf8(tokens), text);
  });
});

describe("reference rendering tests (no golden file)", () => {
  test("test_render_and_render_conversation_roundtrip", () => {
    const msg = Message.fromRoleAndContent(Role.User, "Hello");
    const convo = Conversation.fromMessages([msg]);
    const a = enc.render(msg);
    const b = enc.renderConversation(convo);
    assert.deepEqual([...a], [...b]);
    const c = enc.renderConversationForCompletion(convo, Role.Assistant);
    assert.deepEqual([...c.subarray(0, b.length)], [...b]);
    assert.deepEqual([...c.subarray(b.length)], [200006, 173781]);
  });

  test("test_render_conversation_for_training_final_channel: last <|end|> becomes <|return|>", () => {
    const convo = Conversation.fromMessages([
      Message.fromRoleAndContent(Role.User, "hi"),
      Message.fromRoleAndContent(Role.Assistant, "hello").withChannel("final"),
    ]);
    const training = enc.renderConversationForTraining(convo);
    const regular = enc.renderConversation(convo);
    assert.deepEqual([...training.subarray(0, -1)], [...regular.subarray(0, -1)]);
    assert.equal(
      regular[regular.length - 1],
      enc.encode("<|end|>", { allowedSpecial: ["<|end|>"] })[0],
    );
    assert.equal(
      training[training.length - 1],
      enc.encode("<|return|>", { allowedSpecial: ["<|return|>"] })[0],
    );
  });

  test("test_render_conversation_for_training_non_final: same as renderConversation", () => {
    const convo = Conversation.fromMessages([Message.fromRoleAndContent(Role.User, "hi")]);
    assert.deepEqual([...enc.renderConversationForTraining(convo)], [
      ...enc.renderConversation(convo),
    ]);
  });

  test("test_reserved_token_decoding and decode errors", () => {
    assert.equal(enc.decodeUtf8([200014]), "<|reserved_200014|>");
    assert.equal(enc.decodeUtf8([201088]), "<|reserved_201088|>");
    assert.throws(() => enc.decodeUtf8([99999999]), RangeError);
    assert.throws(() => enc.decodeUtf8([132990, 9552]), SyntaxError);
  });

  test("test_encode_allowed_special and test_is_special_token (pass-throughs)", () => {
    assert.deepEqual([...enc.encode("hello world")], [24912, 2375]);
    assert.deepEqual([...enc.encode("<|start|>", { allowedSpecial: ["<|start|>"] })], [200006]);
    assert.deepEqual([...enc.encode("<|start|>", { allowedSpecial: "all" })], [200006]);
    assert.notDeepEqual([...enc.encodeOrdinary("<|start|>")], [200006]);
    assert.equal(enc.isSpecialToken(200006), true);
    assert.equal(enc.isSpecialToken(24912), false);
    assert.equal(enc.specialTokensSet.size, 1091);
    assert.ok(enc.specialTokensSet.has("<|constrain|>"));
    assert.equal(enc.specialTokens().length, 1091);
    assert.equal(enc.decodeUtf8(enc.encode("hello world")), "hello world");
  });

  test("loadHarmonyEncoding rejects an unknown name and returns one shared instance", async () => {
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      loadHarmonyEncoding("HarmonyGpt5" as any),
      /^RangeError: Cannot load harmony encoding: unknown name "HarmonyGpt5"/,
    );
    assert.equal(await loadHarmonyEncoding("HarmonyGptOss"), enc);
  });

  test("stop tokens are <|return|> <|end|> <|call|>; for actions <|return|> <|call|>", () => {
    assert.deepEqual([...enc.stopTokens()], [200002, 200007, 200012]);
    assert.deepEqual([...enc.stopTokensForAssistantActions()], [200002, 200012]);
    assert.equal(enc.name, "HarmonyGptOss");
    assert.equal(enc.tokenizerName, "o200k_harmony");
    assert.equal(enc.maxMessageTokens, 524288);
  });
});

describe("parse goldens: the rendering of the messages they hold", () => {
  test("test_simple_reasoning_response: analysis and final assistant messages", () => {
    const t = goldenTokens("test_simple_reasoning_response.txt");
    const ret = t.indexOf(200002);
    const analysis = Message.fromRoleAndContent(
      Role.Assistant,
      'User asks: "What is 2 + 2?" Simple arithmetic. Provide answer.',
    ).withChannel("analysis");
    assert.deepEqual([...enc.render(analysis)], [200006, 173781, ...t.slice(0, ret), 200007]);
    const final = Message.fromRoleAndContent(Role.Assistant, "2 + 2 = 4.").withChannel("final");
    assert.deepEqual([...enc.render(final)], [...t.slice(ret + 1), 200007]);
  });

  test("test_simple_tool_call: recipient, channel and a plain content type", () => {
    const t = goldenTokens("test_simple_tool_call.txt");
    const ret = t.indexOf(200002);
    const analysis = Message.fromRoleAndContent(
      Role.Assistant,
      'User asks: "What is the weather in Tokyo?" We need to use lookup_weather tool.',
    ).withChannel("analysis");
    assert.deepEqual([...enc.render(analysis)], [200006, 173781, ...t.slice(0, ret), 200007]);
    const call = Message.fromRoleAndContent(Role.Assistant, '{"location": "Tokyo"}')
      .withChannel("analysis").withRecipient("lookup_weather").withContentType("code");
    assert.deepEqual([...enc.render(call)], [...t.slice(ret + 1), 200012]);
  });

  test("test_streamable_parser: the analysis and tool-response messages", () => {
    const text = golden("test_streamable_parser.txt");
    const tokens = [...enc.encode(text, { allowedSpecial: "all" })];
    const firstEnd = tokens.indexOf(200007);
    const analysisText = enc.decodeUtf8(tokens.slice(3, firstEnd));
    const analysis = Message.fromRoleAndContent(Role.Assistant, analysisText).withChannel(
      "analysis",
    );
    assert.deepEqual([...enc.render(analysis)], [200006, 173781, ...tokens.slice(0, firstEnd + 1)]);
    const lastStart = tokens.lastIndexOf(200006);
    const tool = Message.fromAuthorAndContent(
      Author.new(Role.Tool, "browser.search"),
      '{"result": "https://openai.com/"}',
    ).withChannel("commentary").withRecipient("assistant");
    assert.deepEqual([...enc.render(tool)], tokens.slice(lastStart));
  });

  test("test_tool_response_parsing: a tool message addressed to the assistant", () => {
    const text = golden("test_tool_response_parsing.txt");
    const tool = Message.fromAuthorAndContent(
      Author.new(Role.Tool, "browser.search"),
      '{"result": "https://openai.com/"}',
    ).withChannel("commentary").withRecipient("assistant");
    const r = enc.render(tool);
    assert.deepEqual([...r.subarray(0, -1)], [...enc.encode(text, { allowedSpecial: "all" })]);
    assert.equal(r[r.length - 1], 200007);
  });
});
