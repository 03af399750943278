/**
 * `harmony merge`: concatenate `render-dataset` and `parse-dataset` outputs (e.g. the shards of a
 * job array) into one Megatron, `bin`, JSONL, gzip JSONL or Parquet dataset, after checking that
 * every shard is there and complete.
 *
 * @module
 */

import type { Command } from "../commands.ts";
import { existsSync } from "node:fs";
import { asUsageError, checkInputFiles, UsageError } from "../args.ts";
import {
  checkShardSet,
  mergeDatasets,
  mergeStatsFiles,
  prefixesOf,
  shardStatsFiles,
} from "../../dataset/merge.ts";
import { formatCount } from "../../dataset/progress.ts";

/** The `merge` command. */
export const command: Command = {
  spec: {
    name: "merge",
    summary:
      "Concatenate render-dataset/parse-dataset outputs (Megatron, bin, JSONL, JSONL.gz, Parquet)",
    description:
      "Inputs are output prefixes, or their files as a shell glob gives them (duplicates and\n" +
      "temporary files are ignored). Records keep the order of the inputs; PREFIX.errors.jsonl\n" +
      "files are concatenated too. Shards (PREFIX.shard-I-of-N) must all be given, and each input\n" +
      "must be complete: sizes and counts are checked before anything is written (a missing shard\n" +
      "exits 2, a truncated or unfinished one 3). Shards are contiguous parts of the input, so the\n" +
      "merge of all shards is the unsharded output; each records its settings in PREFIX.shard.json\n" +
      "and shards of other settings, inputs or counts, or given out of order, are refused (exit 3).\n" +
      "Parquet and .jsonl.gz shards are read back and written again (Parquet row groups cut as one\n" +
      "run cuts them), so their merge is the unsharded file too (docs/render-dataset.md#merge).",
    positionals: { name: "INPUT...", description: "Dataset prefixes or files", min: 1 },
    options: [
      { name: "out", type: "string", valueName: "PREFIX", description: "Output prefix (required)" },
      {
        name: "stats",
        type: "string",
        valueName: "FILE",
        description:
          "Combine the shards' --stats files (FILE with the shard tag, as the shards wrote them) into FILE",
      },
    ],
    examples: [
      "harmony merge data/train.shard-* --out data/train",
      "harmony merge results.shard-*.jsonl.gz --out results.jsonl.gz --stats stats.json",
    ],
  },
  async run(args, host) {
    const outOpt = args.options.out;
    if (typeof outOpt !== "string") throw new UsageError("Cannot merge: --out PREFIX is required");
    // `--out results.jsonl.gz` names the prefix `results` as well.
    const out = prefixesOf([outOpt])[0];
    const prefixes = prefixesOf(args.positionals).filter((p) => p !== out);
    for (const p of prefixes) {
      const data = [".idx", ".jsonl", ".jsonl.gz", ".parquet"].find((x) => existsSync(p + x));
      checkInputFiles([p], data ?? ".idx");
    }
    asUsageError(() => checkShardSet(prefixes));
    const statsOpt = args.options.stats;
    const stats = typeof statsOpt === "string"
      ? shardStatsFiles(statsOpt, prefixes.length)
      : undefined;
    if (stats !== undefined) {
      const missing = stats.find((f) => !existsSync(f));
      if (missing !== undefined) {
        throw new UsageError(`Cannot merge --stats: ${missing} (a shard's stats file) is missing`);
      }
    }
    const s = await mergeDatasets(prefixes, out);
    if (stats !== undefined) mergeStatsFiles(stats, statsOpt as string);
    const tokens = s.format.startsWith("jsonl") ? "" : `, ${formatCount(s.tokens)} tokens`;
    await host.stderr.write(
      `merge: ${s.inputs} ${s.format} datasets → ${s.records} records${tokens} → ${s.files[0]}\n`,
    );
    return 0;
  },
};
