// The analysis (reasoning) policy: selectAnalysis() and the training renderer's `analysis`
// option, each mode on single-turn, multi-turn, tool-call turns without a final, and analysis
// after the last final; render-dataset's --analysis, counts, --stats and untrained records.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Author, Conversation, Message, Role } from "../../src/mod.ts";
import { loadHarmonyEncoding } from "../../src/encoding/mod.ts";
import {
  ANALYSIS_POLICIES,
  type AnalysisPolicy,
  selectAnalysis,
} from "../../src/dataset/analysis_policy.ts";
import { loadTrainingRenderer } from "../../src/dataset/training_renderer.ts";
import type { RenderResult } from "../../src/dataset/pipeline.ts";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { readBack, withTmp } from "../dataset/_helpers.ts";

const enc = await loadHarmonyEncoding("HarmonyGptOss");
const user = (t: string) => Message.fromRoleAndContent(Role.User, t);
const analysis = (t: string) =>
  Message.fromRoleAndContent(Role.Assistant, t).withChannel("analysis");
const final = (t: string) => Message.fromRoleAndContent(Role.Assistant, t).withChannel("final");
const call = (args: string) =>
  Message.fromRoleAndContent(Role.Assistant, args).withChannel("commentary")
    .withRecipient("functions.f").withContentType("<|constrain|>json");
const result = (t: string) =>
  Message.fromAuthorAndContent(new Author(Role.Tool, "functions.f"), t).withChannel("commentary")
    .withRecipient("assistant");

interface Case {
  name: string;
  messages: Message[];
  /** The analysis texts each policy renders. */
  want: Record<AnalysisPolicy, string[]>;
}

const CASES: Case[] = [
  {
    name: "single turn",
    messages: [user("Q"), analysis("A1"), final("F1")],
    want: { "last-turn": ["A1"], keep: ["A1"], reference: [], none: [] },
  },
  {
    name: "multi-turn",
    messages: [user("Q1"), analysis("A1"), final("F1"), user("Q2"), analysis("A2"), final("F2")],
    want: { "last-turn": ["A2"], keep: ["A1", "A2"], reference: ["A2"], none: [] },
  },
  {
    name: "tool-call turn without a final",
    messages: [user("Q"), analysis("A1"), call("{}"), result("1"), analysis("A2"), call('{"x":1}')],
    want: { "last-turn": ["A1", "A2"], keep: ["A1", "A2"], reference: ["A1", "A2"], none: [] },
  },
  {
    name: "earlier tool turn, last turn a tool call",
    messages: [
      user("Q1"),
      analysis("A1"),
      call("{}"),
      result("1"),
      final("F1"),
      user("Q2"),
      analysis("A2"),
      call("{}"),
    ],
    want: { "last-turn": ["A2"], keep: ["A1", "A2"], reference: ["A1", "A2"], none: [] },
  },
  {
    name: "analysis after the last final",
    messages: [user("Q"), analysis("A1"), final("F1"), analysis("A2")],
    want: { "last-turn": ["A1", "A2"], keep: ["A1", "A2"], reference: ["A1", "A2"], none: [] },
  },
];

function analysisTexts(tokens: Uint32Array): string[] {
  const text = enc.decodeUtf8(tokens);
  return [...text.matchAll(/<\|channel\|>analysis<\|message\|>(.*?)<\|end\|>/g)].map((m) => m[1]);
}

const renderers = new Map<AnalysisPolicy, Awaited<ReturnType<typeof loadTrainingRenderer>>>();
for (const p of ANALYSIS_POLICIES) renderers.set(p, await loadTrainingRenderer({ analysis: p }));

describe("training renderer: analysis option", () => {
  for (const c of CASES) {
    for (const policy of ANALYSIS_POLICIES) {
      test(`${policy}: ${c.name} renders analysis ${JSON.stringify(c.want[policy])}`, async () => {
        const [r] = await renderers.get(policy)!([Conversation.fromMessages(c.messages)]);
        assert.ok(!(r instanceof Error));
        const res = r as RenderResult;
        assert.deepEqual(analysisTexts(res.tokens), c.want[policy]);
        const total = c.messages.filter((m) => m.channel === "analysis").length;
        assert.deepEqual(res.analysis, {
          kept: c.want[policy].length,
          dropped: total - c.want[policy].length,
        });
        const counts = selectAnalysis(c.messages, policy).counts;
        assert.deepEqual(counts, res.analysis);
      });
    }
    test(`reference is renderConversationForTraining token for token: ${c.name}`, async () => {
      const convo = Conversation.fromMessages(c.messages);
      const [r] = await renderers.get("reference")!([convo]);
      assert.deepEqual([...(r as RenderResult).tokens], [
        ...enc.renderConversationForTraining(convo),
      ]);
      const [k] = await renderers.get("keep")!([convo]);
      assert.deepEqual(
        [...(k as RenderResult).tokens],
        [...enc.renderConversationForTraining(convo, { autoDropAnalysis: false })],
      );
    });
  }

  test("the default is the reference's; keepAnalysis is an alias of keep", async () => {
    const convo = Conversation.fromMessages(CASES[0].messages);
    const [d] = await (await loadTrainingRenderer())([convo]);
    assert.deepEqual([...(d as RenderResult).tokens], [
      ...enc.renderConversationForTraining(convo),
    ]);
    const [k] = await (await loadTrainingRenderer({ keepAnalysis: true }))([convo]);
    assert.deepEqual(analysisTexts((k as RenderResult).tokens), ["A1"]);
  });

  test("a final last message ends in <|return|> under every policy", async () => {
    for (const policy of ANALYSIS_POLICIES) {
      const [r] = await renderers.get(policy)!([Conversation.fromMessages(CASES[1].messages)]);
      const t = (r as RenderResult).tokens;
      assert.equal(t[t.length - 1], 200002, policy);
    }
  });
});

const REASONING = JSON.stringify({
  messages: [
    { role: "user", content: "2+2?" },
    { role: "assistant", reasoning_content: "Add two and two.", content: "4" },
  ],
});
const SYSTEM_ONLY = JSON.stringify({
  messages: [{ role: "system", content: "Be kind." }, { role: "user", content: "hi" }],
});

describe("render-dataset --analysis", () => {
  test("last-turn is the default and trains the reasoning of a single-turn record", async () => {
    await withTmp(async (dir) => {
      const input = join(dir, "in.jsonl");
      writeFileSync(input, REASONING + "\n");
      const trained: Record<string, number> = {};
      for (const mode of [undefined, ...ANALYSIS_POLICIES]) {
        const out = join(dir, mode ?? "default");
        const host = memoryHost();
        const args = ["render-dataset", input, "--out", out, "--output-format", "jsonl"];
        if (mode) args.push("--analysis", mode);
        assert.equal(await main(args, host), 0, host.err());
        const [row] = await readBack("jsonl", out);
        trained[mode ?? "default"] = row.mask.reduce((a, b) => a + b, 0);
        if (mode === "last-turn" || mode === "keep") {
          assert.match(host.err(), /analysis 1 kept, 0 dropped/);
        }
        if (mode === "reference" || mode === "none") {
          assert.match(host.err(), /analysis 0 kept, 1 dropped/);
        }
      }
      assert.equal(trained.default, trained["last-turn"]);
      assert.equal(trained.keep, trained["last-turn"]);
      assert.equal(trained.reference, trained.none);
      assert.ok(trained["last-turn"] > trained.reference);
    });
  });

  test("records with no trained token are written, counted and warned; --skip-untrained leaves them out", async () => {
    await withTmp(async (dir) => {
      const input = join(dir, "in.jsonl");
      writeFileSync(input, [REASONING, SYSTEM_ONLY, REASONING].join("\n") + "\n");
      const host = memoryHost();
      const stats = join(dir, "stats.json");
      const base = ["render-dataset", input, "--output-format", "jsonl", "--stats", stats];
      assert.equal(await main([...base, "--out", join(dir, "a")], host), 0);
      assert.match(host.err(), /warning: 1 record has no trained token/);
      assert.equal((await readBack("jsonl", join(dir, "a"))).length, 3);
      const s1 = JSON.parse(readFileSync(stats, "utf8"));
      assert.equal(s1.records.untrained, 1);
      assert.equal(s1.records.written, 3);
      assert.deepEqual(s1.analysis, { policy: "last-turn", kept: 2, dropped: 0 });

      const h2 = memoryHost();
      assert.equal(await main([...base, "--out", join(dir, "b"), "--skip-untrained"], h2), 0);
      assert.match(h2.err(), /2 written, 0 failed, 3 read, .*1 skipped \(1 untrained\)/);
      assert.doesNotMatch(h2.err(), /warning/);
      assert.equal((await readBack("jsonl", join(dir, "b"))).length, 2);
      const s2 = JSON.parse(readFileSync(stats, "utf8"));
      assert.equal(s2.records.skipped_untrained, 1);
      assert.equal(s2.records.skipped, 1);
    });
  });

  test("--keep-analysis is --analysis keep; it contradicts --analysis none", async () => {
    await withTmp(async (dir) => {
      const input = join(dir, "in.jsonl");
      writeFileSync(input, REASONING + "\n");
      const host = memoryHost();
      const args = ["render-dataset", input, "--out", join(dir, "o"), "--keep-analysis"];
      assert.equal(await main([...args, "--analysis", "none"], host), 2);
      assert.match(host.err(), /--keep-analysis contradicts --analysis none/);
    });
  });
});
