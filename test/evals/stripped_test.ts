// Stripped text (vLLM skip_special_tokens=True): the recovery grammar and its ambiguity rule.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isStrippedText, parseStrippedText } from "../../src/evals/stripped.ts";
import { analyzeCompletion } from "../../src/evals/completion.ts";
import {
  completionsOf,
  conversations,
  enc,
  encoding,
  harmonyOutputs,
  parseLines,
  tokenizer,
  toolConversations,
} from "./_helpers.ts";

/** What vLLM's detokenizer gives with skip_special_tokens=True: the ordinary tokens only. */
function strip(ids: ArrayLike<number>): string {
  const keep: number[] = [];
  for (let i = 0; i < ids.length; i++) if (!tokenizer.isSpecial(ids[i])) keep.push(ids[i]);
  return tokenizer.decode(keep);
}

const BOUNDARY = /assistant(analysis|commentary|final| to=)/;
const MSG = String
  .raw`<\|channel\|>(analysis|commentary|final)( to=[\w.]+ ?(<\|constrain\|>json)?)?<\|message\|>[^<]*`;
const RENDERED = new RegExp(
  String.raw`^${MSG}(<\|end\|><\|start\|>assistant${MSG})*(<\|return\|>|<\|call\|>)$`,
);

const run = parseLines;

describe("parseStrippedText()", () => {
  test("the shapes vLLM leaves: analysis…assistantfinal…, commentary to=… json{…}, recipient first", () => {
    const table: [string, ReturnType<typeof parseStrippedText>][] = [
      ["analysisWe need to add 2 and 2.assistantfinal4", [
        { channel: "analysis", content: "We need to add 2 and 2." },
        { channel: "final", content: "4" },
      ]],
      ['analysisNeed a tool.assistantcommentary to=functions.get_weather json{"city":"Oslo"}', [
        { channel: "analysis", content: "Need a tool." },
        {
          channel: "commentary",
          recipient: "functions.get_weather",
          contentType: "<|constrain|>json",
          content: '{"city":"Oslo"}',
        },
      ]],
      [' to=functions.xcommentary json{"a":1}', [
        {
          channel: "commentary",
          recipient: "functions.x",
          contentType: "<|constrain|>json",
          content: '{"a":1}',
        },
      ]],
      ["assistantfinalHi", [{ channel: "final", content: "Hi" }]],
      ["commentaryPreamble.assistant to=functions.fcommentary json{}", [
        { channel: "commentary", content: "Preamble." },
        {
          channel: "commentary",
          recipient: "functions.f",
          contentType: "<|constrain|>json",
          content: "{}",
        },
      ]],
    ];
    for (const [text, want] of table) assert.deepEqual(parseStrippedText(text), want, text);
  });

  test("ambiguity rule: final/analysis/commentary are content unless glued to `assistant`", () => {
    assert.deepEqual(
      parseStrippedText("analysisThe final answer: final. An assistant final step.assistantfinal4"),
      [
        { channel: "analysis", content: "The final answer: final. An assistant final step." },
        { channel: "final", content: "4" },
      ],
    );
    // Content that itself holds `assistantfinal` is split there (indistinguishable from a boundary).
    assert.deepEqual(parseStrippedText("finalWrite assistantfinal here"), [
      { channel: "final", content: "Write " },
      { channel: "final", content: " here" },
    ]);
  });

  test("text with special tokens, or not starting with a channel, is not stripped", () => {
    for (const t of ["<|channel|>final<|message|>4", "The answer is 4", "", "assistant: final"]) {
      assert.equal(isStrippedText(t), false, t);
      assert.equal(parseStrippedText(t), undefined);
    }
  });
});

describe("parse-dataset on stripped text", () => {
  test("corpus completions, stripped: the same messages as the originals, status recovered", async () => {
    const built = [
      ...conversations().slice(0, 20).flatMap(completionsOf),
      ...toolConversations().slice(0, 10).flatMap(completionsOf),
    ];
    const originals: ReturnType<typeof analyzeCompletion>[] = [];
    const lines: string[] = [];
    for (const b of built) {
      const text = strip(b.tokens);
      const orig = analyzeCompletion(encoding, b.tokens);
      if (orig.status !== "ok" || orig.messages.some((m) => BOUNDARY.test(String(m.content)))) {
        continue;
      }
      originals.push(orig);
      lines.push(JSON.stringify({ id: lines.length, outputs: [{ text, finish_reason: "stop" }] }));
    }
    for (const row of harmonyOutputs()) {
      if (row.text.startsWith("<|start|>")) continue;
      const ids = enc(row.text);
      const orig = analyzeCompletion(encoding, ids);
      const text = strip(ids);
      if (
        orig.status !== "ok" || orig.stop === "none" || !isStrippedText(text) ||
        orig.messages.some((m) => BOUNDARY.test(String(m.content)) || m.content === "")
      ) continue;
      // Only the assistant header forms the renderer writes survive stripping unambiguously.
      if (!RENDERED.test(row.text)) continue;
      originals.push(orig);
      lines.push(JSON.stringify({ id: lines.length, outputs: [{ text, finish_reason: "stop" }] }));
    }
    assert.ok(lines.length >= 40, `only ${lines.length} records`);
    const { rows, stats } = await run(lines);
    rows.forEach((r, k) => {
      assert.equal(r.stripped, true);
      assert.equal(r.status, "recovered");
      assert.match(r.error, /^stripped-text: /);
      assert.deepEqual(r.messages, originals[k].messages, lines[k].slice(0, 200));
      assert.equal(r.final, originals[k].final);
      assert.deepEqual(r.tool_calls, originals[k].tool_calls);
      assert.equal(r.stop, originals[k].stop, "finish_reason stop → <|return|> or <|call|>");
    });
    assert.equal(stats.stripped, rows.length);
    assert.equal(stats.recovered[0].reason, "stripped-text");
    assert.equal(stats.truncated, 0);
  });

  test("without finish_reason the stop is none but not counted as truncated; --stripped off", async () => {
    const lines = [JSON.stringify({ text: "analysisEasy.assistantfinal4" })];
    const on = await run(lines);
    assert.deepEqual([on.rows[0].final, on.rows[0].analysis, on.rows[0].stop], [
      "4",
      "Easy.",
      "none",
    ]);
    assert.equal(on.stats.truncated, 0);
    const off = await run(lines, { stripped: false });
    assert.equal(off.rows[0].status, "error");
    assert.equal(off.rows[0].stripped, undefined);
    assert.match(off.rows[0].error, /^eos-in-header/);
  });
});
