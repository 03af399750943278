import { test } from "node:test";
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { createEngine } from "../../src/engine/mod.ts";
import { Message } from "../../src/chat/message.ts";
import { gpuSkip, requireGpu } from "./gpu_env.ts";

const input =
  '{"text":"hi"}\nnot json\n\n{"text":5}\n{"text":"<|end|>"}\n{"text":"<|start|>user"}\n';

test(
  "encode --jsonl --backend gpu prints what the CPU path prints",
  { skip: gpuSkip },
  async () => {
    for (const special of ["none", "all"]) {
      const cpu = memoryHost(input), gpu = memoryHost(input);
      const args = ["encode", "--jsonl", "--allowed-special", special];
      assert.equal(await main(args, cpu), 1);
      assert.equal(await main([...args, "--backend", "gpu"], gpu), 1);
      assert.equal(gpu.out(), cpu.out());
    }
    const one = memoryHost("hello world");
    assert.equal(await main(["encode", "--backend", "gpu"], one), 0);
    assert.equal(one.out(), "[24912,2375]\n");
  },
);

test("bench --backend gpu reports the GPU's dispatches and bytes moved per task", {
  skip: gpuSkip,
}, async () => {
  const host = memoryHost();
  const args = ["bench", "--backend", "gpu", "--tasks", "encode,render,parse", "--limit", "60"];
  assert.equal(await main([...args, "--repeats", "1", "--json", "-"], host), 0, host.err());
  const rows = host.out().trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => [r.backend, r.task]), [["gpu", "encode"], ["gpu", "render"], [
    "gpu",
    "parse",
  ]]);
  assert.ok(rows.every((r) => r.gpu.dispatches > 0 && r.gpu.bytesMoved > 0 && r.tokens > 0));
  // The GPU backend reports the time its host spends planning an encode.
  assert.ok(rows[0].hostMsPerMB > 0 && rows[0].hostMsPerMB <= rows[0].wallMsPerMB);
});

test("engine.renderBatch on the GPU equals the CPU engine's", { skip: gpuSkip }, async () => {
  const gpu = await createEngine({ backend: "gpu", gpu: requireGpu() });
  const cpu = await createEngine({ backend: "cpu" });
  try {
    const convs = [
      [
        Message.fromRoleAndContent("user", "What is 2+2?"),
        Message.fromRoleAndContent("assistant", "4"),
      ],
      [Message.fromRoleAndContent("user", "日本語 😀 <|end|> text")],
    ];
    const a = await gpu.renderBatch(convs, { mode: "completion" });
    const b = await cpu.renderBatch(convs, { mode: "completion" });
    assert.deepEqual(a, b);
    assert.ok(a[0].tokens!.length > 5);
    assert.equal(gpu.info().backends.includes("gpu"), true);
  } finally {
    gpu.destroy();
    cpu.destroy();
  }
});
