/**
 * `harmony encode`: text → token ids.
 *
 * @module
 */

import type { Command } from "../commands.ts";
import { parseJsonObject, readAll, runJsonl } from "../jsonl.ts";
import { loadTokenizer } from "../../tokenizer/mod.ts";
import type { Tokenizer } from "../../tokenizer/mod.ts";

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
    ],
    examples: [
      "echo -n 'hello world' | harmony encode",
      `echo '{"text":"<|start|>user<|message|>hi"}' | harmony encode --jsonl --allowed-special all`,
    ],
  },
  async run(args, host) {
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
