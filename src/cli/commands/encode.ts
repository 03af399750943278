/**
 * `harmony encode`: text → token ids.
 *
 * @module
 */

import type { Command } from "../commands.ts";
import { BACKEND_OPTION, openBackendOption } from "../backend.ts";
import { parseJsonObject, readAllText, runJsonlBatched } from "../jsonl.ts";
import { ORDINARY } from "../../tokenizer/encoded_batch.ts";
import type { EncodeOptions } from "../../tokenizer/mod.ts";
import type { Host } from "../host.ts";

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
    return await runWithEngine(host, args.options.backend, {
      jsonl: Boolean(args.options.jsonl),
      options: String(args.options["allowed-special"]) === "all"
        ? { allowedSpecial: "all" }
        : ORDINARY,
    });
  },
};

/** `encode`: texts encoded in batches by the engine `--backend` opens (same output on each). */
async function runWithEngine(
  host: Host,
  backend: unknown,
  how: { jsonl: boolean; options: EncodeOptions },
): Promise<number> {
  const engine = await openBackendOption(host, backend);
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
