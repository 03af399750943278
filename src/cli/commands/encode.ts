/**
 * `harmony encode`: text → token ids.
 *
 * @module
 */

import type { Command } from "../commands.ts";
import { parseJsonObject, readAll, runJsonl } from "../jsonl.ts";
import { loadTokenizer } from "../../tokenizer/mod.ts";
import type { EncodeOptions, Tokenizer } from "../../tokenizer/mod.ts";
import { readLines } from "../../io/lines.ts";
import { LineWriter } from "../output.ts";
import type { Host } from "../host.ts";

function encoder(tok: Tokenizer, allowed: string): (text: string) => Uint32Array {
  return allowed === "all"
    ? (text) => tok.encode(text, { allowedSpecial: "all" })
    : (text) => tok.encodeOrdinary(text);
}

/** The `encode` command. */
export const command: Command = {
  spec: {
    name: "encode",
    summary: "Encode text on stdin into o200k_harmony token ids (a JSON array)",
    description:
      'Without --jsonl, all of stdin is one text. With --jsonl, each line {"text": "..."} gives one\n' +
      'line {"tokens": [...]}; a bad line gives {"error": "line N: ..."} and the rest go on.',
    options: [
      {
        name: "allowed-special",
        type: "string",
        choices: ["none", "all"],
        default: "none",
        description:
          "none: special-token text is ordinary text (encode_ordinary); all: special-token literals become their ids",
      },
      { name: "jsonl", type: "boolean", description: "Read and write JSON lines" },
      {
        name: "backend",
        type: "string",
        choices: ["cpu", "auto", "gpu"],
        default: "cpu",
        description:
          "cpu: the CPU tokenizer; gpu: batches of 4096 lines on a WebGPU device; auto: the GPU only when it is a hardware one",
      },
    ],
    examples: [
      "echo -n 'hello world' | harmony encode",
      `echo '{"text":"<|start|>user<|message|>hi"}' | harmony encode --jsonl --allowed-special all`,
    ],
  },
  async run(args, host) {
    const backend = String(args.options.backend ?? "cpu");
    if (backend !== "cpu") {
      return await runWithEngine(host, backend as "auto" | "gpu", {
        jsonl: Boolean(args.options.jsonl),
        options: String(args.options["allowed-special"]) === "all"
          ? { allowedSpecial: "all" }
          : { disallowedSpecial: [] },
      });
    }
    const tok = await loadTokenizer();
    const encode = encoder(tok, String(args.options["allowed-special"]));
    if (!args.options.jsonl) {
      const text = new TextDecoder().decode(await readAll(host));
      await host.stdout.write(`[${encode(text).join(",")}]\n`);
      return 0;
    }
    const { failed } = await runJsonl(host, (line) => {
      const rec = parseJsonObject(line);
      if (typeof rec.text !== "string") {
        throw new TypeError('Cannot encode record: "text" must be a string');
      }
      return `{"tokens":[${encode(rec.text).join(",")}]}`;
    });
    return failed > 0 ? 1 : 0;
  },
};

/** `encode --backend auto|gpu`: the same output, texts encoded in batches by the engine. */
async function runWithEngine(
  host: Host,
  backend: "auto" | "gpu",
  how: { jsonl: boolean; options: EncodeOptions },
): Promise<number> {
  const { createEngine } = await import("../../engine/mod.ts");
  const engine = await createEngine({
    backend,
    onWarning: (m) => void host.stderr.write(m + "\n"),
  });
  try {
    if (!how.jsonl) {
      const text = new TextDecoder().decode(await readAll(host));
      const batch = await engine.encodeBatch([text], how.options);
      await host.stdout.write(`[${batch.get(0).join(",")}]\n`);
      return 0;
    }
    const out = new LineWriter(host.stdout);
    let failed = 0;
    let pending: Array<{ number: number; text?: string; error?: string }> = [];
    const flush = async () => {
      const texts = pending.filter((p) => p.text !== undefined).map((p) => p.text!);
      const batch = await engine.encodeBatch(texts, how.options);
      let k = 0;
      for (const p of pending) {
        if (p.text === undefined) {
          failed++;
          await out.line(JSON.stringify({ error: `line ${p.number}: ${p.error}` }));
          continue;
        }
        const err = batch.errors.get(k);
        if (err) {
          failed++;
          await out.line(JSON.stringify({ error: `line ${p.number}: ${err.message}` }));
        } else await out.line(`{"tokens":[${batch.get(k).join(",")}]}`);
        k++;
      }
      pending = [];
    };
    for await (const line of readLines(host.stdin())) {
      if (line.text.trim() === "") continue;
      try {
        const rec = parseJsonObject(line.text);
        if (typeof rec.text !== "string") {
          throw new TypeError('Cannot encode record: "text" must be a string');
        }
        pending.push({ number: line.number, text: rec.text });
      } catch (e) {
        pending.push({ number: line.number, error: e instanceof Error ? e.message : String(e) });
      }
      if (pending.length >= 4096) await flush();
    }
    await flush();
    await out.flush();
    return failed > 0 ? 1 : 0;
  } finally {
    engine.destroy();
  }
}
