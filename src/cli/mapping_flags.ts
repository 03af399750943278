/**
 * The record-mapping flags shared by `render` and `render-dataset` (one spec, one reader): the
 * input format, the default system/developer messages, where the conversation is, and the
 * mapping's checks. The rules they select are in `src/dataset/mapping.ts`.
 *
 * @module
 */

import type { OptionSpec } from "./args.ts";
import { UsageError } from "./args.ts";
import {
  checkMessagesField,
  INPUT_FORMATS,
  type InputFormat,
  type MappingDefaults,
} from "../dataset/mapping.ts";

type Options = Record<string, string | boolean | string[] | undefined>;

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/**
 * `--input-format`; `fallback` is the command's default (`auto` for render-dataset).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { inputFormatOption } from "./mapping_flags.ts";
 * deepStrictEqual(inputFormatOption("auto").name, "input-format");
 * ```
 */
export function inputFormatOption(fallback: string): OptionSpec {
  return {
    name: "input-format",
    type: "string",
    choices: INPUT_FORMATS,
    default: fallback,
    description: "Record format (auto: detected per record; docs/input-formats.md)",
  };
}

/** The default system message and developer instructions (docs/input-formats.md). */
export const SYSTEM_OPTIONS: readonly OptionSpec[] = [
  {
    name: "reasoning-effort",
    type: "string",
    choices: ["low", "medium", "high"],
    default: "medium",
    description: "Effort of the default system message",
  },
  {
    name: "knowledge-cutoff",
    type: "string",
    valueName: "YYYY-MM",
    description: "Knowledge cutoff of the default system message (default 2024-06)",
  },
  {
    name: "conversation-start-date",
    type: "string",
    valueName: "DATE",
    description: "Current date of the default system message (default: none)",
  },
  {
    name: "instructions",
    type: "string",
    valueName: "TEXT",
    description: "Developer instructions for records without a system/developer prompt",
  },
];

/** Where the conversation is, and the mapping's checks. */
export const MAPPING_OPTIONS: readonly OptionSpec[] = [
  {
    name: "messages-field",
    type: "string",
    valueName: "PATH",
    description: "Field holding the conversation (conversation, chosen, data.messages)",
  },
  {
    name: "allow-unsafe-headers",
    type: "boolean",
    description:
      "Render names/recipients/channels/content types with whitespace, to= or special tokens",
  },
  {
    name: "lenient-tool-ids",
    type: "boolean",
    description: "A tool_call_id matching no call falls back to the name or call order",
  },
];

/**
 * Reads the mapping flags into {@link MappingDefaults}. `addSystemDefault` is the command's
 * default for adding a system message (`--system`/`--no-system`).
 *
 * @throws {UsageError} for a malformed `--messages-field`.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { mappingFlags } from "./mapping_flags.ts";
 * deepStrictEqual(mappingFlags({ "messages-field": "chosen" }).messagesField, "chosen");
 * ```
 */
export function mappingFlags(o: Options, addSystemDefault = true): MappingDefaults {
  const field = str(o["messages-field"]);
  if (field !== undefined) {
    try {
      checkMessagesField(field);
    } catch (e) {
      throw new UsageError(`--messages-field: ${(e as Error).message}`);
    }
  }
  const d: MappingDefaults = {
    reasoningEffort: (str(o["reasoning-effort"]) ?? "medium") as MappingDefaults["reasoningEffort"],
    knowledgeCutoff: str(o["knowledge-cutoff"]),
    conversationStartDate: str(o["conversation-start-date"]),
    instructions: str(o.instructions),
    addSystem: typeof o.system === "boolean" ? o.system : addSystemDefault,
  };
  if (field !== undefined) d.messagesField = field;
  if (o["allow-unsafe-headers"] === true) d.allowUnsafeHeaders = true;
  if (o["lenient-tool-ids"] === true) d.lenientToolIds = true;
  return d;
}

/**
 * `--input-format`'s value.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { inputFormatFlag } from "./mapping_flags.ts";
 * deepStrictEqual(inputFormatFlag({}, "auto"), "auto");
 * ```
 */
export function inputFormatFlag(o: Options, fallback: InputFormat): InputFormat {
  return (str(o["input-format"]) ?? fallback) as InputFormat;
}
