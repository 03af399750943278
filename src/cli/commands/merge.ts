/**
 * `harmony merge`: concatenate `render-dataset` outputs (e.g. the shards of a job array) into one
 * Megatron or `bin` dataset.
 *
 * @module
 */

import type { Command } from "../commands.ts";
import { checkInputFiles, UsageError } from "../args.ts";
import { mergeDatasets, prefixesOf } from "../../dataset/merge.ts";
import { formatCount } from "../../dataset/progress.ts";

/** The `merge` command. */
export const command: Command = {
  spec: {
    name: "merge",
    summary: "Concatenate render-dataset outputs (Megatron or bin) into one dataset",
    description:
      "Inputs are output prefixes, or their files as a shell glob gives them (duplicates and\n" +
      "temporary files are ignored). Records keep the order of the inputs; PREFIX.errors.jsonl\n" +
      "files are concatenated too.",
    positionals: { name: "INPUT...", description: "Dataset prefixes or files", min: 1 },
    options: [
      { name: "out", type: "string", valueName: "PREFIX", description: "Output prefix (required)" },
    ],
    examples: ["harmony merge data/train.shard-* --out data/train"],
  },
  async run(args, host) {
    const out = args.options.out;
    if (typeof out !== "string") throw new UsageError("Cannot merge: --out PREFIX is required");
    const prefixes = prefixesOf(args.positionals).filter((p) => p !== out);
    checkInputFiles(prefixes, ".idx");
    const s = mergeDatasets(prefixes, out);
    await host.stderr.write(
      `merge: ${s.inputs} ${s.format} datasets → ${s.records} records, ${
        formatCount(s.tokens)
      } tokens → ${s.files[0]}\n`,
    );
    return 0;
  },
};
