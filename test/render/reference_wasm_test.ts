// Side by side with the reference compiled to WASM (the `openai-harmony` npm package): the same
// JSON conversations must give the same tokens. (Plain JS objects on both sides: the WASM
// bindings cannot see `10.0` or integer-like key order, which golden and schema tests cover.)
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { loadHarmonyEncoding } from "../../src/encoding/mod.ts";
import { conversationFromJson } from "../../src/chat/json.ts";
import { loadReferenceWasm } from "../_support/reference_wasm.ts";
import { SCHEMA_CASES } from "./_schemas.ts";
import {
  CONVERSATION_FILES,
  corpusConversation,
  corpusRows,
  TOOL_FILES,
  toolsRowConversation,
} from "./_corpus.ts";

const enc = await loadHarmonyEncoding("HarmonyGptOss");
const { enc: ref, close } = await loadReferenceWasm();

function same(convo: unknown, drop = true): void {
  // deno-lint-ignore no-explicit-any
  const expected = ref.renderConversationForCompletion(convo as any, "assistant", {
    auto_drop_analysis: drop,
  });
  const actual = enc.renderConversationForCompletion(conversationFromJson(convo), "assistant", {
    autoDropAnalysis: drop,
  });
  if (expected.length !== actual.length || expected.some((t, i) => t !== actual[i])) {
    assert.equal(enc.decode(actual), ref.decodeUtf8(expected));
    assert.deepEqual([...actual], [...expected]);
  }
}

describe("same tokens as the WASM reference", () => {
  test("every hand-written schema case", () => {
    for (const c of SCHEMA_CASES) {
      same(toolsRowConversation({ question: "q" }, [
        { name: "f", description: c.name, parameters: c.schema },
      ]));
    }
  });

  for (const file of TOOL_FILES) {
    test(`tool schemas of ${file} (every 7th row)`, () => {
      const rows = corpusRows(file, 7);
      assert.ok(rows.length > 0);
      for (const row of rows) same(toolsRowConversation(row));
    });
  }

  for (const file of CONVERSATION_FILES) {
    test(`conversations of ${file} (a sample), analysis dropped and kept`, () => {
      const rows = corpusRows(file, file.includes("gsm8k") ? 97 : 23, 60);
      assert.ok(rows.length > 0);
      for (const row of rows) {
        same(corpusConversation(row), true);
        same(corpusConversation(row), false);
      }
    });
  }

  test("close the reference's loopback server", async () => {
    await close();
  });
});
