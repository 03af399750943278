/**
 * `harmony render`: conversations (the reference's JSON, one per line) → token ids.
 *
 * @module
 */

import type { Command } from "../commands.ts";
import { BACKEND_OPTION, openBackendOption } from "../backend.ts";
import { runJsonlBatched } from "../jsonl.ts";
import { conversationFromJson, parseJsonPreservingOrder } from "../../chat/json.ts";
import { parseRole, type Role } from "../../chat/role.ts";
import type { RenderMode } from "../../render/renderer.ts";
import { UsageError } from "../args.ts";
import {
  inputFormatFlag,
  inputFormatOption,
  MAPPING_OPTIONS,
  mappingFlags,
  SYSTEM_OPTIONS,
} from "../mapping_flags.ts";
import { recordToHarmonyJson } from "../../dataset/mapping.ts";
import { parseRecordText } from "../../dataset/record_json.ts";

/** The `render` command. */
export const command: Command = {
  spec: {
    name: "render",
    summary: "Render conversations on stdin (JSONL) into harmony token ids",
    description:
      'Each input line is {"messages": [...]} in the JSON form of openai/harmony (serde of\n' +
      'src/chat.rs); each output line is {"tokens": [...]}, or {"error": "line N: ..."} for a bad\n' +
      "line (the rest go on; the exit code is then 1). Tool schemas keep their key order.\n" +
      "--input-format openai|sharegpt|auto, --system, --instructions and --messages-field map\n" +
      "records exactly as render-dataset does (docs/input-formats.md); by default the harmony\n" +
      "JSON is rendered as given, with no added system message, as the reference does.",
    options: [
      {
        name: "mode",
        type: "string",
        choices: ["completion", "conversation", "training"],
        default: "completion",
        description:
          "completion: append <|start|> and the next role; conversation: messages only; training: <|return|> after a final answer",
      },
      {
        name: "next-role",
        type: "string",
        default: "assistant",
        description: "The role of the turn to complete (completion mode)",
      },
      {
        name: "auto-drop-analysis",
        type: "string",
        choices: ["true", "false"],
        default: "true",
        description:
          "Drop analysis messages before the first final answer when the last one is final",
      },
      inputFormatOption("harmony"),
      {
        name: "system",
        type: "boolean",
        default: false,
        description: "Add the default system message to records without one (as render-dataset)",
      },
      ...SYSTEM_OPTIONS,
      ...MAPPING_OPTIONS,
      BACKEND_OPTION,
    ],
    examples: [
      `echo '{"messages":[{"role":"user","content":"Hi"}]}' | harmony render`,
      "harmony render --mode training --auto-drop-analysis false < convos.jsonl > tokens.jsonl",
    ],
  },
  async run(args, host) {
    const mode = String(args.options.mode) as RenderMode;
    let nextRole: Role;
    try {
      nextRole = parseRole(String(args.options["next-role"]));
    } catch (e) {
      throw new UsageError(`--next-role: ${(e as Error).message}`);
    }
    const config = { autoDropAnalysis: args.options["auto-drop-analysis"] !== "false" };
    const o = args.options;
    const format = inputFormatFlag(o, "harmony");
    const mapped = format !== "harmony" || o.system === true ||
      typeof o.instructions === "string" || typeof o["messages-field"] === "string";
    const defaults = mappingFlags(o, false);
    // Harmony JSON as given goes straight to the chat layer (the reference's serde); any
    // mapping goes through render-dataset's code.
    const read = mapped
      ? (line: string) =>
        conversationFromJson(recordToHarmonyJson(parseRecordText(line), format, defaults))
      : (line: string) => conversationFromJson(parseJsonPreservingOrder(line));
    // The engine renders each batch's conversations with all their text encoded at once.
    const engine = await openBackendOption(host, args.options.backend);
    try {
      const { failed } = await runJsonlBatched(host, read, async (convos) => {
        const items = await engine.renderBatch(convos, { mode, nextRole, config });
        return items.map((it) => it.error ?? `{"tokens":[${it.tokens.join(",")}]}`);
      });
      return failed > 0 ? 1 : 0;
    } finally {
      engine.destroy();
    }
  },
};
