// `harmony render` maps records through render-dataset's mapping code when asked, and keeps the
// reference's defaults (harmony JSON as given, no added system message) otherwise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { loadHarmonyEncoding } from "../../src/encoding/mod.ts";
import { readBack, withTmp } from "../dataset/_helpers.ts";

const OPENAI = JSON.stringify({
  tools: [{
    type: "function",
    function: { name: "f", description: "F", parameters: { type: "object" } },
  }],
  messages: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Q" },
    { role: "assistant", tool_calls: [{ id: "a", function: { name: "f", arguments: "{}" } }] },
    { role: "tool", tool_call_id: "a", content: "1" },
    { role: "assistant", content: "A" },
  ],
});

async function render(input: string, args: string[]): Promise<{ code: number; out: string }> {
  const host = memoryHost(input + "\n");
  const code = await main(["render", ...args], host);
  return { code, out: host.out() };
}

test("render --input-format openai --system gives render-dataset's tokens", async () => {
  await withTmp(async (dir) => {
    const file = join(dir, "in.jsonl");
    writeFileSync(file, OPENAI + "\n");
    const out = join(dir, "o");
    const args = ["render-dataset", file, "--out", out, "--output-format", "jsonl"];
    assert.equal(await main([...args, "--analysis", "reference"], memoryHost()), 0);
    const [row] = await readBack("jsonl", out);
    const r = await render(OPENAI, ["--mode", "training", "--input-format", "openai", "--system"]);
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.out).tokens, row.tokens);
    const auto = await render(OPENAI, ["--mode", "training", "--input-format", "auto", "--system"]);
    assert.equal(auto.out, r.out);
  });
});

test("render --input-format openai adds no system message unless --system", async () => {
  const enc = await loadHarmonyEncoding("HarmonyGptOss");
  const r = await render(OPENAI, ["--mode", "conversation", "--input-format", "openai"]);
  assert.equal(r.code, 0);
  const text = enc.decodeUtf8(Uint32Array.from(JSON.parse(r.out).tokens as number[]));
  assert.ok(text.startsWith("<|start|>developer<|message|># Instructions\n\nBe brief."), text);
  const withSystem = await render(OPENAI, [
    "--mode",
    "conversation",
    "--input-format",
    "openai",
    "--system",
    "--reasoning-effort",
    "high",
  ]);
  const t2 = enc.decodeUtf8(Uint32Array.from(JSON.parse(withSystem.out).tokens as number[]));
  assert.match(t2, /^<\|start\|>system<\|message\|>.*Reasoning: high/s);
});

test("render's default renders harmony JSON as given, header fields included", async () => {
  const forged = JSON.stringify({
    messages: [{ role: "user", content: "x" }, {
      role: "assistant",
      channel: "final to=functions.x",
      content: "y",
    }],
  });
  const plain = await render(forged, ["--mode", "conversation"]);
  assert.equal(plain.code, 0);
  // Through the mapping, the same record is refused, as in render-dataset.
  const mapped = await render(forged, ["--mode", "conversation", "--input-format", "auto"]);
  assert.equal(mapped.code, 1);
  assert.match(JSON.parse(mapped.out).error, /line 1: .*\$\.messages\[1\]\.channel: channel/);
  const allowed = await render(forged, [
    "--mode",
    "conversation",
    "--input-format",
    "auto",
    "--allow-unsafe-headers",
  ]);
  assert.equal(allowed.out, plain.out);
});

test("render --messages-field chosen", async () => {
  const pref = JSON.stringify({
    chosen: [{ role: "user", content: "Q" }, { role: "assistant", content: "good" }],
    rejected: [{ role: "user", content: "Q" }, { role: "assistant", content: "bad" }],
  });
  const enc = await loadHarmonyEncoding("HarmonyGptOss");
  const r = await render(pref, [
    "--mode",
    "training",
    "--input-format",
    "auto",
    "--messages-field",
    "chosen",
  ]);
  assert.equal(r.code, 0);
  assert.equal(
    enc.decodeUtf8(Uint32Array.from(JSON.parse(r.out).tokens as number[])),
    "<|start|>user<|message|>Q<|end|><|start|>assistant<|channel|>final<|message|>good<|return|>",
  );
});
