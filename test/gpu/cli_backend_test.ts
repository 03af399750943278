// `render` and `parse` give the same output lines (errors included) on every backend.
import { test } from "node:test";
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import { gpuSkip } from "./gpu_env.ts";

const conversations = [
  { messages: [{ role: "user", content: "What is 2+2? <|end|> (literal text)" }] },
  {
    messages: [
      { role: "developer", content: [{ type: "developer_content", instructions: "Be brief." }] },
      { role: "user", content: "Weather in 東京?" },
      {
        role: "assistant",
        channel: "commentary",
        recipient: "functions.get_weather",
        content_type: "<|constrain|>json",
        content: '{"location":"Tokyo"}',
      },
      { role: "tool", name: "functions.get_weather", recipient: "assistant", content: "晴れ" },
      { role: "assistant", channel: "analysis", content: "It is sunny." },
      { role: "assistant", channel: "final", content: "Sunny ☀️" },
    ],
  },
  { messages: [{ role: "tool", content: "a tool message without a name is an error" }] },
  { messages: [{ role: "wizard", content: "unknown role" }] },
];
const renderInput = [...conversations.map((c) => JSON.stringify(c)), "not json", ""].join("\n");

const tok = await loadTokenizer();
const completions = [
  "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final<|message|>4<|return|>",
  "<|channel|>commentary to=functions.f <|constrain|>json<|message|>{}<|call|>",
  "<|channel|>final<|message|>truncated",
  "<|channel|>final<|end|>",
  "junk before<|start|>assistant<|message|>x<|end|>",
].map((t) => JSON.stringify({ tokens: [...tok.encode(t, { allowedSpecial: "all" })] }));
const parseInput = [...completions, '{"tokens":[1,"x"]}', ""].join("\n");

async function outputs(args: string[], input: string, backends: string[]) {
  const outs: string[] = [];
  for (const backend of backends) {
    const host = memoryHost(input);
    await main([...args, "--backend", backend], host);
    outs.push(host.out());
  }
  return outs;
}

for (
  const [label, backends, skip] of [
    ["auto (the CPU engine here)", ["cpu", "auto"], false],
    ["gpu", ["cpu", "gpu"], gpuSkip],
  ] as const
) {
  test(`render --backend ${label} prints what the CPU path prints`, { skip }, async () => {
    for (const mode of ["completion", "conversation", "training"]) {
      const [cpu, other] = await outputs(["render", "--mode", mode], renderInput, [...backends]);
      assert.equal(other, cpu, mode);
      const lines = cpu.trimEnd().split("\n");
      assert.equal(lines.length, 5);
      assert.match(lines[2], /^\{"error":"line 3: /);
      assert.match(lines[4], /^\{"error":"line 5: Cannot parse JSON/);
    }
  });

  test(`parse --backend ${label} prints what the CPU path prints`, { skip }, async () => {
    for (const flags of [["--role", "assistant"], ["--role", "assistant", "--no-strict"]]) {
      const [cpu, other] = await outputs(["parse", ...flags], parseInput, [...backends]);
      assert.equal(other, cpu, flags.join(" "));
      const lines = cpu.trimEnd().split("\n");
      assert.equal(lines.length, 6);
      assert.match(lines[5], /^\{"error":"line 6: Cannot read tokens: value at index 1/);
    }
  });
}
