/**
 * `harmony bench`: encode and parse throughput of the CPU and GPU backends on the bundled sample
 * conversations (`examples/sample.jsonl`), with the adapter's name.
 *
 * @module
 */

import type { Command } from "../commands.ts";
import { UsageError } from "../args.ts";
import { createEngine, type Engine } from "../../engine/mod.ts";
import { loadTokenizer } from "../../tokenizer/mod.ts";

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
  run: () => Promise<unknown>,
): Promise<Row> {
  await run(); // warm-up: pipelines, tables, caches
  const rounds = 3;
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) await run();
  const ms = (performance.now() - t0) / rounds;
  const s = engine.lastStats();
  return {
    backend: s.backend,
    adapter,
    task,
    items: s.items,
    tokens: s.tokens,
    ms: Math.round(ms * 100) / 100,
    tokensPerSecond: Math.round(s.tokens / (ms / 1000)),
    dispatches: s.dispatches,
    bytesMoved: s.bytesMoved,
  };
}

/** The `bench` command. */
export const command: Command = {
  spec: {
    name: "bench",
    summary: "Measure encode and parse throughput of the CPU and GPU backends on sample data",
    description: "Encodes every message of examples/sample.jsonl as one batch, and parses the\n" +
      "rendered messages' tokens as a batch of completions, on each backend (3 timed rounds after a\n" +
      "warm-up). GPU figures include upload and read-back. Software adapters (llvmpipe, lavapipe)\n" +
      "are much slower than the CPU path; the engine's auto mode never picks them.",
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
    const texts: string[] = [];
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      for (
        const m of (JSON.parse(line) as { messages: Array<{ role: string; content: string }> })
          .messages
      ) {
        texts.push(m.content);
      }
    }
    const tok = await loadTokenizer();
    const completions = texts.map((t) =>
      tok.encode(`<|channel|>final<|message|>${t}<|return|>`, { allowedSpecial: "all" })
    );
    const rows: Row[] = [];
    for (const backend of which === "both" ? ["cpu", "gpu"] as const : [which as "cpu" | "gpu"]) {
      let engine: Engine;
      try {
        engine = await createEngine({ backend });
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
            () => engine.encodeBatch(texts, { disallowedSpecial: [] }),
          ),
        );
        rows.push(
          await measure(
            engine,
            "parse",
            adapter,
            () => engine.parseBatch(completions, { role: "assistant" }),
          ),
        );
      } finally {
        engine.destroy();
      }
    }
    if (args.options.json) {
      for (const r of rows) await host.stdout.write(JSON.stringify(r) + "\n");
    } else {
      await host.stdout.write(`${texts.length} texts from examples/sample.jsonl\n`);
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
