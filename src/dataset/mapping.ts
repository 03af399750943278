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

/**
 * How records are mapped, from command-line flags: defaults for the system and developer
 * messages, where the conversation is, and which checks apply.
 */
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
  /**
   * Dotted path of the field holding the conversation (`conversation`, `chosen`,
   * `data.messages`); default: `messages` or `conversations`. The other fields of the object
   * holding it (`tools`, `system`, …) are read beside it.
   */
  messagesField?: string;
  /**
   * Render author names, recipients, channels and content types that would forge a header
   * (whitespace, `to=`, special-token literals) as the reference does (default false: such a
   * record fails; see `header_safety.ts`).
   */
  allowUnsafeHeaders?: boolean;
  /**
   * A `tool_call_id` that matches no earlier call falls back to the message's `name`, the oldest
   * unanswered call, or the only tool (default false: the record fails naming the id).
   */
  lenientToolIds?: boolean;
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
import { HEADER_FIELDS, type HeaderField, unsafeHeaderReason } from "./header_safety.ts";

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
  if (!isObj(record)) {
    throw new RecordFormatError("$", `expected a JSON object, found ${kindOf(record)}`);
  }
  if (Array.isArray(record.conversations)) return "sharegpt";
  if (!Array.isArray(record.messages)) {
    if (record.messages !== undefined) {
      throw new RecordFormatError(
        "$.messages",
        `expected an array, found ${kindOf(record.messages)}`,
      );
    }
    if (record.conversations !== undefined) {
      throw new RecordFormatError(
        "$.conversations",
        `expected an array, found ${kindOf(record.conversations)}`,
      );
    }
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
  const field = defaults.messagesField;
  if (field === undefined || field === "messages" || field === "conversations") {
    return mapRecord(value, format, defaults);
  }
  const { record, path } = relocate(value, field);
  try {
    return mapRecord(record, format, defaults);
  } catch (e) {
    if (!(e instanceof RecordFormatError)) throw e;
    // Name the field as written in the input, not as relocated.
    const p = e.path.replace(/^\$\.(messages|conversations)/, path);
    const reason = e.message.slice(`Cannot map record at ${e.path}: `.length);
    throw new RecordFormatError(p, reason);
  }
}

const FIELD_PATH = /^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/;

/**
 * Checks a `--messages-field` path (dotted keys, e.g. `data.messages`).
 *
 * @throws {RangeError} when the path is not dotted keys.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { checkMessagesField } from "./mapping.ts";
 * deepStrictEqual(checkMessagesField("data.messages"), "data.messages");
 * ```
 */
export function checkMessagesField(path: string): string {
  if (!FIELD_PATH.test(path)) {
    throw new RangeError(
      `Cannot use messages field "${
        path.slice(0, 32)
      }": expected dotted keys such as data.messages`,
    );
  }
  return path;
}

/** The object holding the conversation at `field`, with it renamed `messages`/`conversations`. */
function relocate(value: unknown, field: string): { record: unknown; path: string } {
  const keys = checkMessagesField(field).split(".");
  let holder: unknown = value;
  let path = "$";
  for (let i = 0; i < keys.length - 1; i++) {
    if (!isObj(holder)) break;
    holder = Object.hasOwn(holder, keys[i]) ? holder[keys[i]] : undefined;
    path += `.${keys[i]}`;
  }
  const last = keys[keys.length - 1];
  if (!isObj(holder)) {
    throw new RecordFormatError(
      path,
      `expected an object holding "${last}", found ${kindOf(holder)}`,
    );
  }
  path += `.${last}`;
  let conv = Object.hasOwn(holder, last) ? holder[last] : undefined;
  if (conv === undefined) throw new RecordFormatError(path, "missing (--messages-field)");
  if (typeof conv === "string") conv = parseMaybeJson(conv, path);
  const shareGpt = Array.isArray(conv) && conv.length > 0 &&
    conv.every((t) => isObj(t) && t.from !== undefined);
  const rest: Obj = { ...holder };
  delete rest[last];
  delete rest.messages;
  delete rest.conversations;
  return { record: { ...rest, [shareGpt ? "conversations" : "messages"]: conv }, path };
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}

function mapRecord(
  value: unknown,
  format: InputFormat,
  defaults: MappingDefaults,
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
  if (!isObj(record)) {
    throw new RecordFormatError("$", `expected a JSON object, found ${kindOf(record)}`);
  }
  const key = f === "sharegpt" ? "conversations" : "messages";
  const list = record[key];
  if (!Array.isArray(list)) {
    throw new RecordFormatError(
      `$.${key}`,
      list === undefined
        ? `missing (--input-format ${f} reads the conversation from "${key}")`
        : `expected an array of ${f === "sharegpt" ? "turns" : "messages"}, found ${kindOf(list)}`,
    );
  }
  if (list.length === 0) {
    throw new RecordFormatError(`$.${key}`, "empty conversation (no messages)");
  }
  let mapped: Mapped;
  if (f === "harmony") {
    const body = list as HarmonyJsonMessage[];
    mapped = { messages: body, sources: body.map((_, i) => `$.messages[${i}]`) };
  } else {
    mapped = f === "openai" ? mapOpenAi(record, defaults) : mapShareGpt(record);
  }
  if (!defaults.allowUnsafeHeaders) checkHeaders(mapped);
  return { messages: withDefaults(mapped.messages, defaults, mapped.effort) };
}

/** Rejects header fields that would forge a header (docs/input-formats.md, "Header fields"). */
function checkHeaders(mapped: Mapped): void {
  const { messages, sources } = mapped;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as unknown;
    if (!isObj(m)) continue;
    for (const field of HEADER_FIELDS) {
      const v = m[field];
      if (typeof v !== "string") continue;
      const why = unsafeHeaderReason(field, v);
      if (why === undefined) continue;
      const at = mapped.origins?.[i]?.[field] ?? `${sources[i] ?? `$.messages[${i}]`}.${field}`;
      throw new RecordFormatError(
        at,
        `${field} "${v.slice(0, 32)}" ${why}, which would forge a message header ` +
          "(--allow-unsafe-headers renders it as the reference does)",
      );
    }
  }
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
  /** For each message, the JSON path of the input it comes from. */
  sources: string[];
  /** For some messages, the JSON path a header field comes from (a tool call's name). */
  origins?: Array<Partial<Record<HeaderField, string>> | undefined>;
  effort?: string;
}

/** A call made by the assistant: the function's name and where the name is written. */
interface Call {
  name: string;
  namePath: string;
}

class Out {
  readonly messages: HarmonyJsonMessage[] = [];
  readonly sources: string[] = [];
  readonly origins: Array<Partial<Record<HeaderField, string>> | undefined> = [];
  push(m: HarmonyJsonMessage, source: string, origin?: Partial<Record<HeaderField, string>>) {
    this.messages.push(m);
    this.sources.push(source);
    this.origins.push(origin);
  }
  /** Puts the developer message first, sourced at `source`. */
  unshift(m: HarmonyJsonMessage, source: string) {
    this.messages.unshift(m);
    this.sources.unshift(source);
    this.origins.unshift(undefined);
  }
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

function mapOpenAi(record: Obj, options: MappingDefaults): Mapped {
  const messages = record.messages as unknown[];
  const tools = [
    ...mapTools(record.tools, "$.tools"),
    ...mapTools(record.functions, "$.functions"),
  ];
  const out = new Out();
  const instructions: string[] = [];
  const callsById = new Map<string, Call>();
  let pendingCalls: Call[] = [];
  let leading = true;
  for (let i = 0; i < messages.length; i++) {
    const p = `$.messages[${i}]`;
    const m = messages[i];
    if (!isObj(m)) throw new RecordFormatError(p, "expected a message object");
    const role = m.role;
    if (role === "system" || role === "developer") {
      const text = textOf(m.content, `${p}.content`);
      if (leading) instructions.push(text);
      else out.push(developerMessage(text, []), p);
      continue;
    }
    leading = false;
    switch (role) {
      case "user":
        out.push({ role: "user", content: textOf(m.content, `${p}.content`) }, p);
        break;
      case "assistant": {
        const reasoning = m.reasoning_content ?? m.reasoning ?? m.thinking;
        if (typeof reasoning === "string" && reasoning !== "") {
          out.push({ role: "assistant", channel: "analysis", content: reasoning }, p);
        }
        const calls: Array<Call & { args: unknown; id?: string; path: string }> = [];
        if (Array.isArray(m.tool_calls)) {
          m.tool_calls.forEach((c, j) => {
            const cp = `${p}.tool_calls[${j}]`;
            if (!isObj(c)) throw new RecordFormatError(cp, "expected a tool call object");
            const fn = isObj(c.function) ? c.function : c;
            const namePath = fn === c ? `${cp}.name` : `${cp}.function.name`;
            if (typeof fn.name !== "string" || fn.name === "") {
              throw new RecordFormatError(namePath, "expected a function name");
            }
            calls.push({
              name: fn.name,
              namePath,
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
          const namePath = `${p}.function_call.name`;
          if (typeof fc.name !== "string") {
            throw new RecordFormatError(namePath, "expected a function name");
          }
          calls.push({ name: fc.name, namePath, args: fc.arguments, path: `${p}.function_call` });
        }
        const text = textOf(m.content, `${p}.content`);
        if (calls.length > 0) {
          // Text beside tool calls is a preamble: commentary without a recipient.
          if (text !== "") {
            out.push({ role: "assistant", channel: "commentary", content: text }, p);
          }
          pendingCalls = [];
          for (const c of calls) {
            out.push(toolCallMessage(c.name, c.args), c.path, { recipient: c.namePath });
            if (c.id !== undefined) callsById.set(c.id, c);
            pendingCalls.push(c);
          }
        } else {
          out.push({ role: "assistant", channel: "final", content: text }, p);
        }
        break;
      }
      case "tool":
      case "function": {
        let call: Call | undefined;
        const id = m.tool_call_id;
        if (typeof id === "string") {
          call = callsById.get(id);
          if (call === undefined && !options.lenientToolIds) {
            throw new RecordFormatError(
              `${p}.tool_call_id`,
              `no earlier tool call has id "${
                id.slice(0, 32)
              }" (--lenient-tool-ids: match by name or order)`,
            );
          }
        }
        if (call === undefined && typeof m.name === "string" && m.name !== "") {
          call = { name: m.name, namePath: `${p}.name` };
        }
        if (call === undefined && pendingCalls.length > 0) call = pendingCalls[0];
        if (call === undefined && tools.length === 1) {
          call = { name: tools[0].name, namePath: "$.tools[0]" };
        }
        if (call === undefined) {
          throw new RecordFormatError(
            p,
            typeof id === "string"
              ? `no tool call with id "${id.slice(0, 32)}"`
              : "cannot tell which tool answered (no tool_call_id, no name)",
          );
        }
        const name = call.name;
        const k = pendingCalls.findIndex((c) => c.name === name);
        if (k >= 0) pendingCalls.splice(k, 1);
        out.push(toolResultMessage(name, textOf(m.content, `${p}.content`)), p, {
          name: call.namePath,
        });
        break;
      }
      default:
        throw new RecordFormatError(`${p}.role`, `unknown role "${String(role).slice(0, 32)}"`);
    }
  }
  if (instructions.length > 0 || tools.length > 0) {
    out.unshift(
      developerMessage(instructions.length > 0 ? instructions.join("\n\n") : undefined, tools),
      "$",
    );
  }
  const effort = typeof record.reasoning_effort === "string" ? record.reasoning_effort : undefined;
  return { messages: out.messages, sources: out.sources, origins: out.origins, effort };
}

// ---------------------------------------------------------------------------------------------
// ShareGPT (docs/input-formats.md, "ShareGPT")

const SHAREGPT_USER = new Set(["human", "user"]);
const SHAREGPT_ASSISTANT = new Set(["gpt", "assistant", "model", "chatgpt", "bot"]);
const SHAREGPT_TOOL = new Set(["observation", "tool", "function"]);

function mapShareGpt(record: Obj): Mapped {
  const turns = record.conversations as unknown[];
  const tools = mapTools(record.tools, "$.tools");
  const out = new Out();
  const instructions: string[] = [];
  if (typeof record.system === "string" && record.system !== "") instructions.push(record.system);
  let pendingCalls: Call[] = [];
  let leading = true;
  for (let i = 0; i < turns.length; i++) {
    const p = `$.conversations[${i}]`;
    const t = turns[i];
    if (!isObj(t)) throw new RecordFormatError(p, "expected a turn object");
    const from = typeof t.from === "string" ? t.from.toLowerCase() : t.role;
    const value = textOf(t.value ?? t.content, `${p}.value`);
    if (from === "system") {
      if (leading) instructions.push(value);
      else out.push(developerMessage(value, []), p);
      continue;
    }
    leading = false;
    if (typeof from !== "string") throw new RecordFormatError(`${p}.from`, "expected a string");
    if (SHAREGPT_USER.has(from)) {
      out.push({ role: "user", content: value }, p);
    } else if (SHAREGPT_ASSISTANT.has(from)) {
      out.push({ role: "assistant", channel: "final", content: value }, p);
    } else if (from === "function_call") {
      const parsed = parseMaybeJson(value, `${p}.value`);
      const calls = Array.isArray(parsed) ? parsed : [parsed];
      pendingCalls = [];
      calls.forEach((c, j) => {
        if (!isObj(c) || typeof c.name !== "string") {
          throw new RecordFormatError(`${p}.value`, `call ${j}: expected {"name", "arguments"}`);
        }
        out.push(toolCallMessage(c.name, c.arguments ?? c.parameters), p, {
          recipient: `${p}.value`,
        });
        pendingCalls.push({ name: c.name, namePath: `${p}.value` });
      });
    } else if (SHAREGPT_TOOL.has(from)) {
      const call: Call | undefined = typeof t.name === "string" && t.name !== ""
        ? { name: t.name, namePath: `${p}.name` }
        : pendingCalls.shift() ??
          (tools.length === 1 ? { name: tools[0].name, namePath: "$.tools[0]" } : undefined);
      if (call === undefined) {
        throw new RecordFormatError(p, "observation without a preceding function_call");
      }
      out.push(toolResultMessage(call.name, value), p, { name: call.namePath });
    } else {
      throw new RecordFormatError(`${p}.from`, `unknown speaker "${from.slice(0, 32)}"`);
    }
  }
  if (instructions.length > 0 || tools.length > 0) {
    out.unshift(
      developerMessage(instructions.length > 0 ? instructions.join("\n\n") : undefined, tools),
      "$",
    );
  }
  return { messages: out.messages, sources: out.sources, origins: out.origins };
}
