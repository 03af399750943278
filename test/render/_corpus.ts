// Builders of test conversations from the shared corpus (or its excerpts in
// test/fixtures/render-corpus), in the reference's JSON form.
import { fixture, jsonlLines, SHARED_CORPUS } from "./_fixtures.ts";

/** A corpus file's path: the shared corpus, or the excerpt of the same name. */
export function corpusPath(name: string): string {
  return SHARED_CORPUS !== undefined ? `${SHARED_CORPUS}${name}` : fixture(`render-corpus/${name}`);
}

export const TOOL_FILES = [
  "tools.jsonl",
  "tools_multi_turn.jsonl",
  "tools_bfcl_archived.jsonl",
  "tools_bfcl_raw_types.jsonl",
  "tools_extra.jsonl",
  "tools_openapi_derived.jsonl",
].filter((f) =>
  SHARED_CORPUS !== undefined || f !== "tools_multi_turn.jsonl" && f !== "tools_bfcl_archived.jsonl"
);

export const CONVERSATION_FILES = [
  "conversations/gsm8k_test_train.jsonl",
  "conversations/hh_rlhf_harmless_base_test.jsonl",
  "conversations/mtbench_with_reference.jsonl",
  "conversations/multilingual.jsonl",
  "conversations/tool_calling_glaive.jsonl",
];

// deno-lint-ignore no-explicit-any
type Row = any;

/** A conversation JSON (system, developer with the row's tools, user) from a tools row. */
export function toolsRowConversation(row: Row, toolsJson: unknown = toolsOf(row)): unknown {
  return {
    messages: [
      {
        role: "system",
        content: [{
          type: "system_content",
          model_identity: "You are ChatGPT, a large language model trained by OpenAI.",
          reasoning_effort: "Medium",
          tools: null,
          conversation_start_date: "2025-06-28",
          knowledge_cutoff: "2024-06",
          channel_config: {
            valid_channels: ["analysis", "commentary", "final"],
            channel_required: true,
          },
        }],
      },
      {
        role: "developer",
        content: [{
          type: "developer_content",
          instructions: typeof row.system === "string" ? row.system : null,
          tools: { functions: { name: "functions", description: null, tools: toolsJson } },
        }],
      },
      { role: "user", content: typeof row.question === "string" ? row.question : "Hi" },
    ],
  };
}

function toolsOf(row: Row): unknown[] {
  return (row.tools ?? []).map((t: Row) => ({
    name: String(t.name),
    description: typeof t.description === "string" ? t.description : "",
    parameters: t.parameters ?? null,
  }));
}

/**
 * A conversation JSON from a corpus conversation: tool calls become assistant commentary
 * messages to `functions.NAME` with `<|constrain|>json`, tool results tool messages, and some
 * assistant turns get an analysis message and a final channel (deterministically).
 */
export function corpusConversation(row: Row): { messages: unknown[] } {
  const msgs: unknown[] = [];
  if (Array.isArray(row.tools)) {
    msgs.push({
      role: "developer",
      content: [{
        type: "developer_content",
        instructions: "Be brief.",
        tools: { functions: { name: "functions", description: null, tools: toolsOf(row) } },
      }],
    });
  }
  let k = 0;
  for (const m of row.messages) {
    k++;
    if (m.role === "assistant" && Array.isArray(m.tool_calls)) {
      for (const tc of m.tool_calls) {
        msgs.push({
          role: "assistant",
          channel: "commentary",
          recipient: `functions.${tc.name}`,
          content_type: "<|constrain|>json",
          content: String(tc.arguments),
        });
      }
    } else if (m.role === "tool") {
      msgs.push({
        role: "tool",
        name: `functions.${m.name}`,
        recipient: "assistant",
        channel: "commentary",
        content: m.content ?? "",
      });
    } else if (m.role === "assistant") {
      if (k % 3 === 0) {
        msgs.push({
          role: "assistant",
          channel: "analysis",
          content: `Thinking: ${(m.content ?? "").slice(0, 40)}`,
        });
      }
      const msg: Row = { role: "assistant", content: m.content ?? "" };
      if (k % 2 === 1) msg.channel = "final";
      msgs.push(msg);
    } else msgs.push({ role: m.role, content: m.content ?? "" });
  }
  return { messages: msgs };
}

/** Parsed rows of a corpus file, every `step`-th, at most `limit`. */
export function corpusRows(name: string, step = 1, limit = Infinity): Row[] {
  const lines = jsonlLines(corpusPath(name));
  const out: Row[] = [];
  for (let i = 0; i < lines.length && out.length < limit; i += step) out.push(JSON.parse(lines[i]));
  return out;
}

/** Raw lines of a corpus file. */
export function corpusLines(name: string): string[] {
  return jsonlLines(corpusPath(name));
}
