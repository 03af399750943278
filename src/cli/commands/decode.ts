/**
 * `harmony decode`: token ids → text.
 *
 * @module
 */

import type { Command } from "../commands.ts";
import { parseJsonObject, readAllText, runJsonl } from "../jsonl.ts";
import { parseJson } from "../../chat/json_text.ts";
import { loadTokenizer } from "../../tokenizer/mod.ts";

/**
 * Reads token ids from JSON: an array of integers.
 *
 * @throws {TypeError} naming the index of the first value that is not a non-negative integer.
 */
export function readTokenArray(value: unknown, what = "tokens"): number[] {
  if (!Array.isArray(value)) {
    throw new TypeError(`Cannot read ${what}: expected an array of token ids`);
  }
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
      throw new TypeError(
        `Cannot read ${what}: value at index ${i} is not a token id (${
          JSON.stringify(v)?.slice(0, 32)
        })`,
      );
    }
  }
  return value as number[];
}

/** The `decode` command. */
export const command: Command = {
  spec: {
    name: "decode",
    summary: "Decode o200k_harmony token ids into text (invalid UTF-8 becomes U+FFFD)",
    description:
      "Without --jsonl, stdin is one JSON array of ids and stdout the text. With --jsonl, each line\n" +
      '{"tokens": [...]} gives one line {"text": "..."}; a bad line gives {"error": "line N: ..."}.',
    options: [{ name: "jsonl", type: "boolean", description: "Read and write JSON lines" }],
    examples: ["echo '[24912, 2375]' | harmony decode"],
  },
  async run(args, host) {
    const tok = await loadTokenizer();
    if (!args.options.jsonl) {
      const text = await readAllText(host);
      if (typeof text !== "string") {
        await host.stderr.write(`harmony decode: ${text.error}\n`);
        return 1;
      }
      try {
        await host.stdout.write(tok.decode(readTokenArray(parseJson(text))));
      } catch (e) {
        await host.stderr.write(`harmony decode: ${(e as Error).message}\n`);
        return 1;
      }
      return 0;
    }
    const { failed } = await runJsonl(host, (line) => {
      const rec = parseJsonObject(line);
      return { text: tok.decode(readTokenArray(rec.tokens)) };
    });
    return failed > 0 ? 1 : 0;
  },
};
