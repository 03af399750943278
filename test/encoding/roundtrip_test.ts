// Property test over real conversations: render → parse back → the same messages.
// Runs over the shared corpus when ../shared exists, else over the bundled excerpts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadHarmonyEncoding } from "../../src/encoding/mod.ts";
import { conversationFromJson, messageToJson } from "../../src/chat/json.ts";
import { CONVERSATION_FILES, corpusConversation, corpusRows } from "../render/_corpus.ts";
import type { Message } from "../../src/chat/message.ts";

const enc = await loadHarmonyEncoding("HarmonyGptOss");

/** The fields a text message keeps through render + parse. */
function comparable(m: Message): unknown {
  const j = messageToJson(m) as unknown as Record<string, unknown>;
  const text = m.content.map((c) => (c.type === "text" ? c.text : "")).join("");
  return { ...j, content: text };
}

for (const file of CONVERSATION_FILES) {
  test(`renderConversation then parseMessagesFromCompletionTokens gives back ${file}`, () => {
    const rows = corpusRows(file, 7, 300);
    assert.ok(rows.length > 0, `no rows in ${file}`);
    let checked = 0;
    for (const [i, row] of rows.entries()) {
      const convo = conversationFromJson(corpusConversation(row));
      const tokens = enc.renderConversation(convo, { autoDropAnalysis: false });
      const parsed = enc.parseMessagesFromCompletionTokens(tokens, null);
      assert.equal(parsed.length, convo.messages.length, `${file} row ${i}: message count`);
      for (let k = 0; k < parsed.length; k++) {
        const original = convo.messages[k];
        if (original.content.some((c) => c.type !== "text")) continue; // system/developer text
        assert.deepEqual(
          comparable(parsed[k]),
          comparable(original),
          `${file} row ${i} message ${k}`,
        );
        checked++;
      }
    }
    assert.ok(checked > rows.length, `only ${checked} messages compared`);
  });
}

test("renderConversationForTraining ends a final answer with <|return|> (else <|end|>) and parses back", () => {
  const rows = corpusRows(CONVERSATION_FILES[1], 11, 100);
  let finals = 0, others = 0;
  for (const [i, row] of rows.entries()) {
    const convo = conversationFromJson(corpusConversation(row));
    const last = convo.messages.at(-1)!;
    if (last.author.role !== "assistant") continue;
    if (i % 2 === 0) last.channel = "final";
    const tokens = enc.renderConversationForTraining(convo);
    // Reference rule (src/encoding.rs): only a last assistant message on the final channel.
    const isFinal = last.channel === "final";
    if (isFinal) finals++;
    else others++;
    assert.equal(
      tokens[tokens.length - 1],
      isFinal ? enc.formattingTokens.return : enc.formattingTokens.end,
    );
    const parsed = enc.parseMessagesFromCompletionTokens(tokens, null);
    assert.equal(
      parsed.at(-1)!.content.map((c) => (c.type === "text" ? c.text : "")).join(""),
      last.content.map((c) => (c.type === "text" ? c.text : "")).join(""),
    );
  }
  assert.ok(finals > 0 && others > 0, `finals ${finals}, others ${others}`);
});
