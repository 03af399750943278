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

/** The `render` command. */
export const command: Command = {
  spec: {
    name: "render",
    summary: "Render conversations on stdin (JSONL) into harmony token ids",
    description:
      'Each input line is {"messages": [...]} in the JSON form of openai/harmony (serde of\n' +
      'src/chat.rs); each output line is {"tokens": [...]}, or {"error": "line N: ..."} for a bad\n' +
      "line (the rest go on; the exit code is then 1). Tool schemas keep their key order.",
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
    const read = (line: string) => conversationFromJson(parseJsonPreservingOrder(line));
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
