// A runnable tour of the library: `bun examples/quickstart.ts` or `deno run -A examples/quickstart.ts`.
import {
  Conversation,
  DeveloperContent,
  loadHarmonyEncoding,
  Message,
  ReasoningEffort,
  Role,
  SystemContent,
  ToolDescription,
} from "../src/mod.ts";

const encoding = await loadHarmonyEncoding("HarmonyGptOss");

// 1. Build a conversation with the reference's builders.
const convo = Conversation.fromMessages([
  Message.fromRoleAndContent(
    Role.System,
    SystemContent.new().withReasoningEffort(ReasoningEffort.Low)
      .withConversationStartDate("2026-11-25"),
  ),
  Message.fromRoleAndContent(
    Role.Developer,
    DeveloperContent.new().withInstructions("Answer briefly.").withFunctionTools([
      ToolDescription.new("get_weather", "Gets the current weather.", {
        type: "object",
        properties: { location: { type: "string", description: "City name" } },
        required: ["location"],
      }),
    ]),
  ),
  Message.fromRoleAndContent(Role.User, "What is the weather in Tokyo?"),
]);

// 2. Render the prompt for the assistant's next turn.
const prompt = encoding.renderConversationForCompletion(convo, Role.Assistant);
console.log(`prompt: ${prompt.length} tokens`);

// 3. Parse what the model sampled (here: a tool call, written as text for the example).
const sampled = encoding.encode(
  '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location":"Tokyo"}<|call|>',
  { allowedSpecial: "all" },
);
const [call] = encoding.parseMessagesFromCompletionTokens(sampled, Role.Assistant);
console.log(`tool call to ${call.recipient} on ${call.channel}: ${JSON.stringify(call.content)}`);

// 4. Stream the same tokens through the streaming parser.
const parser = encoding.streamableParser(Role.Assistant);
let streamed = "";
for (const token of sampled) {
  parser.process(token);
  streamed += parser.lastContentDelta ?? "";
}
console.log(`streamed content: ${streamed}`);

// 5. Tokenizer on its own.
const ids = encoding.tokenizer.encodeOrdinary("hello world");
console.log(`hello world → [${ids.join(", ")}] → ${encoding.tokenizer.decode(ids)}`);
