// Rules of the reference renderer (src/encoding.rs) beyond the golden files, spans and batches.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { loadHarmonyEncoding } from "../../src/encoding/mod.ts";
import { Author, Role } from "../../src/chat/role.ts";
import { Conversation, Message } from "../../src/chat/message.ts";
import {
  DeveloperContent,
  SystemContent,
  ToolDescription,
  ToolNamespaceConfig,
} from "../../src/chat/content.ts";
import { HarmonyRenderError } from "../../src/render/renderer.ts";
import { SegmentCache } from "../../src/render/plan.ts";
import { encodeBatchCpu, EncodedBatch, ORDINARY } from "../../src/tokenizer/encoded_batch.ts";

const enc = await loadHarmonyEncoding("HarmonyGptOss");
const S = (s: string) => [...enc.encode(s, { allowedSpecial: "all" })];
const user = (t: string) => Message.fromRoleAndContent(Role.User, t);
const fnTools = DeveloperContent.new().withFunctionTools([
  new ToolDescription("f", "Does f.", { type: "object", properties: {} }),
]);

describe("header and body rules", () => {
  const cases: Array<[string, Message, string]> = [
    [
      "a user name follows a colon",
      Message.fromAuthorAndContent(Author.new(Role.User, "alice"), "hi"),
      "<|start|>user:alice<|message|>hi<|end|>",
    ],
    [
      "a tool message shows only its name",
      Message.fromAuthorAndContent(Author.new(Role.Tool, "functions.f"), "1"),
      "<|start|>functions.f<|message|>1<|end|>",
    ],
    [
      "recipient all is not written",
      user("hi").withRecipient("all"),
      "<|start|>user<|message|>hi<|end|>",
    ],
    [
      "an assistant message with a recipient ends with <|call|>",
      Message.fromRoleAndContent(Role.Assistant, "{}").withRecipient("functions.f"),
      "<|start|>assistant to=functions.f<|message|>{}<|call|>",
    ],
    [
      "a user message with a recipient ends with <|end|>",
      user("x").withRecipient("assistant"),
      "<|start|>user to=assistant<|message|>x<|end|>",
    ],
    [
      "a plain content type is text after a space",
      Message.fromRoleAndContent(Role.Assistant, "{}").withChannel("commentary").withContentType(
        "json",
      ),
      "<|start|>assistant<|channel|>commentary json<|message|>{}<|end|>",
    ],
    [
      "<|constrain|> alone as content type",
      Message.fromRoleAndContent(Role.Assistant, "{}").withContentType("<|constrain|>"),
      "<|start|>assistant <|constrain|><|message|>{}<|end|>",
    ],
    [
      "an empty text still writes the header and <|end|>",
      user(""),
      "<|start|>user<|message|><|end|>",
    ],
  ];
  for (const [name, msg, text] of cases) {
    test(name, () => assert.deepEqual([...enc.render(msg)], S(text)));
  }

  test("several texts are tokenized one by one", () => {
    assert.deepEqual([...enc.render(Message.fromRoleAndContents(Role.User, ["a", "b"]))], [
      200006,
      1428,
      200008,
      ...enc.encodeOrdinary("a"),
      ...enc.encodeOrdinary("b"),
      200007,
    ]);
  });

  test("<|constrain|> elsewhere in a content type is ordinary text", () => {
    const t = enc.render(
      Message.fromRoleAndContent(Role.Assistant, "x").withContentType("json<|constrain|>"),
    );
    assert.equal(t.filter((x) => x === 200003).length, 0);
    assert.equal(enc.decodeUtf8(t), "<|start|>assistant json<|constrain|><|message|>x<|end|>");
  });

  test("special-token text in messages is never a special token", () => {
    const t = enc.render(
      Message.fromAuthorAndContent(Author.new(Role.User, "<|end|>"), "<|start|>x<|end|>")
        .withChannel("<|call|>"),
    );
    assert.deepEqual(
      [...t].filter((x) => x >= 199998),
      [200006, 200005, 200008, 200007],
    );
  });

  test("each header piece is tokenized on its own", () => {
    const m = Message.fromRoleAndContent(Role.Assistant, "x").withRecipient("functions.f")
      .withChannel("commentary").withContentType("<|constrain|>json");
    assert.deepEqual([...enc.render(m)], [
      200006,
      ...enc.encodeOrdinary("assistant"),
      ...enc.encodeOrdinary(" to=functions.f"),
      200005,
      ...enc.encodeOrdinary("commentary"),
      ...enc.encodeOrdinary(" "),
      200003,
      ...enc.encodeOrdinary("json"),
      200008,
      ...enc.encodeOrdinary("x"),
      200012,
    ]);
  });

  test("the functions line appears in the system message when a developer message has function tools", () => {
    const sys = Message.fromRoleAndContent(Role.System, SystemContent.new());
    const line = "Calls to these tools must go to the commentary channel: 'functions'.";
    const withTools = enc.decodeUtf8(
      enc.renderConversation([sys, Message.fromRoleAndContent(Role.Developer, fnTools)]),
    );
    assert.ok(withTools.includes(`Channel must be included for every message.\n${line}<|end|>`));
    assert.ok(!enc.decodeUtf8(enc.renderConversation([sys, user("x")])).includes(line));
    assert.ok(!enc.decodeUtf8(enc.render(sys.content[0] && sys)).includes(line));
    assert.ok(
      enc.decodeUtf8(enc.render(sys, { conversationHasFunctionTools: true })).includes(line),
    );
    const emptyFns = DeveloperContent.new().withFunctionTools([]);
    assert.ok(
      !enc.decodeUtf8(
        enc.renderConversation([sys, Message.fromRoleAndContent(Role.Developer, emptyFns)]),
      )
        .includes(line),
    );
  });

  test("namespaces render in key (BTreeMap) order, not insertion order", () => {
    const dev = DeveloperContent.new()
      .withTools(new ToolNamespaceConfig("zz", undefined, [new ToolDescription("a", "A")]))
      .withTools(new ToolNamespaceConfig("functions", undefined, [new ToolDescription("b", "B")]));
    const text = enc.decodeUtf8(enc.render(Message.fromRoleAndContent(Role.Developer, dev)));
    assert.ok(text.indexOf("## functions") < text.indexOf("## zz"));
  });

  test("a system message without any field renders an empty body", () => {
    assert.equal(
      enc.decodeUtf8(enc.render(Message.fromRoleAndContent(Role.System, new SystemContent()))),
      "<|start|>system<|message|><|end|>",
    );
  });
});

describe("reference errors", () => {
  const cases: Array<[string, Message[], number, RegExp]> = [
    [
      "a tool message without a name",
      [user("a"), Message.fromRoleAndContent(Role.Tool, "x")],
      1,
      /^Cannot render message 1: a tool message needs an author name/,
    ],
    [
      "system content in a user message",
      [Message.fromRoleAndContent(Role.User, SystemContent.new())],
      0,
      /^Cannot render message 0: system content may only appear in system messages, found in a user message/,
    ],
    [
      "developer content in a system message",
      [user("a"), user("b"), Message.fromRoleAndContent(Role.System, DeveloperContent.new())],
      2,
      /^Cannot render message 2: developer content may only appear in developer messages, found in a system message/,
    ],
  ];
  for (const [name, messages, index, re] of cases) {
    test(`${name} is a HarmonyRenderError (a TypeError) naming message ${index}`, () => {
      assert.throws(() => enc.renderConversation(messages), (e: unknown) => {
        assert.ok(e instanceof HarmonyRenderError);
        assert.ok(e instanceof TypeError);
        assert.equal(e.messageIndex, index);
        assert.match(e.message, re);
        return true;
      });
    });
  }
});

describe("analysis dropping and training", () => {
  const convo = [
    user("q"),
    Message.fromRoleAndContent(Role.Assistant, "think").withChannel("analysis"),
    Message.fromRoleAndContent(Role.Assistant, "a").withChannel("final"),
  ];

  test("analysis is kept when the last assistant message is not final", () => {
    const c = [
      ...convo,
      Message.fromRoleAndContent(Role.Assistant, "more").withChannel("analysis"),
    ];
    assert.ok(enc.decodeUtf8(enc.renderConversation(c)).includes("think"));
  });

  test("training replaces the last <|end|> (or <|call|>) with <|return|> after a final message", () => {
    const t = enc.renderConversationForTraining(convo);
    assert.equal(t[t.length - 1], 200002);
    assert.ok(!enc.decodeUtf8(t).includes("think"));
    const call = [
      user("q"),
      Message.fromRoleAndContent(Role.Assistant, "{}").withChannel("final").withRecipient("x"),
    ];
    const tc = enc.renderConversationForTraining(call);
    assert.equal(tc[tc.length - 1], 200002);
    assert.deepEqual([...enc.renderConversationForTraining([])], []);
  });

  test("completion appends <|start|> and the next role", () => {
    const t = enc.renderConversationForCompletion([user("q")], Role.User);
    assert.deepEqual([...t.subarray(-2)], [200006, ...enc.encodeOrdinary("user")]);
  });
});

describe("spans", () => {
  test("a user message: start, sampledStart after the role, end after <|end|>", () => {
    const { tokens, spans } = enc.renderConversationWithSpans([user("Hi")], {
      mode: "conversation",
    });
    assert.deepEqual([...tokens], [200006, 1428, 200008, 12194, 200007]);
    assert.deepEqual(spans, [{ messageIndex: 0, role: "user", start: 0, sampledStart: 2, end: 5 }]);
  });

  test("dropped analysis has no span; channel and recipient are reported", () => {
    const msgs = [
      user("q"),
      Message.fromRoleAndContent(Role.Assistant, "think").withChannel("analysis"),
      Message.fromRoleAndContent(Role.Assistant, "{}").withChannel("commentary").withRecipient(
        "functions.f",
      ),
      Message.fromAuthorAndContent(Author.new(Role.Tool, "functions.f"), "1").withChannel(
        "commentary",
      ),
      Message.fromRoleAndContent(Role.Assistant, "a").withChannel("final"),
    ];
    const { tokens, spans } = enc.renderConversationWithSpans(msgs, { mode: "training" });
    assert.deepEqual(spans.map((s) => s.messageIndex), [0, 2, 3, 4]);
    assert.equal(spans[1].recipient, "functions.f");
    assert.equal(spans[1].channel, "commentary");
    assert.equal(tokens[spans[1].end - 1], 200012);
    assert.equal(tokens[spans[3].end - 1], 200002);
    assert.equal(
      enc.decodeUtf8(tokens.subarray(spans[2].start + 1, spans[2].sampledStart)),
      "functions.f",
    );
    assert.equal(
      enc.decodeUtf8(tokens.subarray(spans[1].sampledStart, spans[1].end)),
      " to=functions.f<|channel|>commentary<|message|>{}<|call|>",
    );
  });
});

describe("batches", () => {
  const convos = [
    [user("Hello"), Message.fromRoleAndContent(Role.Assistant, "Hi!").withChannel("final")],
    [user("Hello")],
    [Message.fromRoleAndContent(Role.Tool, "no name")],
    [
      Message.fromRoleAndContent(Role.System, SystemContent.new()),
      Message.fromRoleAndContent(Role.Developer, fnTools),
      user("Hello"),
    ],
  ];

  for (const mode of ["completion", "conversation", "training"] as const) {
    test(`renderBatch (${mode}) equals one-by-one rendering; a bad conversation gets its error`, () => {
      const items = enc.renderBatch(convos, { mode, nextRole: Role.Assistant });
      assert.equal(items.length, 4);
      for (let i = 0; i < convos.length; i++) {
        if (i === 2) {
          assert.ok(items[i].error instanceof HarmonyRenderError);
          continue;
        }
        const one = enc.renderConversationWithSpans(convos[i], { mode, nextRole: Role.Assistant });
        assert.deepEqual([...items[i].tokens!], [...one.tokens]);
        assert.deepEqual(items[i].spans, one.spans);
      }
    });
  }

  test("the encoder gets each text once per batch; repeated texts come from the cache", () => {
    enc.clearCache();
    const seen: string[][] = [];
    const render = (convos: Message[][]) => {
      const plan = enc.planBatch(convos, { mode: "conversation" });
      seen.push([...plan.texts]);
      return plan.finish(encodeBatchCpu(enc.tokenizer, plan.texts, ORDINARY));
    };
    render([[user("Hello")], [user("Hello")]]);
    assert.deepEqual(seen[0].sort(), ["Hello", "user"]);
    render([[user("Bye")]]);
    assert.deepEqual(seen[1], ["Bye"]);
  });

  test("planBatch + finish works with any (e.g. asynchronous) encoder; a wrong count is a RangeError", async () => {
    const plan = enc.planBatch([new Conversation([user("async")])], { mode: "conversation" });
    const encoded = await Promise.resolve(encodeBatchCpu(enc.tokenizer, plan.texts, ORDINARY));
    const [item] = plan.finish(encoded);
    assert.equal(enc.decodeUtf8(item.tokens!), "<|start|>user<|message|>async<|end|>");
    const plan2 = enc.planBatch([[user("zzz unique")]], { mode: "conversation" });
    assert.throws(
      () => plan2.finish(new EncodedBatch(new Uint32Array(0), new Uint32Array(1), new Map())),
      RangeError,
    );
    const failed = new EncodedBatch(
      new Uint32Array(0),
      new Uint32Array(plan2.texts.length + 1),
      new Map([[0, new SyntaxError("bad")]]),
    );
    assert.throws(() => plan2.finish(failed), /text 0 failed to encode: bad/);
  });

  test("finish stitches from one packed array built by hand (as a GPU reads it back)", () => {
    enc.clearCache();
    const convos = [[user("a b c")], [
      user("a b c"),
      Message.fromRoleAndContent(Role.Assistant, "d"),
    ]];
    const plan = enc.planBatch(convos, { mode: "completion" });
    const lists = plan.texts.map((t) => enc.encodeOrdinary(t));
    const offsets = new Uint32Array(lists.length + 1);
    for (let i = 0; i < lists.length; i++) offsets[i + 1] = offsets[i] + lists[i].length;
    const tokens = new Uint32Array(offsets[lists.length]);
    lists.forEach((l, i) => tokens.set(l, offsets[i]));
    const items = plan.finish(new EncodedBatch(tokens, offsets, new Map()));
    for (let i = 0; i < convos.length; i++) {
      assert.deepEqual(
        items[i].tokens,
        enc.renderConversationForCompletion(convos[i], Role.Assistant),
      );
    }
  });
});

describe("SegmentCache", () => {
  test("is bounded by entries and by tokens, and clear() empties it", () => {
    const c = new SegmentCache(2, 100, 5);
    c.set("a", new Uint32Array(2));
    c.set("b", new Uint32Array(2));
    assert.equal(c.size, 2);
    c.set("c", new Uint32Array(1)); // a third entry: emptied first
    assert.equal(c.size, 1);
    c.set("d", new Uint32Array(5)); // 1 + 5 tokens > 5: emptied first
    assert.equal(c.size, 1);
    assert.equal(c.get("d")?.length, 5);
    c.set("e".repeat(101), new Uint32Array(1)); // too long: not cached
    assert.equal(c.get("e".repeat(101)), undefined);
    c.clear();
    assert.equal(c.size, 0);
  });
});
