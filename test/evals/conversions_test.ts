// The conversions of src/evals/conversions.ts: one test per rule of docs/parse-dataset.md
// ("Conversions"), round trips messages → Responses output → (as input) messages, and
// `parse-dataset --emit` on real-looking completions.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Author, DeveloperContent, Message, Role } from "../../src/mod.ts";
import { messageToJson } from "../../src/chat/json.ts";
import {
  fromResponsesInput,
  type ResponsesItem,
  toChatCompletionMessage,
  toResponsesOutput,
} from "../../src/evals/mod.ts";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { parseMessagesFromCompletionTokens } from "../../src/parse/mod.ts";
import { enc, encoding, harmonyOutputs } from "./_helpers.ts";

const A = Role.Assistant;
const analysis = (t: string) => Message.fromRoleAndContent(A, t).withChannel("analysis");
const final = (t: string) => Message.fromRoleAndContent(A, t).withChannel("final");
const preamble = (t: string) => Message.fromRoleAndContent(A, t).withChannel("commentary");
const call = (to: string, args: string, ct = "<|constrain|>json") =>
  Message.fromRoleAndContent(A, args).withChannel("commentary").withRecipient(to)
    .withContentType(ct);
const toolOut = (name: string, t: string) =>
  Message.fromAuthorAndContent(new Author(Role.Tool, name), t).withChannel("commentary")
    .withRecipient("assistant");
const json = (ms: Message[]) => ms.map(messageToJson);

describe("toChatCompletionMessage", () => {
  test("content is the last final-channel text", () => {
    const m = toChatCompletionMessage([final("a"), analysis("r"), final("b")]);
    assert.equal(m.role, "assistant");
    assert.equal(m.content, "b");
  });
  test("without final, content is the last preamble; with neither, null", () => {
    assert.equal(toChatCompletionMessage([preamble("p1"), preamble("p2")]).content, "p2");
    assert.equal(toChatCompletionMessage([preamble("p"), final("f")]).content, "f");
    assert.equal(toChatCompletionMessage([analysis("r")]).content, null);
    assert.equal(toChatCompletionMessage([]).content, null);
  });
  test("reasoning_content joins the analysis texts with newlines; null when none", () => {
    assert.equal(
      toChatCompletionMessage([analysis("a"), final("x"), analysis("b")]).reasoning_content,
      "a\nb",
    );
    assert.equal(toChatCompletionMessage([final("x")]).reasoning_content, null);
  });
  test("functions.NAME calls become tool_calls with the text as arguments, ids per prefix", () => {
    const m = toChatCompletionMessage([
      call("functions.get_weather", '{"city": "Oslo"}'),
      call("functions.noop", "not json", "text"),
    ], { idPrefix: "4_2" });
    assert.deepEqual(m.tool_calls, [
      {
        id: "call_4_2_0",
        type: "function",
        function: { name: "get_weather", arguments: '{"city": "Oslo"}' },
      },
      { id: "call_4_2_1", type: "function", function: { name: "noop", arguments: "not json" } },
    ]);
    assert.equal(toChatCompletionMessage([call("functions.f", "{}")]).tool_calls[0].id, "call_0");
  });
  test("a bare recipient (no functions. prefix, not built-in) is a function call", () => {
    assert.equal(
      toChatCompletionMessage([call("lookup", "{}")]).tool_calls[0].function.name,
      "lookup",
    );
  });
  test("built-in tools (browser.*, python, container.*), assistant and <|…> are left out", () => {
    const m = toChatCompletionMessage([
      call("browser.search", '{"query":"x"}'),
      call("python", "print(1)", "code"),
      call("container.exec", '{"cmd":["ls"]}'),
      call("assistant", "x"),
      call("<|constrain|>", "x"),
    ]);
    assert.deepEqual(m.tool_calls, []);
  });
  test("non-assistant messages are ignored", () => {
    const m = toChatCompletionMessage([
      Message.fromRoleAndContent(Role.User, "hi").withChannel("final"),
      toolOut("functions.f", "out"),
    ]);
    assert.deepEqual(m, {
      role: "assistant",
      content: null,
      reasoning_content: null,
      tool_calls: [],
    });
  });
});

describe("toResponsesOutput", () => {
  test("analysis → reasoning item with reasoning_text content", () => {
    assert.deepEqual(toResponsesOutput([analysis("think")], { idPrefix: "0_0" }), [
      {
        type: "reasoning",
        id: "rs_0_0_0",
        summary: [],
        content: [{ type: "reasoning_text", text: "think" }],
      },
    ]);
  });
  test("final and preamble → assistant message with output_text", () => {
    const items = toResponsesOutput([preamble("p"), final("f")]);
    assert.deepEqual(items.map((i) => [i.type, i.id, i.content[0]]), [
      ["message", "msg_0", { type: "output_text", text: "p", annotations: [] }],
      ["message", "msg_1", { type: "output_text", text: "f", annotations: [] }],
    ]);
  });
  test("functions.NAME → function_call with call_id matching the chat tool call id", () => {
    const ms = [analysis("r"), call("functions.a", "{}"), call("functions.b", '{"x":1}')];
    const items = toResponsesOutput(ms, { idPrefix: "9_1" });
    assert.deepEqual(items[2], {
      type: "function_call",
      id: "fc_9_1_2",
      call_id: "call_9_1_1",
      name: "b",
      arguments: '{"x":1}',
      status: "completed",
    });
    const chat = toChatCompletionMessage(ms, { idPrefix: "9_1" });
    assert.deepEqual(chat.tool_calls.map((c) => c.id), [items[1].call_id, items[2].call_id]);
  });
  test("browser.search/open/find → web_search_call with cursor: actions", () => {
    const items = toResponsesOutput([
      call("browser.search", '{"query":"oslo weather"}'),
      call("browser.open", '{"url":"https://x.org","id":3}'),
      call("browser.find", '{"pattern":"rain","url":"u"}'),
    ]);
    assert.deepEqual(items.map((i) => [i.type, i.id, i.status, i.action]), [
      ["web_search_call", "ws_0", "completed", { type: "search", query: "cursor:oslo weather" }],
      ["web_search_call", "ws_1", "completed", { type: "open_page", url: "cursor:https://x.org" }],
      ["web_search_call", "ws_2", "completed", {
        type: "find_in_page",
        pattern: "rain",
        url: "cursor:u",
      }],
    ]);
  });
  test("a browser call whose arguments are not JSON gets vLLM's placeholder", () => {
    const [item] = toResponsesOutput([call("browser.search", "{oops")]);
    assert.equal(item.action.query, "cursor:Invalid JSON args, caught and retried: {oops");
  });
  test("python and container (bare) → reasoning; container.exec and others → mcp_call", () => {
    const items = toResponsesOutput([
      call("python", "print(1)", "code"),
      call("container", "{}"),
      call("container.exec", '{"cmd":["ls"]}'),
      call("browser.scroll", "{}"),
      call("assistant", "x"),
    ]);
    assert.deepEqual(items.map((i) => i.type), [
      "reasoning",
      "reasoning",
      "mcp_call",
      "mcp_call",
      "mcp_call",
    ]);
    assert.equal(items[0].content[0].text, "print(1)");
    assert.deepEqual(
      [items[2].server_label, items[2].name, items[2].arguments, items[2].id],
      ["container", "exec", '{"cmd":["ls"]}', "mcp_2"],
    );
    assert.deepEqual([items[3].server_label, items[3].name], ["browser", "scroll"]);
    assert.deepEqual([items[4].server_label, items[4].name], ["assistant", "assistant"]);
  });
  test("non-assistant messages produce no item", () => {
    assert.deepEqual(
      toResponsesOutput([Message.fromRoleAndContent(Role.User, "q"), toolOut("functions.f", "o")]),
      [],
    );
  });
  test("incomplete: the last message's item is incomplete; a cut-off browser call has none", () => {
    const items = toResponsesOutput([analysis("r"), final("par")], { incomplete: true });
    assert.equal(items[1].status, "incomplete");
    assert.equal(
      toResponsesOutput([call("functions.f", "{")], { incomplete: true })[0].status,
      "incomplete",
    );
    assert.deepEqual(toResponsesOutput([call("browser.open", "{")], { incomplete: true }), []);
  });
});

describe("fromResponsesInput", () => {
  test("user messages: string or input_text parts (one text content per part)", () => {
    const ms = fromResponsesInput([
      { role: "user", content: "hi" },
      {
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "a" }, { type: "input_text", text: "b" }],
      },
    ]);
    assert.deepEqual(json(ms), [
      { role: "user", content: "hi" },
      { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] },
    ]);
  });
  test("system and developer → developer message with the text as instructions; empty → none", () => {
    const ms = fromResponsesInput([
      { role: "system", content: "Be brief." },
      { role: "developer", content: [{ type: "input_text", text: "Riddles" }] },
      { role: "system", content: "" },
    ]);
    assert.equal(ms.length, 2);
    for (const [m, text] of [[ms[0], "Be brief."], [ms[1], "Riddles"]] as const) {
      assert.equal(m.author.role, Role.Developer);
      assert.ok(m.content[0] instanceof DeveloperContent);
      assert.equal((m.content[0] as DeveloperContent).instructions, text);
    }
  });
  test("assistant output_text → final channel", () => {
    const ms = fromResponsesInput([
      {
        type: "message",
        role: "assistant",
        content: [{ type: "output_text", text: "42", annotations: [] }],
      },
    ]);
    assert.deepEqual(json(ms), json([final("42")]));
  });
  test("reasoning → analysis (texts joined with newlines); empty content → none", () => {
    const ms = fromResponsesInput([
      {
        type: "reasoning",
        summary: [],
        content: [{ type: "reasoning_text", text: "a" }, { type: "reasoning_text", text: "b" }],
      },
      { type: "reasoning", summary: [], content: [] },
      { type: "reasoning", summary: [] },
    ]);
    assert.deepEqual(json(ms), json([analysis("a\nb")]));
  });
  test("function_call → commentary to functions.NAME, content type json (as vLLM)", () => {
    const ms = fromResponsesInput([{
      type: "function_call",
      call_id: "c",
      name: "f",
      arguments: '{"a":1}',
    }]);
    assert.deepEqual(json(ms), json([call("functions.f", '{"a":1}', "json")]));
    const constrained = fromResponsesInput(
      [{ type: "function_call", call_id: "c", name: "f", arguments: "{}" }],
      { functionCallContentType: "<|constrain|>json" },
    );
    assert.equal(constrained[0].contentType, "<|constrain|>json");
  });
  test("function_call_output → tool message from functions.NAME (by call_id) to assistant", () => {
    const ms = fromResponsesInput([
      { type: "function_call", call_id: "c1", name: "a", arguments: "{}" },
      { type: "function_call", call_id: "c2", name: "b", arguments: "{}" },
      { type: "function_call_output", call_id: "c1", output: "A" },
      { type: "function_call_output", call_id: "c2", output: [{ type: "input_text", text: "B" }] },
    ]);
    assert.deepEqual(
      json(ms.slice(2)),
      json([toolOut("functions.a", "A"), toolOut("functions.b", "B")]),
    );
  });
  test("errors: an output without its call, unknown types and roles", () => {
    assert.throws(
      () => fromResponsesInput([{ type: "function_call_output", call_id: "x", output: "" }]),
      /call_id x/,
    );
    assert.throws(
      () => fromResponsesInput([{ type: "web_search_call" }]),
      /unknown type web_search_call/,
    );
    assert.throws(() => fromResponsesInput([{ role: "tool", content: "x" }]), /unknown role tool/);
  });
});

describe("round trips", () => {
  test("messages → toResponsesOutput → fromResponsesInput → the same messages", () => {
    const ms = [
      analysis("User wants the weather."),
      call("functions.get_weather", '{"location":"Tokyo"}', "json"),
      analysis("It is sunny."),
      final("Sunny in Tokyo."),
    ];
    const items = toResponsesOutput(ms, { idPrefix: "1_0" });
    assert.deepEqual(json(fromResponsesInput(items)), json(ms));
  });
  test("a whole turn with the tool's output rendered back (tool outputs are input items)", () => {
    const out1 = toResponsesOutput([analysis("r"), call("functions.f", "{}", "json")]);
    const input: ResponsesItem[] = [
      { role: "user", content: "q" },
      ...out1,
      { type: "function_call_output", call_id: out1[1].call_id, output: "42" },
      ...toResponsesOutput([final("It is 42.")]),
    ];
    assert.deepEqual(json(fromResponsesInput(input)), [
      { role: "user", content: "q" },
      ...json([
        analysis("r"),
        call("functions.f", "{}", "json"),
        toolOut("functions.f", "42"),
        final("It is 42."),
      ]),
    ]);
  });
  test("corpus outputs: every lossless-shaped assistant message comes back exactly", () => {
    let checked = 0;
    let calls = 0;
    for (const row of harmonyOutputs()) {
      let parsed: Message[];
      try {
        parsed = parseMessagesFromCompletionTokens(encoding, enc(row.text), null, {
          strict: false,
        });
      } catch {
        continue; // malformed outputs are salvage's business
      }
      const lossless = parsed.filter((m) =>
        m.author.role === A && m.content.length === 1 &&
        (m.recipient === undefined
          ? m.channel === "analysis" || m.channel === "final"
          : m.recipient.startsWith("functions.") && m.channel === "commentary" &&
            m.contentType === "<|constrain|>json")
      );
      if (lossless.length === 0) continue;
      const back = fromResponsesInput(toResponsesOutput(lossless), {
        functionCallContentType: "<|constrain|>json",
      });
      assert.deepEqual(json(back), json(lossless), row.source);
      checked += lossless.length;
      calls += lossless.filter((m) => m.recipient !== undefined).length;
    }
    assert.ok(checked >= 5 && calls >= 1, `${checked} messages, ${calls} calls`);
  });
  test("lossy, as documented: preambles come back final, <|constrain|>json comes back json", () => {
    const back = fromResponsesInput(toResponsesOutput([preamble("p"), call("functions.f", "{}")]));
    assert.equal(back[0].channel, "final");
    assert.equal(back[1].contentType, "json");
  });
});

describe("parse-dataset --emit", () => {
  test("openai and responses on each line, ids from the record and sample index", async () => {
    // A real-looking completion from the corpus: analysis, then a functions.* call.
    const row = harmonyOutputs().find((r) =>
      r.text.includes("<|start|>assistant<|channel|>analysis") && r.text.includes("to=functions.")
    );
    assert.ok(row, "a corpus output with analysis and a function call");
    const start = row.text.indexOf("<|start|>assistant<|channel|>analysis");
    let completion = row.text.slice(start + "<|start|>assistant".length);
    const stop = completion.search(/<\|call\|>|<\|end\|><\|start\|>assistant$/);
    completion = stop < 0 ? completion : completion.slice(0, stop) + "<|call|>";
    const dir = mkdtempSync(join(tmpdir(), "harmony-conv-"));
    try {
      const input = join(dir, "in.jsonl");
      const samples = [{ token_ids: enc(completion) }, {
        token_ids: enc("<|channel|>final<|message|>Sunny.<|return|>"),
      }];
      writeFileSync(
        input,
        JSON.stringify({ id: "a", outputs: samples }) + "\n" +
          JSON.stringify({ id: "b", outputs: [samples[1]] }) + "\n",
      );
      const out = join(dir, "out.jsonl");
      const host = memoryHost("", {});
      const code = await main(
        [
          "parse-dataset",
          input,
          "--out",
          out,
          "--emit",
          "openai",
          "--emit",
          "responses",
          "--backend",
          "cpu",
        ],
        host,
      );
      assert.equal(code, 0, host.err());
      const lines = readFileSync(out, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
      assert.equal(lines.length, 3);
      const [first, second, third] = lines;
      assert.equal(first.status, "ok", first.error);
      assert.ok(first.openai.reasoning_content.length > 0);
      assert.equal(first.openai.tool_calls[0].id, "call_0_0_0");
      assert.equal(first.openai.tool_calls[0].type, "function");
      assert.equal(first.openai.tool_calls[0].function.arguments, first.tool_calls[0].raw);
      assert.equal(
        "functions." + first.openai.tool_calls[0].function.name,
        first.tool_calls[0].recipient,
      );
      assert.deepEqual(first.responses.map((i: ResponsesItem) => i.type).slice(0, 1), [
        "reasoning",
      ]);
      const fc = first.responses.find((i: ResponsesItem) => i.type === "function_call");
      assert.equal(fc.call_id, "call_0_0_0");
      assert.deepEqual(second.openai, {
        role: "assistant",
        content: "Sunny.",
        reasoning_content: null,
        tool_calls: [],
      });
      assert.equal(second.responses[0].id, "msg_0_1_0");
      assert.equal(third.responses[0].id, "msg_1_0_0");
      // A comma list works too, and an unknown format is a usage error.
      const out2 = join(dir, "out2.jsonl");
      assert.equal(
        await main([
          "parse-dataset",
          input,
          "--out",
          out2,
          "--emit",
          "openai,responses",
          "--backend",
          "cpu",
        ], memoryHost("", {})),
        0,
      );
      assert.deepEqual(readFileSync(out2, "utf8"), readFileSync(out, "utf8"));
      const bad = memoryHost("", {});
      assert.notEqual(await main(["parse-dataset", input, "--out", out2, "--emit", "xml"], bad), 0);
      assert.match(bad.err(), /--emit "xml"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test("a truncated completion's last item is incomplete", async () => {
    const dir = mkdtempSync(join(tmpdir(), "harmony-conv-"));
    try {
      const input = join(dir, "in.jsonl");
      writeFileSync(
        input,
        JSON.stringify({ tokens: enc("<|channel|>final<|message|>Sun") }) + "\n",
      );
      const out = join(dir, "out.jsonl");
      const host = memoryHost("", {});
      assert.equal(
        await main([
          "parse-dataset",
          input,
          "--out",
          out,
          "--emit",
          "responses",
          "--backend",
          "cpu",
        ], host),
        0,
        host.err(),
      );
      const [line] = readFileSync(out, "utf8").split("\n").filter(Boolean).map((l) =>
        JSON.parse(l)
      );
      assert.equal(line.openai, undefined);
      assert.equal(line.stop, "none");
      assert.equal(line.responses.at(-1).status, "incomplete");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
