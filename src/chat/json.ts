/**
 * The reference's JSON form of messages and conversations (serde derive of `src/chat.rs`), read
 * with zod validation and written field for field as serde writes it.
 *
 * Serde's rules mirrored here:
 * - `Message` is `skip_serializing_none`: `name`, `recipient`, `channel`, `content_type` are
 *   left out when unset; `author` is flattened (`role`, `name`). Field order: `role`, `name`,
 *   `recipient`, `content`, `channel`, `content_type`.
 * - `content` reads a string (one text) or a list of `{"type": …}`-tagged contents; it is written
 *   as a string when it is exactly one text, else as a list.
 * - `SystemContent`, `DeveloperContent`, `ToolNamespaceConfig`, `ToolDescription` are NOT
 *   `skip_serializing_none`: unset fields are written as `null`. Missing or `null` fields read as
 *   unset.
 * - `ChannelConfig` requires both fields. `reasoning_effort` is `"Low" | "Medium" | "High"`.
 * - Tool namespaces are a `BTreeMap` keyed by name: written in key order (UTF-8 bytes).
 * - Unknown fields are ignored.
 *
 * @module
 */

import { z } from "zod";
import { Author, isRole, type Role, ROLE_NAMES } from "./role.ts";
import {
  ChannelConfig,
  type Content,
  DeveloperContent,
  type JsonValue,
  type ReasoningEffort,
  SystemContent,
  TextContent,
  ToolDescription,
  ToolNamespaceConfig,
  type ToolNamespaces,
} from "./content.ts";
import { Conversation, Message } from "./message.ts";
import { setDataProperty, sortKeysAsBTreeMap, stringifyJson } from "./json_text.ts";

/** JSON of a text content. */
export interface TextContentJson {
  /** Tag. */
  type: "text";
  /** The text. */
  text: string;
}

/** JSON of a tool (`ToolDescription`). */
export interface ToolDescriptionJson {
  /** Tool name. */
  name: string;
  /** Tool description. */
  description: string;
  /** JSON-Schema parameters (may hold `Map`s and `JsonFloat`s; write with `stringifyJson`). */
  parameters: JsonValue | null;
}

/** JSON of a tool namespace (`ToolNamespaceConfig`). */
export interface ToolNamespaceJson {
  /** Namespace name. */
  name: string;
  /** Namespace description. */
  description: string | null;
  /** Its tools. */
  tools: ToolDescriptionJson[];
}

/** JSON of a channel configuration. */
export interface ChannelConfigJson {
  /** Valid channels. */
  valid_channels: string[];
  /** Whether a channel is required. */
  channel_required: boolean;
}

/** JSON of system content. */
export interface SystemContentJson {
  /** Tag. */
  type: "system_content";
  /** Model identity. */
  model_identity: string | null;
  /** Reasoning effort. */
  reasoning_effort: ReasoningEffort | null;
  /** Tool namespaces keyed by name. */
  tools: Record<string, ToolNamespaceJson> | null;
  /** Conversation start date. */
  conversation_start_date: string | null;
  /** Knowledge cutoff. */
  knowledge_cutoff: string | null;
  /** Channel configuration. */
  channel_config: ChannelConfigJson | null;
}

/** JSON of developer content. */
export interface DeveloperContentJson {
  /** Tag. */
  type: "developer_content";
  /** Instructions. */
  instructions: string | null;
  /** Tool namespaces keyed by name. */
  tools: Record<string, ToolNamespaceJson> | null;
}

/** JSON of any content. */
export type ContentJson = TextContentJson | SystemContentJson | DeveloperContentJson;

/** The reference's JSON form of a message, as {@link messageToJson} writes it. */
export interface MessageJson {
  /** Author role. */
  role: Role;
  /** Author name (left out when unset). */
  name?: string;
  /** Recipient (left out when unset). */
  recipient?: string;
  /** A string when the message is exactly one text, else the list of contents. */
  content: string | ContentJson[];
  /** Channel (left out when unset). */
  channel?: string;
  /** Content type (left out when unset). */
  content_type?: string;
}

// ---------------------------------------------------------------------------------------------
// Reading (zod)

const optString = z.string().nullish();

const toolDescriptionSchema = z.object({
  name: z.string(),
  description: z.string(),
  parameters: z.unknown().optional(),
});

const toolNamespaceSchema = z.object({
  name: z.string(),
  description: optString,
  tools: z.array(toolDescriptionSchema),
});

const toolsSchema = z.record(z.string(), toolNamespaceSchema).nullish();

const channelConfigSchema = z.object({
  valid_channels: z.array(z.string()),
  channel_required: z.boolean(),
});

const textSchema = z.object({ type: z.literal("text"), text: z.string() });

const systemSchema = z.object({
  type: z.literal("system_content"),
  model_identity: optString,
  reasoning_effort: z.enum(["Low", "Medium", "High"]).nullish(),
  tools: toolsSchema,
  conversation_start_date: optString,
  knowledge_cutoff: optString,
  channel_config: channelConfigSchema.nullish(),
});

const developerSchema = z.object({
  type: z.literal("developer_content"),
  instructions: optString,
  tools: toolsSchema,
});

const contentSchema = z.discriminatedUnion("type", [textSchema, systemSchema, developerSchema], {
  error: 'expected a content of type "text", "system_content" or "developer_content"',
});

const messageSchema = z.object({
  role: z.enum(ROLE_NAMES),
  name: optString,
  recipient: optString,
  // serde's `de_string_or_content_vec`: a string is one text content.
  content: z.preprocess(
    (v) => (typeof v === "string" ? [{ type: "text", text: v }] : v),
    z.array(contentSchema, { error: "expected a string or a list of contents" }),
  ),
  channel: optString,
  content_type: optString,
});

type ParsedMessage = z.infer<typeof messageSchema>;
type ParsedNamespaces = z.infer<typeof toolsSchema>;

/**
 * Turns `Map`s (from {@link parseJsonPreservingOrder}) into plain objects so zod can check the
 * structure, leaving tool `parameters` untouched: their key order matters for rendering.
 */
function plainStructure(v: unknown, depth = 0): unknown {
  if (depth > 64 || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = plainStructure(v[i], depth + 1);
      if (x !== v[i]) (out ??= v.slice())[i] = x;
    }
    return out ?? v;
  }
  const entries: Iterable<[string, unknown]> = v instanceof Map
    ? (v as Map<string, unknown>)
    : Object.entries(v);
  let changed = v instanceof Map;
  const out: Record<string, unknown> = {};
  for (const [k, x] of entries) {
    const y = k === "parameters" ? x : plainStructure(x, depth + 1);
    if (y !== x) changed = true;
    setDataProperty(out, k, y); // a "__proto__" key is data, not the prototype
  }
  return changed ? out : v;
}

function formatPath(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  let out = prefix;
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out === "" ? "(root)" : out;
}

function kindOf(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type") {
    if (issue.expected === "array" && issue.path[issue.path.length - 1] === "content") {
      return `expected a string or a list of contents, got ${kindOf(issue.input)}`;
    }
    return `expected ${issue.expected}, got ${kindOf(issue.input)}`;
  }
  if (issue.code === "invalid_value") {
    return `expected one of ${issue.values.map((x) => JSON.stringify(x)).join(", ")}`;
  }
  return issue.message;
}

function fail(prefix: string, error: z.ZodError): never {
  // Report the deepest issue first: it names the field to fix.
  const issues = [...error.issues].sort((a, b) => b.path.length - a.path.length);
  const first = issues[0];
  throw new TypeError(
    `Cannot read message: ${formatPath(prefix, first.path)}: ${issueText(first)}`,
  );
}

function toNamespaces(tools: ParsedNamespaces): ToolNamespaces | undefined {
  if (tools == null) return undefined;
  const m: ToolNamespaces = new Map();
  for (const key of Object.keys(tools)) {
    const ns = tools[key];
    m.set(
      key,
      new ToolNamespaceConfig(
        ns.name,
        ns.description ?? undefined,
        ns.tools.map((t) =>
          new ToolDescription(
            t.name,
            t.description,
            t.parameters == null ? undefined : t.parameters as JsonValue,
          )
        ),
      ),
    );
  }
  return m;
}

function toMessage(p: ParsedMessage): Message {
  const contents: Content[] = [];
  for (const c of p.content) {
    if (c.type === "text") contents.push(new TextContent(c.text));
    else if (c.type === "system_content") {
      const s = new SystemContent();
      s.modelIdentity = c.model_identity ?? undefined;
      s.reasoningEffort = c.reasoning_effort ?? undefined;
      s.tools = toNamespaces(c.tools);
      s.conversationStartDate = c.conversation_start_date ?? undefined;
      s.knowledgeCutoff = c.knowledge_cutoff ?? undefined;
      s.channelConfig = c.channel_config == null ? undefined : new ChannelConfig(
        c.channel_config.valid_channels,
        c.channel_config.channel_required,
      );
      contents.push(s);
    } else {
      const d = new DeveloperContent();
      d.instructions = c.instructions ?? undefined;
      d.tools = toNamespaces(c.tools);
      contents.push(d);
    }
  }
  const m = new Message(new Author(p.role as Role, p.name ?? undefined), contents);
  m.recipient = p.recipient ?? undefined;
  m.channel = p.channel ?? undefined;
  m.contentType = p.content_type ?? undefined;
  return m;
}

function field(o: object, key: string): unknown {
  return o instanceof Map ? o.get(key) : (o as Record<string, unknown>)[key];
}

function optStr(v: unknown): v is string | null | undefined {
  return v === undefined || v === null || typeof v === "string";
}

/**
 * The common case without zod: a valid message whose contents are all texts. Returns undefined
 * for anything else (other contents, or an invalid message: zod then names the problem).
 */
function fastTextMessage(v: unknown): Message | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  if (!(v instanceof Map) && Object.getPrototypeOf(v) !== Object.prototype) return undefined;
  const role = field(v, "role");
  const name = field(v, "name");
  const recipient = field(v, "recipient");
  const channel = field(v, "channel");
  const contentType = field(v, "content_type");
  if (typeof role !== "string" || !isRole(role)) return undefined;
  if (!optStr(name) || !optStr(recipient) || !optStr(channel) || !optStr(contentType)) {
    return undefined;
  }
  const content = field(v, "content");
  let contents: Content[];
  if (typeof content === "string") contents = [new TextContent(content)];
  else if (Array.isArray(content)) {
    contents = new Array(content.length);
    for (let i = 0; i < content.length; i++) {
      const c = content[i];
      if (typeof c !== "object" || c === null || Array.isArray(c)) return undefined;
      if (field(c, "type") !== "text") return undefined;
      const text = field(c, "text");
      if (typeof text !== "string") return undefined;
      contents[i] = new TextContent(text);
    }
  } else return undefined;
  const m = new Message(new Author(role as Role, name ?? undefined), contents);
  m.recipient = recipient ?? undefined;
  m.channel = channel ?? undefined;
  m.contentType = contentType ?? undefined;
  return m;
}

/**
 * Reads a message from the reference's JSON form (a parsed value: plain objects, or `Map`s from
 * {@link parseJsonPreservingOrder}, which keep tool-schema key order).
 *
 * @param value The parsed JSON value.
 * @param path Where the value sits, for error messages (e.g. `messages[3]`). Default: none.
 * @returns The message.
 * @throws {TypeError} naming the JSON path and what was expected, e.g.
 * `Cannot read message: messages[3].content[0].tools.functions.tools[1].name: expected string`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { messageFromJson } from "./json.ts";
 * import { TextContent } from "../mod.ts";
 * const m = messageFromJson({ role: "user", content: "Hi" });
 * strictEqual(m.content[0] instanceof TextContent && m.content[0].text, "Hi");
 * ```
 */
export function messageFromJson(value: unknown, path = ""): Message {
  const fast = fastTextMessage(value);
  if (fast !== undefined) return fast;
  const r = messageSchema.safeParse(plainStructure(value), { reportInput: true });
  if (!r.success) fail(path, r.error);
  return toMessage(r.data);
}

/**
 * Reads a conversation `{"messages": [...]}` from the reference's JSON form.
 *
 * @throws {TypeError} naming the JSON path (`messages[i]…`) of the first problem.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { conversationFromJson } from "./json.ts";
 * const c = conversationFromJson({ messages: [{ role: "user", content: "Hi" }] });
 * strictEqual(c.messages.length, 1);
 * ```
 */
export function conversationFromJson(value: unknown): Conversation {
  const v = value instanceof Map ? Object.fromEntries(value) : value;
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new TypeError("Cannot read conversation: expected an object with a messages list");
  }
  const messages = (v as Record<string, unknown>).messages;
  if (!Array.isArray(messages)) {
    throw new TypeError(
      `Cannot read conversation: messages: expected array${
        messages === undefined ? ", got nothing" : ""
      }`,
    );
  }
  const out: Message[] = new Array(messages.length);
  for (let i = 0; i < messages.length; i++) out[i] = messageFromJson(messages[i], `messages[${i}]`);
  return new Conversation(out);
}

// ---------------------------------------------------------------------------------------------
// Writing

function namespacesToJson(
  tools: ToolNamespaces | undefined,
): Record<string, ToolNamespaceJson> | null {
  if (tools === undefined) return null;
  const out: Record<string, ToolNamespaceJson> = {};
  for (const key of sortKeysAsBTreeMap(tools.keys())) {
    const ns = tools.get(key)!;
    out[key] = {
      name: ns.name,
      description: ns.description ?? null,
      tools: ns.tools.map((t) => ({
        name: t.name,
        description: t.description,
        parameters: t.parameters ?? null,
      })),
    };
  }
  return out;
}

function contentToJson(c: Content): ContentJson {
  if (c.type === "text") {
    return { type: "text", text: c.text };
  }
  if (c.type === "system_content") {
    return {
      type: "system_content",
      model_identity: c.modelIdentity ?? null,
      reasoning_effort: c.reasoningEffort ?? null,
      tools: namespacesToJson(c.tools),
      conversation_start_date: c.conversationStartDate ?? null,
      knowledge_cutoff: c.knowledgeCutoff ?? null,
      channel_config: c.channelConfig === undefined ? null : {
        valid_channels: [...c.channelConfig.validChannels],
        channel_required: c.channelConfig.channelRequired,
      },
    };
  }
  return {
    type: "developer_content",
    instructions: c.instructions ?? null,
    tools: namespacesToJson(c.tools),
  };
}

/**
 * Writes a message in the reference's JSON form (field order and left-out fields as serde).
 * Tool `parameters` are passed through as they are (`Map`s included): write the result with
 * {@link stringifyJson} (or {@link conversationToJsonText}) to keep their key order;
 * `JSON.stringify` would print `Map`s as `{}`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { messageToJson } from "./json.ts";
 * import { Message, Role } from "../mod.ts";
 * deepStrictEqual(messageToJson(Message.fromRoleAndContent(Role.User, "Hi")), { role: "user", content: "Hi" });
 * ```
 */
export function messageToJson(m: Message): MessageJson {
  const out: MessageJson = { role: m.author.role } as MessageJson;
  if (m.author.name !== undefined) out.name = m.author.name;
  if (m.recipient !== undefined) out.recipient = m.recipient;
  const c = m.content;
  out.content = c.length === 1 && c[0].type === "text"
    ? (c[0] as TextContent).text
    : c.map(contentToJson);
  if (m.channel !== undefined) out.channel = m.channel;
  if (m.contentType !== undefined) out.content_type = m.contentType;
  return out;
}

/**
 * Writes a conversation as `{"messages": [...]}` in the reference's JSON form.
 *
 * @example
 * ```ts
 * import { conversationToJson } from "./json.ts";
 * import { Conversation, Message, Role } from "../mod.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(conversationToJson(new Conversation([Message.fromRoleAndContent(Role.User, "Hi")])), {
 *   messages: [{ role: "user", content: "Hi" }],
 * });
 * ```
 */
export function conversationToJson(c: Conversation): { messages: MessageJson[] } {
  return { messages: c.messages.map(messageToJson) };
}

/**
 * Writes a conversation as compact JSON text exactly as serde_json would (tool-schema key order
 * kept, floats as `1.0`).
 *
 * @example
 * ```ts
 * import { conversationToJsonText } from "./json.ts";
 * import { Conversation, Message, Role } from "../mod.ts";
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(
 *   conversationToJsonText(new Conversation([Message.fromRoleAndContent(Role.User, "Hi")])),
 *   '{"messages":[{"role":"user","content":"Hi"}]}',
 * );
 * ```
 */
export function conversationToJsonText(c: Conversation): string {
  return stringifyJson(conversationToJson(c) as unknown as JsonValue);
}

/**
 * Writes a message as compact JSON text exactly as serde_json would.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { messageToJsonText } from "./json.ts";
 * import { Message, Role } from "../mod.ts";
 * strictEqual(messageToJsonText(Message.fromRoleAndContent(Role.User, "Hi")), '{"role":"user","content":"Hi"}');
 * ```
 */
export function messageToJsonText(m: Message): string {
  return stringifyJson(messageToJson(m) as unknown as JsonValue);
}

export { parseJsonPreservingOrder, stringifyJson } from "./json_text.ts";
