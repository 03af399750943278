/**
 * `harmony demo`: the job `npm start` runs on bundled example data. For now it tokenizes the
 * bundled sample conversations and prints a summary; the dataset issue turns it into the
 * render-dataset demo.
 *
 * @module
 */

import type { Command } from "../commands.ts";
import { loadTokenizer } from "../../tokenizer/mod.ts";

/** The `demo` command. */
export const command: Command = {
  spec: {
    name: "demo",
    summary: "Run the bundled example job and print a summary",
    options: [],
  },
  async run(_args, host) {
    const t0 = performance.now();
    const tok = await loadTokenizer();
    const t1 = performance.now();
    const url = new URL("../../../examples/sample.jsonl", import.meta.url);
    const { readFile } = await import("node:fs/promises");
    const text = new TextDecoder().decode(await readFile(url));
    let records = 0, tokens = 0, chars = 0;
    const t2 = performance.now();
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      const rec = JSON.parse(line) as { messages: Array<{ content: string }> };
      for (const m of rec.messages) {
        tokens += tok.encodeOrdinary(m.content).length;
        chars += m.content.length;
      }
      records++;
    }
    const t3 = performance.now();
    await host.stdout.write(
      `tokenized ${records} conversations: ${chars} characters → ${tokens} tokens in ${
        (t3 - t2).toFixed(0)
      } ms (vocabulary load ${(t1 - t0).toFixed(0)} ms)\n`,
    );
    return 0;
  },
};
