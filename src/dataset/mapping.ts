/**
 * Maps dataset records onto reference harmony JSON (`{"messages": [...]}` as `openai/harmony`'s
 * serde reads it): OpenAI chat-completions records, ShareGPT records, and harmony JSON itself
 * (completed with a default system message). The rules are documented in
 * `docs/input-formats.md`; every rule here names its section there.
 *
 * The result is plain JSON, validated and turned into a `Conversation` by the chat layer.
 *
 * @module
 */

/** Input record formats. `auto` detects per record. */
export const INPUT_FORMATS = ["auto", "harmony", "openai", "sharegpt"] as const;

/** One of {@link INPUT_FORMATS}. */
export type InputFormat = typeof INPUT_FORMATS[number];

/** A content part of harmony JSON. */
export type HarmonyJsonContent =
  | { type: "text"; text: string }
  | ({ type: "system_content" } & Record<string, unknown>)
  | ({ type: "developer_content" } & Record<string, unknown>);

/** A message of harmony JSON (reference serde: author flattened into `role` and `name`). */
export interface HarmonyJsonMessage {
  /** `system`, `developer`, `user`, `assistant` or `tool`. */
  role: string;
  /** Author name (tool messages: `functions.NAME`). */
  name?: string;
  /** Recipient (`functions.NAME` for tool calls, `assistant` for tool results). */
  recipient?: string;
  /** Channel. */
  channel?: string;
  /** Content type, e.g. `<|constrain|>json`. */
  content_type?: string;
  /** A string (one text content) or content parts. */
  content: string | HarmonyJsonContent[];
}

/** A harmony JSON conversation. */
export interface HarmonyJsonConversation {
  /** The messages. */
  messages: HarmonyJsonMessage[];
}

/** Defaults for the system and developer messages, from command-line flags. */
export interface MappingDefaults {
  /** Reasoning effort of the default system message (default `medium`). */
  reasoningEffort?: "low" | "medium" | "high";
  /** Knowledge cutoff of the default system message (default `2024-06`). */
  knowledgeCutoff?: string;
  /** Conversation start date of the default system message (default: none). */
  conversationStartDate?: string;
  /** Model identity (default the reference's `You are ChatGPT, …`). */
  modelIdentity?: string;
  /** Developer instructions for records that have none (default: none). */
  instructions?: string;
  /** Add a system message to records without one (default true). */
  addSystem?: boolean;
}

/** The reference's default model identity (`SystemContent::default`, src/chat.rs). */
export const DEFAULT_MODEL_IDENTITY = "You are ChatGPT, a large language model trained by OpenAI.";

/**
 * The error of a record that cannot be mapped; `path` is a JSON path into the record.
 *
 * @example
 * ```ts
 * import { RecordFormatError } from "./mapping.ts";
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(
 *   new RecordFormatError("$.messages[0].role", "unknown role").message,
 *   "Cannot map record at $.messages[0].role: unknown role",
 * );
 * ```
 */
export class RecordFormatError extends TypeError {
  /** JSON path of the offending value, e.g. `$.messages[3].tool_calls[0]`. */
  readonly path: string;
  /** Creates the error. */
  constructor(path: string, message: string) {
    super(`Cannot map record at ${path}: ${message}`);
    this.name = "RecordFormatError";
    this.path = path;
  }
}

import { parseRecordText } from "./record_json.ts";

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const HARMONY_KEYS = ["channel", "recipient", "content_type", "author"];
const OPENAI_MESSAGE_KEYS = [
  "tool_calls",
  "tool_call_id",
  "function_call",
  "reasoning_content",
  "reasoning",
  "thinking",
];

/**
 * Detects a record's format (rules: docs/input-formats.md, "Detection").
 *
 * @throws {RecordFormatError} when the record has neither `messages` nor `conversations`.
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { detectRecordFormat } from "./mapping.ts";
 * strictEqual(detectRecordFormat({ conversations: [{ from: "human", value: "hi" }] }), "sharegpt");
 * strictEqual(detectRecordFormat({ messages: [{ role: "assistant", channel: "final", content: "x" }] }), "harmony");
 * ```
 */
export function detectRecordFormat(record: unknown): Exclude<InputFormat, "auto"> {
  if (!isObj(record)) throw new RecordFormatError("$", "expected a JSON object");
  if (Array.isArray(record.conversations)) return "sharegpt";
  if (!Array.isArray(record.messages)) {
    throw new RecordFormatError(
      "$",
      'expected "messages" (harmony/OpenAI) or "conversations" (ShareGPT)',
    );
  }
  if (record.tools !== undefined || record.functions !== undefined) return "openai";
  let harmony = false;
  for (const m of record.messages) {
    if (!isObj(m)) continue;
    for (const k of OPENAI_MESSAGE_KEYS) if (m[k] !== undefined && m[k] !== null) return "openai";
    if (m.role === "function") return "openai";
    for (const k of HARMONY_KEYS) if (m[k] !== undefined && m[k] !== null) harmony = true;
    if (Array.isArray(m.content)) {
      for (const c of m.content) {
        if (isObj(c) && (c.type === "system_content" || c.type === "developer_content")) {
          harmony = true;
        }
      }
    }
    if (isObj(m.content)) harmony = true;
  }
  return harmony ? "harmony" : "openai";
}

/**
 * Maps a record in `format` (or detected, for `auto`) onto harmony JSON.
 *
 * @throws {RecordFormatError} naming the JSON path of what cannot be mapped.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { recordToHarmonyJson } from "./mapping.ts";
 * const h = recordToHarmonyJson(
 *   { messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello" }] },
 *   "auto",
 * );
 * deepStrictEqual(h.messages[2], { role: "assistant", channel: "final", content: "Hello" });
 * ```
 */
export function recordToHarmonyJson(
  value: unknown,
  format: InputFormat = "auto",
  defaults: MappingDefaults = {},
): HarmonyJsonConversation {
  // A bare array of messages is read as {"messages": [...]}; a messages/conversations column
  // holding JSON text (common in Parquet exports) is parsed.
  let record: unknown = Array.isArray(value) ? { messages: value } : value;
  if (isObj(record)) {
    let obj: Obj = record;
    for (const k of ["messages", "conversations"]) {
      if (typeof obj[k] === "string") obj = { ...obj, [k]: parseMaybeJson(obj[k], `$.${k}`) };
    }
    record = obj;
  }
  const f = format === "auto" ? detectRecordFormat(record) : format;
  if (!isObj(record)) throw new RecordFormatError("$", "expected a JSON object");
  if (f === "harmony") {
    if (!Array.isArray(record.messages)) {
      throw new RecordFormatError("$.messages", "expected an array");
    }
    const body = record.messages as HarmonyJsonMessage[];
    return { messages: withDefaults(body, defaults, undefined) };
  }
  const mapped = f === "openai" ? mapOpenAi(record) : mapShareGpt(record);
  return { messages: withDefaults(mapped.messages, defaults, mapped.effort) };
}

function withDefaults(
  body: HarmonyJsonMessage[],
  d: MappingDefaults,
  effort: string | undefined,
): HarmonyJsonMessage[] {
  const hasSystem = body.some((m) => isObj(m) && m.role === "system");
  const hasDeveloper = body.some((m) => isObj(m) && m.role === "developer");
  const addSystem = !hasSystem && d.addSystem !== false;
  const addDeveloper = !hasDeveloper && d.instructions !== undefined;
  if (!addSystem && !addDeveloper) return body;
  const out = body.slice();
  if (addDeveloper) {
    // After the record's leading system messages, if any.
    let at = 0;
    while (at < out.length && isObj(out[at]) && out[at].role === "system") at++;
    out.splice(at, 0, {
      role: "developer",
      content: [{ type: "developer_content", instructions: d.instructions }],
    });
  }
  if (addSystem) out.unshift(defaultSystemMessage(d, effort));
  return out;
}

const EFFORTS: Record<string, string> = { low: "Low", medium: "Medium", high: "High" };

/**
 * The default harmony system message (docs/input-formats.md, "System message"): identity,
 * reasoning effort, knowledge cutoff, optional start date, channels analysis/commentary/final.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { defaultSystemMessage } from "./mapping.ts";
 * strictEqual(defaultSystemMessage({ reasoningEffort: "high" }).role, "system");
 * ```
 */
export function defaultSystemMessage(
  d: MappingDefaults = {},
  effort?: string,
): HarmonyJsonMessage {
  const e = EFFORTS[(effort ?? d.reasoningEffort ?? "medium").toLowerCase()];
  if (e === undefined) {
    throw new RecordFormatError("$.reasoning_effort", `unknown effort "${String(effort)}"`);
  }
  const sys: Record<string, unknown> = {
    type: "system_content",
    model_identity: d.modelIdentity ?? DEFAULT_MODEL_IDENTITY,
    reasoning_effort: e,
    knowledge_cutoff: d.knowledgeCutoff ?? "2024-06",
    channel_config: { valid_channels: ["analysis", "commentary", "final"], channel_required: true },
  };
  if (d.conversationStartDate !== undefined) {
    sys.conversation_start_date = d.conversationStartDate;
  }
  return { role: "system", content: [sys as HarmonyJsonContent] };
}

// ---------------------------------------------------------------------------------------------
// OpenAI chat completions (docs/input-formats.md, "OpenAI chat")

interface Mapped {
  messages: HarmonyJsonMessage[];
  effort?: string;
}

interface FunctionTool {
  name: string;
  description: string;
  parameters?: unknown;
}

function parseMaybeJson(value: unknown, path: string): unknown {
  if (typeof value !== "string") return value;
  try {
    return parseRecordText(value);
  } catch {
    throw new RecordFormatError(path, "expected JSON text");
  }
}

function mapTools(value: unknown, path: string): FunctionTool[] {
  const list = parseMaybeJson(value, path);
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new RecordFormatError(path, "expected an array of tools");
  return list.map((t, i) => {
    const p = `${path}[${i}]`;
    if (!isObj(t)) throw new RecordFormatError(p, "expected a tool object");
    // {"type":"function","function":{...}} or the flat {"name",...} form.
    const fn = isObj(t.function) ? t.function : t;
    const fp = fn === t ? p : `${p}.function`;
    if (t.type !== undefined && t.type !== "function") {
      throw new RecordFormatError(`${p}.type`, `unsupported tool type "${String(t.type)}"`);
    }
    if (typeof fn.name !== "string" || fn.name === "") {
      throw new RecordFormatError(`${fp}.name`, "expected a function name");
    }
    const tool: FunctionTool = {
      name: fn.name,
      description: typeof fn.description === "string" ? fn.description : "",
    };
    const params = parseMaybeJson(fn.parameters, `${fp}.parameters`);
    if (params !== undefined && params !== null) tool.parameters = params;
    return tool;
  });
}

function textOf(content: unknown, path: string): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    let out = "";
    for (let i = 0; i < content.length; i++) {
      const part = content[i];
      if (typeof part === "string") out += part;
      else if (
        isObj(part) && (part.type === "text" || part.type === undefined) &&
        typeof part.text === "string"
      ) out += part.text;
      else if (isObj(part) && (part.type === "text" || part.type === undefined)) {
        throw new RecordFormatError(`${path}[${i}].text`, "expected a string");
      } else {
        throw new RecordFormatError(
          `${path}[${i}]`,
          `unsupported content part${isObj(part) ? ` type "${String(part.type)}"` : ""}`,
        );
      }
    }
    return out;
  }
  if (isObj(content)) return JSON.stringify(content);
  return String(content);
}

function argumentsText(value: unknown): string {
  if (value === undefined || value === null) return "{}";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function toolCallMessage(name: string, args: unknown): HarmonyJsonMessage {
  return {
    role: "assistant",
    channel: "commentary",
    recipient: `functions.${name}`,
    content_type: "<|constrain|>json",
    content: argumentsText(args),
  };
}

function toolResultMessage(name: string, content: string): HarmonyJsonMessage {
  return {
    role: "tool",
    name: `functions.${name}`,
    recipient: "assistant",
    channel: "commentary",
    content,
  };
}

function developerMessage(instructions: string | undefined, tools: FunctionTool[]) {
  const dev: Record<string, unknown> = { type: "developer_content" };
  if (instructions !== undefined) dev.instructions = instructions;
  if (tools.length > 0) {
    dev.tools = { functions: { name: "functions", description: null, tools } };
  }
  return { role: "developer", content: [dev as HarmonyJsonContent] };
}

function mapOpenAi(record: Obj): Mapped {
  const messages = record.messages as unknown[];
  const tools = [
    ...mapTools(record.tools, "$.tools"),
    ...mapTools(record.functions, "$.functions"),
  ];
  const out: HarmonyJsonMessage[] = [];
  const instructions: string[] = [];
  const callNames = new Map<string, string>();
  let pendingCalls: string[] = [];
  let leading = true;
  for (let i = 0; i < messages.length; i++) {
    const p = `$.messages[${i}]`;
    const m = messages[i];
    if (!isObj(m)) throw new RecordFormatError(p, "expected a message object");
    const role = m.role;
    if (role === "system" || role === "developer") {
      const text = textOf(m.content, `${p}.content`);
      if (leading) instructions.push(text);
      else out.push(developerMessage(text, []));
      continue;
    }
    leading = false;
    switch (role) {
      case "user":
        out.push({ role: "user", content: textOf(m.content, `${p}.content`) });
        break;
      case "assistant": {
        const reasoning = m.reasoning_content ?? m.reasoning ?? m.thinking;
        if (typeof reasoning === "string" && reasoning !== "") {
          out.push({ role: "assistant", channel: "analysis", content: reasoning });
        }
        const calls: Array<{ name: string; args: unknown; id?: string; path: string }> = [];
        if (Array.isArray(m.tool_calls)) {
          m.tool_calls.forEach((c, j) => {
            const cp = `${p}.tool_calls[${j}]`;
            if (!isObj(c)) throw new RecordFormatError(cp, "expected a tool call object");
            const fn = isObj(c.function) ? c.function : c;
            if (typeof fn.name !== "string" || fn.name === "") {
              throw new RecordFormatError(`${cp}.function.name`, "expected a function name");
            }
            calls.push({
              name: fn.name,
              args: fn.arguments,
              id: typeof c.id === "string" ? c.id : undefined,
              path: cp,
            });
          });
        } else if (m.tool_calls !== undefined && m.tool_calls !== null) {
          throw new RecordFormatError(`${p}.tool_calls`, "expected an array");
        }
        if (isObj(m.function_call)) {
          const fc = m.function_call;
          if (typeof fc.name !== "string") {
            throw new RecordFormatError(`${p}.function_call.name`, "expected a function name");
          }
          calls.push({ name: fc.name, args: fc.arguments, path: `${p}.function_call` });
        }
        const text = textOf(m.content, `${p}.content`);
        if (calls.length > 0) {
          // Text beside tool calls is a preamble: commentary without a recipient.
          if (text !== "") out.push({ role: "assistant", channel: "commentary", content: text });
          pendingCalls = [];
          for (const c of calls) {
            out.push(toolCallMessage(c.name, c.args));
            if (c.id !== undefined) callNames.set(c.id, c.name);
            pendingCalls.push(c.name);
          }
        } else {
          out.push({ role: "assistant", channel: "final", content: text });
        }
        break;
      }
      case "tool":
      case "function": {
        let name: string | undefined;
        if (typeof m.tool_call_id === "string") name = callNames.get(m.tool_call_id);
        if (name === undefined && typeof m.name === "string" && m.name !== "") name = m.name;
        if (name === undefined && pendingCalls.length > 0) name = pendingCalls[0];
        if (name === undefined && tools.length === 1) name = tools[0].name;
        if (name === undefined) {
          throw new RecordFormatError(
            p,
            typeof m.tool_call_id === "string"
              ? `no tool call with id "${m.tool_call_id.slice(0, 32)}"`
              : "cannot tell which tool answered (no tool_call_id, no name)",
          );
        }
        const k = pendingCalls.indexOf(name);
        if (k >= 0) pendingCalls.splice(k, 1);
        out.push(toolResultMessage(name, textOf(m.content, `${p}.content`)));
        break;
      }
      default:
        throw new RecordFormatError(`${p}.role`, `unknown role "${String(role).slice(0, 32)}"`);
    }
  }
  if (instructions.length > 0 || tools.length > 0) {
    out.unshift(
      developerMessage(instructions.length > 0 ? instructions.join("\n\n") : undefined, tools),
    );
  }
  const effort = typeof record.reasoning_effort === "string" ? record.reasoning_effort : undefined;
  return { messages: out, effort };
}

// ---------------------------------------------------------------------------------------------
// ShareGPT (docs/input-formats.md, "ShareGPT")

const SHAREGPT_USER = new Set(["human", "user"]);
const SHAREGPT_ASSISTANT = new Set(["gpt", "assistant", "model", "chatgpt", "bot"]);
const SHAREGPT_TOOL = new Set(["observation", "tool", "function"]);

function mapShareGpt(record: Obj): Mapped {
  const turns = record.conversations as unknown[];
  const tools = mapTools(record.tools, "$.tools");
  const out: HarmonyJsonMessage[] = [];
  const instructions: string[] = [];
  if (typeof record.system === "string" && record.system !== "") instructions.push(record.system);
  let pendingCalls: string[] = [];
  let leading = true;
  for (let i = 0; i < turns.length; i++) {
    const p = `$.conversations[${i}]`;
    const t = turns[i];
    if (!isObj(t)) throw new RecordFormatError(p, "expected a turn object");
    const from = typeof t.from === "string" ? t.from.toLowerCase() : t.role;
    const value = textOf(t.value ?? t.content, `${p}.value`);
    if (from === "system") {
      if (leading) instructions.push(value);
      else out.push(developerMessage(value, []));
      continue;
    }
    leading = false;
    if (typeof from !== "string") throw new RecordFormatError(`${p}.from`, "expected a string");
    if (SHAREGPT_USER.has(from)) {
      out.push({ role: "user", content: value });
    } else if (SHAREGPT_ASSISTANT.has(from)) {
      out.push({ role: "assistant", channel: "final", content: value });
    } else if (from === "function_call") {
      const parsed = parseMaybeJson(value, `${p}.value`);
      const calls = Array.isArray(parsed) ? parsed : [parsed];
      pendingCalls = [];
      calls.forEach((c, j) => {
        if (!isObj(c) || typeof c.name !== "string") {
          throw new RecordFormatError(`${p}.value`, `call ${j}: expected {"name", "arguments"}`);
        }
        out.push(toolCallMessage(c.name, c.arguments ?? c.parameters));
        pendingCalls.push(c.name);
      });
    } else if (SHAREGPT_TOOL.has(from)) {
      const name = typeof t.name === "string" && t.name !== ""
        ? t.name
        : pendingCalls.shift() ?? (tools.length === 1 ? tools[0].name : undefined);
      if (name === undefined) {
        throw new RecordFormatError(p, "observation without a preceding function_call");
      }
      out.push(toolResultMessage(name, value));
    } else {
      throw new RecordFormatError(`${p}.from`, `unknown speaker "${from.slice(0, 32)}"`);
    }
  }
  if (instructions.length > 0 || tools.length > 0) {
    out.unshift(
      developerMessage(instructions.length > 0 ? instructions.join("\n\n") : undefined, tools),
    );
  }
  return { messages: out };
}
