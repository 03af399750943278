/**
 * `harmony encode`: text → token ids.
 *
 * @module
 */

import type { Command } from "../commands.ts";
import {
  BACKEND_OPTION,
  parseJsonObject,
  readAllText,
  runJsonl,
  runJsonlBatched,
} from "../jsonl.ts";
import { loadTokenizer } from "../../tokenizer/mod.ts";
import type { EncodeOptions, Tokenizer } from "../../tokenizer/mod.ts";
import type { Host } from "../host.ts";

function encoder(tok: Tokenizer, allowed: string): (text: string) => Uint32Array {
  return allowed === "all"
    ? (text) => tok.encode(text, { allowedSpecial: "all" })
    : (text) => tok.encodeOrdinary(text);
}

/** Reads the text of one `{"text": "..."}` line. @throws {TypeError} when it has none. */
function readText(line: string): string {
  const rec = parseJsonObject(line);
  if (typeof rec.text !== "string") {
    throw new TypeError('Cannot encode record: "text" must be a string');
  }
  return rec.text;
}

/** The `encode` command. */
export const command: Command = {
  spec: {
    name: "encode",
    summary: "Encode text on stdin into o200k_harmony token ids (a JSON array)",
    description:
      "Without --jsonl, all of stdin is one text, tokenized as is (a leading BOM included; invalid\n" +
      'UTF-8 is an error). With --jsonl, each line {"text": "..."} gives one\n' +
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
      BACKEND_OPTION,
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
      const text = await readAllText(host);
      if (typeof text !== "string") {
        await host.stderr.write(`harmony encode: ${text.error}\n`);
        return 1;
      }
      await host.stdout.write(`[${encode(text).join(",")}]\n`);
      return 0;
    }
    const { failed } = await runJsonl(
      host,
      (line) => `{"tokens":[${encode(readText(line)).join(",")}]}`,
    );
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
      const text = await readAllText(host);
      if (typeof text !== "string") {
        await host.stderr.write(`harmony encode: ${text.error}\n`);
        return 1;
      }
      const batch = await engine.encodeBatch([text], how.options);
      await host.stdout.write(`[${batch.get(0).join(",")}]\n`);
      return 0;
    }
    const { failed } = await runJsonlBatched(host, readText, async (texts) => {
      const batch = await engine.encodeBatch(texts, how.options);
      return texts.map((_, k) => batch.errors.get(k) ?? `{"tokens":[${batch.get(k).join(",")}]}`);
    });
    return failed > 0 ? 1 : 0;
  } finally {
    engine.destroy();
  }
}
