// The GPU parse path's host side (src/engine/message_table.ts) over the CPU token scan: the
// messages of every regular completion equal the streaming parser's; irregular ones are left to
// the parser. Runs on every machine.

import { test } from "node:test";
import assert from "node:assert/strict";
import { parseBatchCpu } from "../../src/engine/cpu_backend.ts";
import { buildMessageTable, tableMessages } from "../../src/engine/message_table.ts";
import { buildSpecialTables } from "../../src/gpu/tables.ts";
import { scanTokensCpu } from "../../src/gpu/token_scan.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import { harmonySpecialTokens } from "../../src/tokenizer/special_tokens.ts";
import { loadVocabulary } from "../../src/tokenizer/vocabulary.ts";
import { harmonySamples } from "../engine/samples.ts";

const EXTRA = [
  // Non-ASCII headers: the parser's grammar (Unicode trim, ASCII word splitting) decides.
  "<|start|>assistant to=functions.天气<|channel|>commentary<|message|>{}<|call|>",
  "<|start|>assistant\u00a0<|channel|>final<|message|>nbsp after role<|end|>",
  "<|start|>\u3000assistant<|channel|>final\u00a0x<|message|>ideographic space<|end|>",
  "<|start|>assistant<|channel|>final\ufeff<|message|>BOM in channel<|end|>",
  "<|start|>functions.lookup to=assistant<|channel|>commentary<|message|>tool<|end|>",
  "<|start|>assistant<|channel|><|message|>empty channel<|end|>",
  "<|start|>nobody<|message|>unknown role<|end|>",
  "<|start|>assistant a b c d<|message|>leftovers<|end|>",
  "<|start|>assistant<|channel|>analysis<|message|>no stop",
];

test("message table messages equal the streaming parser's (corpus, non-ASCII and bad headers)", async () => {
  const tok = await loadTokenizer();
  const vocab = await loadVocabulary();
  const specials = buildSpecialTables(harmonySpecialTokens());
  const completions = [...harmonySamples(), ...EXTRA].map((t) =>
    tok.encode(t, { allowedSpecial: "all" })
  );
  const offsets = new Uint32Array(completions.length + 1);
  for (let c = 0; c < completions.length; c++) {
    offsets[c + 1] = offsets[c] + completions[c].length;
  }
  const all = new Uint32Array(offsets[completions.length]);
  completions.forEach((t, c) => all.set(t, offsets[c]));
  const scan = scanTokensCpu(vocab, specials, all);
  for (const role of [undefined, "assistant" as const]) {
    const table = buildMessageTable(all, offsets, scan, role);
    const want = parseBatchCpu(tok, completions, { role });
    let regular = 0;
    for (let c = 0; c < completions.length; c++) {
      const got = tableMessages(table, c, role);
      if (got === undefined) continue;
      regular++;
      assert.ok(want[c].messages, `completion ${c} is regular but the parser fails it`);
      assert.deepEqual(got, want[c].messages, `completion ${c}`);
    }
    if (role === undefined) assert.ok(regular > 10, `${regular} regular completions`);
  }
  // Non-ASCII headers are regular now (the parser's grammar), not sent to the fallback.
  const t0 = tok.encode(EXTRA[0], { allowedSpecial: "all" });
  const table = buildMessageTable(
    t0,
    new Uint32Array([0, t0.length]),
    scanTokensCpu(vocab, specials, t0),
  );
  assert.equal(tableMessages(table, 0)?.[0].recipient, "functions.天气");
});
