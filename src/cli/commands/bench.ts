/**
 * `harmony bench`: encode, render and parse throughput of the CPU and GPU backends on the bundled
 * sample conversations (`examples/sample.jsonl`), with the adapter's name.
 *
 * @module
 */

import type { Command } from "../commands.ts";
import { UsageError } from "../args.ts";
import { type Engine, openBackend, ORDINARY } from "../../engine/mod.ts";
import { conversationFromJson } from "../../chat/json.ts";
import type { Conversation } from "../../chat/message.ts";
import { recordToHarmonyJson } from "../../dataset/mapping.ts";
import { loadHarmonyEncoding } from "../../encoding/mod.ts";

interface Row {
  backend: string;
  adapter: string;
  task: string;
  items: number;
  tokens: number;
  ms: number;
  tokensPerSecond: number;
  dispatches: number;
  bytesMoved: number;
}

async function measure(
  engine: Engine,
  task: string,
  adapter: string,
  run: () => unknown,
  outputTokens?: number,
): Promise<Row> {
  await run(); // warm-up: pipelines, tables, caches
  const rounds = 3;
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) await run();
  const ms = (performance.now() - t0) / rounds;
  const s = engine.lastStats();
  const tokens = outputTokens ?? s.tokens;
  return {
    backend: s.backend,
    adapter,
    task,
    items: s.items,
    tokens,
    ms: Math.round(ms * 100) / 100,
    tokensPerSecond: Math.round(tokens / (ms / 1000)),
    dispatches: s.dispatches,
    bytesMoved: s.bytesMoved,
  };
}

/** The `bench` command. */
export const command: Command = {
  spec: {
    name: "bench",
    summary:
      "Measure encode, render and parse throughput of the CPU and GPU backends on sample data",
    description:
      "On the conversations of examples/sample.jsonl (tool calls, math, multilingual, chat), each\n" +
      "backend encodes every message text as one batch, renders every conversation as one batch\n" +
      "(training mode), and parses the rendered conversations as a batch of completions (3 timed\n" +
      "rounds after a warm-up). Token counts are output tokens. GPU figures include upload and\n" +
      "read-back. Software adapters (llvmpipe, lavapipe) are much slower than the CPU path; the\n" +
      "engine's auto mode never picks them.",
    options: [
      {
        name: "backend",
        type: "string",
        choices: ["cpu", "gpu", "both"],
        default: "both",
        description: "Backends to measure",
      },
      { name: "json", type: "boolean", description: "Print one JSON object per measurement" },
    ],
    examples: ["harmony bench", "harmony bench --backend gpu --json"],
  },
  async run(args, host) {
    const which = String(args.options.backend);
    if (!["cpu", "gpu", "both"].includes(which)) {
      throw new UsageError(`Cannot bench: unknown backend "${which}"`);
    }
    const { readFile } = await import("node:fs/promises");
    const text = new TextDecoder().decode(
      await readFile(new URL("../../../examples/sample.jsonl", import.meta.url)),
    );
    // The sample's records are OpenAI-chat shaped (tools, tool calls, tool results): map them
    // to harmony conversations as render-dataset does.
    const conversations: Conversation[] = [];
    for (const line of text.split("\n")) {
      if (line.trim()) {
        conversations.push(conversationFromJson(recordToHarmonyJson(JSON.parse(line))));
      }
    }
    const texts: string[] = [];
    for (const c of conversations) {
      for (const m of c.messages) {
        for (const part of m.content) if (part.type === "text") texts.push(part.text);
      }
    }
    const encoding = await loadHarmonyEncoding("HarmonyGptOss");
    const completions = conversations.map((c) => encoding.renderConversation(c));
    let renderedTokens = 0, parsedTokens = 0;
    for (const c of conversations) {
      renderedTokens += encoding.renderConversationForTraining(c).length;
    }
    for (const c of completions) parsedTokens += c.length;
    const rows: Row[] = [];
    for (const backend of which === "both" ? ["cpu", "gpu"] as const : [which as "cpu" | "gpu"]) {
      let engine: Engine;
      try {
        engine = await openBackend(backend);
      } catch (e) {
        await host.stderr.write(
          `harmony bench: ${backend}: ${e instanceof Error ? e.message : String(e)}\n`,
        );
        continue;
      }
      try {
        const adapter = engine.info().adapter ?? "cpu";
        rows.push(
          await measure(
            engine,
            "encode",
            adapter,
            () => engine.encodeBatch(texts, ORDINARY),
          ),
        );
        rows.push(
          await measure(
            engine,
            "render",
            adapter,
            () => engine.renderBatch(conversations, { mode: "training" }),
            renderedTokens,
          ),
        );
        rows.push(
          await measure(
            engine,
            "parse",
            adapter,
            () => engine.parseBatch(completions, { role: null }),
            parsedTokens,
          ),
        );
      } finally {
        engine.destroy();
      }
    }
    if (args.options.json) {
      for (const r of rows) await host.stdout.write(JSON.stringify(r) + "\n");
    } else {
      await host.stdout.write(
        `${conversations.length} conversations, ${texts.length} texts from examples/sample.jsonl\n`,
      );
      for (const r of rows) {
        await host.stdout.write(
          `${r.backend.padEnd(4)} ${r.task.padEnd(7)} ${
            String(r.tokensPerSecond).padStart(10)
          } tokens/s  ` +
            `${r.ms} ms/batch  ${r.tokens} tokens  ${r.dispatches} dispatches  ${r.bytesMoved} bytes moved  ` +
            `(${r.adapter})\n`,
        );
      }
    }
    return rows.length > 0 ? 0 : 1;
  },
};
