// No silent drops: dropped spans and `recover: "all"` repairs.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { analyzeCompletion } from "../../src/evals/completion.ts";
import { salvageCompletion } from "../../src/evals/salvage.ts";
import { parseMessagesFromCompletionTokens } from "../../src/parse/mod.ts";
import { completionsOf, conversations, enc, encoding, sp, toolConversations } from "./_helpers.ts";

type Msg = [string | null, string | null, string];
const view = (r: { messages: { channel?: string; recipient?: string; content: unknown[] }[] }) =>
  r.messages.map((m): Msg => [
    m.channel ?? null,
    m.recipient ?? null,
    (m.content[0] as { text: string }).text,
  ]);

interface Case {
  name: string;
  text: string;
  role?: "assistant" | null;
  first: { messages: Msg[]; dropped: [number, number, string][] };
  all: {
    messages: Msg[];
    repairs: [string, number, number][];
    dropped?: [number, number, string][];
  };
}

const A = "<|channel|>analysis<|message|>think<|end|>";
const CASES: Case[] = [
  {
    name: "stray <|return|> after <|end|>",
    text:
      "<|channel|>final<|message|>4<|end|><|return|><|start|>assistant<|channel|>final<|message|>5<|return|>",
    first: {
      messages: [["final", null, "4"], ["final", null, "5"]],
      dropped: [[5, 6, "unexpected-token"]],
    },
    all: {
      messages: [["final", null, "4"], ["final", null, "5"]],
      repairs: [["stray-stop", 5, 0]],
    },
  },
  {
    name: "a later header without <|message|> (the reference drops it without an error)",
    text: A +
      "<|start|>assistant<|channel|>final 42<|end|><|start|>assistant<|channel|>final<|message|>x<|return|>",
    first: {
      messages: [["analysis", null, "think"], ["final", null, "x"]],
      dropped: [[5, 12, "stop-in-header"]],
    },
    all: {
      messages: [["analysis", null, "think"], ["final", null, "42"], ["final", null, "x"]],
      repairs: [["missing-message", 11, 1]],
    },
  },
  {
    name: "a missing <|start|> before <|channel|>",
    text: A + "<|channel|>final<|message|>x<|return|>",
    first: { messages: [["analysis", null, "think"]], dropped: [[5, 10, "unexpected-token"]] },
    all: {
      messages: [["analysis", null, "think"], ["final", null, "x"]],
      repairs: [["missing-start", 5, 1]],
    },
  },
  {
    name: "a missing <|start|> before the role word",
    text: A + "assistant<|channel|>final<|message|>x<|return|>",
    first: { messages: [["analysis", null, "think"]], dropped: [[5, 11, "unexpected-token"]] },
    all: {
      messages: [["analysis", null, "think"], ["final", null, "x"]],
      repairs: [["missing-start", 5, 1]],
    },
  },
  {
    name: "text before the first header (role assistant)",
    text: "Sure!<|channel|>final<|message|>42<|return|>",
    first: { messages: [["final", "Sure!", "42"]], dropped: [] },
    all: {
      messages: [[null, null, "Sure!"], ["final", null, "42"]],
      repairs: [["text-before-header", 0, 0]],
    },
  },
  {
    name: "the stream ends inside a later header",
    text: A + "<|start|>assistant<|channel|>fin",
    first: { messages: [["analysis", null, "think"]], dropped: [[5, 9, "eos-in-header"]] },
    all: {
      messages: [["analysis", null, "think"], ["fin", null, ""]],
      repairs: [["eos-in-header", 9, 1]],
    },
  },
  {
    name: "header leftovers are dropped up to the next <|start|> in both modes",
    text: A +
      "<|start|>assistant<|channel|>final a b c<|message|>no<|end|><|start|>assistant<|channel|>final<|message|>y<|return|>",
    first: {
      messages: [["analysis", null, "think"], ["final", null, "y"]],
      dropped: [[5, 15, "header-leftovers"]],
    },
    all: {
      messages: [["analysis", null, "think"], ["final", null, "y"]],
      repairs: [],
      dropped: [[5, 15, "header-leftovers"]],
    },
  },
  {
    name: "text before the first <|start|> (role none)",
    role: null,
    text: "oops<|start|>assistant<|channel|>final<|message|>z<|return|>",
    first: { messages: [["final", null, "z"]], dropped: [[0, 1, "unexpected-token"]] },
    all: {
      messages: [[null, null, "oops"], ["final", null, "z"]],
      repairs: [["text-before-header", 0, 0]],
    },
  },
];

describe("salvageCompletion()", () => {
  for (const c of CASES) {
    test(`${c.name}: dropped spans, and recover all repairs`, () => {
      const ids = enc(c.text);
      const role = c.role === undefined ? "assistant" : c.role;
      const first = salvageCompletion(encoding, ids, role);
      assert.deepEqual(view(first), c.first.messages);
      assert.deepEqual(first.dropped.map((d) => [d.from, d.to, d.reason]), c.first.dropped);
      assert.deepEqual(first.repairs, []);
      const all = salvageCompletion(encoding, ids, role, { recover: "all" });
      assert.deepEqual(view(all), c.all.messages);
      assert.deepEqual(all.repairs.map((r) => [r.repair, r.at, r.message]), c.all.repairs);
      assert.deepEqual(all.dropped.map((d) => [d.from, d.to, d.reason]), c.all.dropped ?? []);
    });
  }

  test("without recover all, messages are the non-strict reference parse when it raises nothing", () => {
    const built = [
      ...conversations().slice(0, 8).flatMap(completionsOf),
      ...toolConversations().slice(0, 4).flatMap(completionsOf),
    ];
    let checked = 0;
    for (const b of built) {
      // Make the second header lose its <|message|>: the reference drops it silently.
      const at = b.tokens.indexOf(sp("<|message|>"), b.tokens.indexOf(sp("<|start|>")));
      if (at < 0) continue;
      const ids = [...b.tokens.slice(0, at), ...b.tokens.slice(at + 1)];
      const ref = parseMessagesFromCompletionTokens(encoding, ids, "assistant", { strict: false });
      const got = salvageCompletion(encoding, ids, "assistant");
      assert.deepEqual(got.messages, ref);
      assert.equal(got.error, undefined);
      // The dropped span covers the broken message: from its <|start|> to its stop token.
      const start = ids.lastIndexOf(sp("<|start|>"), at);
      assert.equal(got.dropped.length, 1);
      assert.equal(got.dropped[0].from, start);
      assert.equal(got.dropped[0].reason, "stop-in-header");
      checked++;
    }
    assert.ok(checked >= 5, `only ${checked} completions checked`);
  });
});

describe("analyzeCompletion() with dropped spans", () => {
  test("a strict-ok completion has no dropped field; a silent drop makes it listed", () => {
    const ok = analyzeCompletion(
      encoding,
      enc(A + "<|start|>assistant<|channel|>final<|message|>4<|return|>"),
    );
    assert.equal(ok.dropped, undefined);
    const ids = enc(A + "<|start|>assistant<|channel|>final 4<|return|>");
    const bad = analyzeCompletion(encoding, ids);
    assert.equal(bad.status, "recovered");
    assert.deepEqual(bad.dropped, [{ from: 5, to: ids.length, reason: "stop-in-header" }]);
    assert.equal(bad.final, null);
  });

  test("recover all: status recovered when nothing is dropped, repairs listed", () => {
    const ids = enc("<|channel|>final<|message|>4<|end|><|return|>");
    const first = analyzeCompletion(encoding, ids);
    assert.equal(first.status, "error");
    assert.deepEqual(first.dropped, [{ from: 5, to: 6, reason: "unexpected-token" }]);
    const all = analyzeCompletion(encoding, ids, { recover: "all" });
    assert.equal(all.status, "recovered");
    assert.equal(all.dropped, undefined);
    assert.deepEqual(all.repairs, [{ repair: "stray-stop", at: 5, message: 0 }]);
    assert.match(all.error!, /^unexpected-token: /);
  });
});

describe("parse-dataset --recover", () => {
  test("dropped spans on the output line and in --stats; --recover all repairs them", async () => {
    const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { main } = await import("../../src/cli/main.ts");
    const { memoryHost } = await import("../../src/cli/host.ts");
    // Strict-failing cases (the later header without <|message|> is strict-ok in the reference:
    // the strict parser keeps stop tokens inside a header).
    const PICK = [0, 2, 3, 5];
    const dir = mkdtempSync(join(tmpdir(), "harmony-recover-"));
    try {
      const input = join(dir, "in.jsonl");
      writeFileSync(
        input,
        PICK.map((k) => JSON.stringify({ id: k, tokens: enc(CASES[k].text) })).join("\n") + "\n",
      );
      const runCli = async (extra: string[]) => {
        const host = memoryHost("", {});
        const out = join(dir, "out.jsonl");
        const stats = join(dir, "stats.json");
        const code = await main(
          ["parse-dataset", input, "--out", out, "--stats", stats, "--backend", "cpu", ...extra],
          host,
        );
        assert.equal(code, 0, host.err());
        return {
          rows: readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l)),
          stats: JSON.parse(readFileSync(stats, "utf8")),
        };
      };
      const first = await runCli([]);
      first.rows.forEach((r, k) => {
        assert.deepEqual(
          r.dropped.map((
            d: { from: number; to: number; reason: string },
          ) => [d.from, d.to, d.reason]),
          CASES[PICK[k]].first.dropped,
        );
        assert.equal(r.repairs, undefined);
      });
      assert.equal(first.stats.dropped.spans, 4);
      assert.equal(first.stats.dropped.samples, 4);
      assert.equal(first.stats.dropped.reasons["unexpected-token"], 3);
      const all = await runCli(["--recover", "all"]);
      all.rows.forEach((r, k) => {
        assert.equal(r.dropped, undefined);
        assert.equal(r.status, "recovered");
        assert.deepEqual(
          r.repairs.map((x: { repair: string }) => x.repair),
          CASES[PICK[k]].all.repairs.map((x) => x[0]),
        );
      });
      assert.equal(all.stats.dropped.spans, 0);
      assert.equal(all.stats.repairs["missing-start"], 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
