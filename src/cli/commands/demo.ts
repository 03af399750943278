/**
 * `harmony demo`: the job `npm start` runs. Renders the bundled `examples/sample.jsonl` (300
 * conversations with tool calls, math, multilingual and chat; sources and licenses in
 * examples/README.md) into a Megatron dataset in a temporary
 * directory, reads it back, and prints the summary and the first record with its loss mask.
 *
 * @module
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundledSamplePath } from "../../bench/inputs.ts";
import type { Command } from "../commands.ts";
import { runRenderDataset, summaryLine } from "./render_dataset.ts";
import { openMegatronDataset } from "../../dataset/megatron.ts";
import { loadHarmonyEncoding } from "../../encoding/mod.ts";

/** The `demo` command. */
export const command: Command = {
  spec: {
    name: "demo",
    summary: "Render the bundled sample conversations to a Megatron dataset and print a summary",
    options: [
      {
        name: "out",
        type: "string",
        valueName: "PREFIX",
        description: "Keep the dataset at PREFIX (default: a temporary directory, removed after)",
      },
    ],
  },
  async run(args, host) {
    const input = await bundledSamplePath();
    const keep = typeof args.options.out === "string";
    const dir = keep ? undefined : mkdtempSync(join(tmpdir(), "harmony-demo-"));
    const prefix = keep ? String(args.options.out) : join(dir!, "sample");
    try {
      const { summary, seconds, shard, backend } = await runRenderDataset(host, [input], {
        out: prefix,
        "output-format": "megatron",
        // 200 conversations: a GPU would not pay for its set-up.
        backend: "cpu",
      });
      const ds = openMegatronDataset(prefix);
      const mask = openMegatronDataset(`${prefix}.loss_mask`);
      const enc = await loadHarmonyEncoding("HarmonyGptOss");
      const tokens = ds.get(0);
      const m = mask.get(0);
      // The first record, with the trained (loss mask 1) spans in ⟦ ⟧.
      let shown = "";
      let start = 0;
      let trained = 0;
      for (let i = 0; i < m.length; i++) trained += m[i];
      for (let i = 1; i <= tokens.length; i++) {
        if (i === tokens.length || m[i] !== m[start]) {
          const text = enc.decode(tokens.subarray(start, i));
          shown += m[start] ? `⟦${text}⟧` : text;
          start = i;
        }
      }
      ds.close();
      mask.close();
      await host.stdout.write(
        [
          summaryLine(summary, seconds, shard, backend),
          `files: ${summary.files.join(", ")}${keep ? "" : " (temporary, removed)"}`,
          `read back: ${ds.length} sequences; record 0 has ${tokens.length} tokens, ${trained} trained (⟦…⟧):`,
          shown,
          "",
        ].join("\n"),
      );
      return summary.failed > 0 ? 1 : 0;
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  },
};
