import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CpuBackend,
  createEngine,
  GpuUnavailableError,
  openBackend,
  ORDINARY,
} from "../../src/engine/mod.ts";
import { buildMessageTable, tableMessages } from "../../src/engine/message_table.ts";
import { parseBatchCpu } from "../../src/engine/cpu_backend.ts";
import { buildSpecialTables } from "../../src/gpu/tables.ts";
import { scanTokensCpu } from "../../src/gpu/token_scan.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import { harmonySpecialTokens } from "../../src/tokenizer/special_tokens.ts";
import { loadVocabulary } from "../../src/tokenizer/vocabulary.ts";
import { harmonySamples } from "./samples.ts";

const noAdapter = { requestAdapter: () => Promise.resolve(null) } as unknown as GPU;

test("createEngine({ backend: 'cpu' }) encodes, parses and reports the CPU backend", async () => {
  const engine = await createEngine({ backend: "cpu" });
  const b = await engine.encodeBatch(["hello world", "<|end|>"], { allowedSpecial: "all" });
  assert.deepEqual([...b.get(0)], [24912, 2375]);
  assert.deepEqual([...b.get(1)], [200007]);
  assert.deepEqual(engine.info().backends, ["cpu"]);
  assert.deepEqual((await engine.encodeBatch(["<|end|>"], ORDINARY)).get(0).length, 5);
  assert.equal(engine.lastStats().backend, "cpu");
  assert.equal(engine.describe(), "cpu");
  engine.destroy();
});

test("createEngine({ backend: 'gpu' }) throws GpuUnavailableError when there is no adapter", async () => {
  await assert.rejects(createEngine({ backend: "gpu", gpu: noAdapter }), (e: unknown) => {
    assert.ok(e instanceof GpuUnavailableError);
    assert.match(e.message, /^Cannot use the GPU: no WebGPU adapter was found/);
    return true;
  });
});

test("openBackend('auto') falls back to the CPU without an adapter and says why", async () => {
  const engine = await openBackend("auto", { gpu: noAdapter, minGpuBatchBytes: 4 });
  const b = await engine.encodeBatch(["hello world"]);
  assert.deepEqual([...b.get(0)], [24912, 2375]);
  assert.deepEqual(engine.info().backends, ["cpu"]);
  assert.match(engine.info().reason ?? "", /no WebGPU adapter/);
  assert.equal(engine.describe(), "cpu");
  engine.destroy();
});

test("openBackend('auto') does not start the GPU runtime while every batch stays on the CPU", async () => {
  let asked = 0;
  const counting = {
    requestAdapter: () => {
      asked++;
      return Promise.resolve(null);
    },
  } as unknown as GPU;
  const engine = await openBackend("auto", { gpu: counting, minGpuBatchBytes: 1000 });
  // Small batches come back synchronously from the CPU backend: no Promise, no GPU.
  const small = engine.encodeBatch(["hi"], ORDINARY);
  assert.ok(!(small instanceof Promise));
  assert.ok(!(engine.parseBatch([[200006, 1428, 200008, 3686, 200007]]) instanceof Promise));
  assert.equal(asked, 0);
  assert.match(engine.info().reason ?? "", /no batch big enough/);
  assert.deepEqual(engine.info().batches, { cpu: 2, gpu: 0 });
  // The first batch big enough opens it (here: no adapter, so the CPU goes on).
  await engine.encodeBatch(["x".repeat(1000)], ORDINARY);
  await engine.encodeBatch(["x".repeat(1000)], ORDINARY);
  assert.equal(asked, 1);
  assert.deepEqual(engine.info().batches, { cpu: 4, gpu: 0 });
  engine.destroy();
});

test("the CPU backend and a CPU engine return results synchronously (no Promise)", async () => {
  const cpu = await CpuBackend.create();
  assert.ok(!(cpu.encodeBatch(["a"]) instanceof Promise));
  assert.ok(!(cpu.parseBatch([[200006]]) instanceof Promise));
  const engine = await openBackend("cpu");
  assert.ok(!(engine.encodeBatch(["a"]) instanceof Promise));
  engine.destroy();
});

test("openBackend rejects an unknown kind with a TypeError", async () => {
  await assert.rejects(openBackend("tpu" as never), TypeError);
});

test("encodeBatch reports a disallowed special token per text and goes on", async () => {
  const engine = await createEngine({ backend: "cpu" });
  const b = await engine.encodeBatch(["ok", "bad <|start|>", "fine"]);
  assert.equal(b.errors.size, 1);
  assert.ok(b.errors.get(1) instanceof SyntaxError);
  assert.match(b.errors.get(1)!.message, /disallowed special token <\|start\|> at offset 4/);
  assert.equal(b.get(1).length, 0);
  assert.equal(b.get(2).length, 1);
  assert.throws(() => b.get(3), RangeError);
  engine.destroy();
});

test("the CPU message table gives the parser's messages for regular completions", async () => {
  const tok = await loadTokenizer();
  const completions = harmonySamples().map((t) => tok.encode(t, { allowedSpecial: "all" }));
  const offsets = new Uint32Array(completions.length + 1);
  for (let i = 0; i < completions.length; i++) offsets[i + 1] = offsets[i] + completions[i].length;
  const all = new Uint32Array(offsets[completions.length]);
  completions.forEach((c, i) => all.set(c, offsets[i]));
  const scan = scanTokensCpu(
    await loadVocabulary(),
    buildSpecialTables(harmonySpecialTokens()),
    all,
  );
  let regular = 0;
  for (const role of [undefined, "assistant" as const]) {
    const table = buildMessageTable(all, offsets, scan, role);
    const want = parseBatchCpu(tok, completions, { role });
    for (let c = 0; c < completions.length; c++) {
      const got = tableMessages(table, c, role);
      if (!got) continue;
      regular++;
      assert.deepEqual(got, want[c].messages, `completion ${c}`);
    }
  }
  assert.ok(regular > 10, `only ${regular} regular completions`);
});

test("a completion with text after its last stop token is irregular (left to the parser)", async () => {
  const tok = await loadTokenizer();
  const ids = tok.encode("<|start|>user<|message|>hi<|end|>junk", { allowedSpecial: "all" });
  const scan = scanTokensCpu(
    await loadVocabulary(),
    buildSpecialTables(harmonySpecialTokens()),
    ids,
  );
  const table = buildMessageTable(ids, new Uint32Array([0, ids.length]), scan);
  assert.equal(table.regular[0], 0);
  assert.equal(tableMessages(table, 0), undefined);
});
