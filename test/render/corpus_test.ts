// Property tests over the shared corpus (or its excerpts): every tool schema renders (schemas
// read with key order kept), rendering is deterministic, spans tile the tokens, batches equal
// one-by-one rendering.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { loadHarmonyEncoding } from "../../src/encoding/mod.ts";
import { conversationFromJson } from "../../src/chat/json.ts";
import { parseJsonPreservingOrder } from "../../src/chat/json_text.ts";
import type { JsonValue } from "../../src/chat/content.ts";
import type { Message } from "../../src/chat/message.ts";
import { toolsSection } from "../../src/render/schema_to_typescript.ts";
import type { DeveloperContent } from "../../src/chat/content.ts";
import {
  CONVERSATION_FILES,
  corpusConversation,
  corpusLines,
  corpusRows,
  TOOL_FILES,
  toolsRowConversation,
} from "./_corpus.ts";

const enc = await loadHarmonyEncoding("HarmonyGptOss");
const STOP = new Set([200002, 200007, 200012]);

/** The row's tools with their parameters as read by parseJsonPreservingOrder (Maps). */
function orderedTools(line: string): { question: unknown; system: unknown; tools: unknown[] } {
  const row = parseJsonPreservingOrder(line) as Map<string, JsonValue>;
  const tools = (row.get("tools") as JsonValue[] | undefined ?? []).map((t) => {
    const m = t as Map<string, JsonValue>;
    const d = m.get("description");
    return {
      name: String(m.get("name")),
      description: typeof d === "string" ? d : "",
      parameters: m.get("parameters") ?? null,
    };
  });
  return { question: row.get("question"), system: row.get("system"), tools };
}

describe("tool schemas of the corpus", () => {
  for (const file of TOOL_FILES) {
    test(`every row of ${file} renders, deterministically, with a type per tool`, () => {
      const lines = corpusLines(file);
      assert.ok(lines.length > 0);
      for (let i = 0; i < lines.length; i++) {
        const row = orderedTools(lines[i]);
        const convo = conversationFromJson(toolsRowConversation(row, row.tools));
        const dev = convo.messages[1].content[0] as DeveloperContent;
        const section = toolsSection(dev.tools!.values());
        assert.equal(toolsSection(dev.tools!.values()), section, `${file} line ${i + 1}`);
        for (const t of row.tools as Array<{ name: string }>) {
          assert.ok(section.includes(`\ntype ${t.name} = `), `${file} line ${i + 1}: ${t.name}`);
        }
        // Tokens only for a sample (BPE of long schemas is the slow part).
        if (i % 5 === 0) {
          const a = enc.renderConversationForCompletion(convo, "assistant");
          const text = enc.decodeUtf8(a);
          assert.ok(text.includes(section), `${file} line ${i + 1}`);
          assert.equal(
            text.includes("Calls to these tools must go to the commentary channel: 'functions'."),
            row.tools.length > 0,
          );
        }
      }
    });
  }

  test("schema properties render in written order (first tool of each openapi row)", () => {
    for (const line of corpusLines("tools_openapi_derived.jsonl")) {
      const row = orderedTools(line);
      const params = (row.tools[0] as { parameters: JsonValue }).parameters;
      if (!(params instanceof Map)) continue;
      const props = params.get("properties");
      if (!(props instanceof Map) || props.size < 2) continue;
      const section = toolsSection([{
        name: "functions",
        description: undefined,
        tools: [{ name: "f", description: "", parameters: params }],
      }]);
      let at = -1;
      for (const key of props.keys()) {
        const next = section.indexOf(`\n${key}`, at + 1);
        assert.ok(next > at, key);
        at = next;
      }
    }
  });
});

function checkSpans(
  messages: readonly Message[],
  tokens: Uint32Array,
  spans: ReturnType<typeof enc.renderConversationWithSpans>["spans"],
  mode: string,
): void {
  let at = 0;
  for (const s of spans) {
    assert.equal(s.start, at);
    assert.equal(tokens[s.start], 200006);
    assert.ok(STOP.has(tokens[s.end - 1]));
    assert.ok(s.start < s.sampledStart && s.sampledStart < s.end);
    const m = messages[s.messageIndex];
    const who = m.author.role === "tool"
      ? m.author.name
      : m.author.role + (m.author.name ? `:${m.author.name}` : "");
    assert.equal(enc.decodeUtf8(tokens.subarray(s.start + 1, s.sampledStart)), who);
    at = s.end;
  }
  assert.equal(at, mode === "completion" ? tokens.length - 2 : tokens.length);
}

describe("conversations of the corpus", () => {
  for (const file of CONVERSATION_FILES) {
    test(`${file}: spans tile the tokens in every mode; batches equal single renders`, () => {
      const rows = corpusRows(file, file.includes("gsm8k") ? 40 : 10, 150);
      assert.ok(rows.length > 0);
      const convos = rows.map((r) => conversationFromJson(corpusConversation(r)));
      for (const mode of ["completion", "conversation", "training"] as const) {
        const batch = enc.renderBatch(convos, { mode });
        for (let i = 0; i < convos.length; i++) {
          const one = enc.renderConversationWithSpans(convos[i], { mode });
          checkSpans(convos[i].messages, one.tokens, one.spans, mode);
          assert.deepEqual(batch[i].tokens, one.tokens);
          assert.deepEqual(batch[i].spans, one.spans);
          if (mode === "conversation") {
            assert.deepEqual(one.tokens, enc.renderConversation(convos[i]));
          }
        }
      }
    });
  }
});
