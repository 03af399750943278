/**
 * Conversions between harmony messages and the formats the rest of the stack speaks: the OpenAI
 * chat-completions assistant message ({@link toChatCompletionMessage}), Responses API output items
 * ({@link toResponsesOutput}) and Responses-style input items back to harmony messages
 * ({@link fromResponsesInput}). The mapping follows vLLM's (`harmony_utils.py`, the gpt-oss tool
 * parser and `responses/harmony.py`); docs/parse-dataset.md ("Conversions") states every rule.
 * Ids are deterministic (`<kind>_<idPrefix>_<k>`), not vLLM's random uuids, so a record's output
 * does not change between runs.
 *
 * @module
 */

import { Author, Role } from "../chat/role.ts";
import { DeveloperContent } from "../chat/content.ts";
import { Message } from "../chat/message.ts";
import { messageText } from "./completion.ts";

/** The built-in tools vLLM maps to MCP server labels (`BUILTIN_TOOL_TO_MCP_SERVER_LABEL`). */
const BUILTIN_TOOLS: ReadonlyMap<string, string> = new Map([
  ["python", "code_interpreter"],
  ["browser", "web_search_preview"],
  ["container", "container"],
]);

/** Options of the conversions. */
export interface ConversionOptions {
  /** Makes ids unique across records: `call_<idPrefix>_<k>` (default: no prefix, `call_<k>`). */
  idPrefix?: string;
  /** The last message was cut off (stop `none`): its output item gets `status: "incomplete"`. */
  incomplete?: boolean;
}

/** A tool call of a chat-completions message. */
export interface ChatToolCall {
  /** `call_<idPrefix>_<k>`, k counting the message's function calls from 0. */
  id: string;
  /** Always `function`. */
  type: "function";
  /** The function and its arguments (the message text, unchanged). */
  function: { name: string; arguments: string };
}

/** The OpenAI chat-completions assistant message. */
export interface ChatCompletionMessage {
  /** Always `assistant`. */
  role: "assistant";
  /** The last final-channel text, else the last preamble (commentary without recipient), or null. */
  content: string | null;
  /** The analysis texts joined with `"\n"`, or null. */
  reasoning_content: string | null;
  /** The function calls, in order. */
  tool_calls: ChatToolCall[];
}

/** One Responses API item (output or input), as plain JSON. */
// deno-lint-ignore no-explicit-any
export type ResponsesItem = { type?: string; [key: string]: any };

function id(kind: string, options: ConversionOptions | undefined, k: number): string {
  const p = options?.idPrefix;
  return p === undefined || p === "" ? `${kind}_${k}` : `${kind}_${p}_${k}`;
}

/**
 * Whether a recipient is a function call (vLLM `is_function_recipient` without a tool list):
 * `functions.NAME`, or a bare name that is not `assistant`, a `<|…` token or a built-in tool
 * (`python`, `browser`, `container`, with or without a `.action`).
 */
function isFunctionRecipient(recipient: string): boolean {
  if (recipient === "" || recipient.startsWith("<|") || recipient === "assistant") return false;
  if (recipient.startsWith("functions.")) return recipient.length > "functions.".length;
  const dot = recipient.indexOf(".");
  return !BUILTIN_TOOLS.has(dot < 0 ? recipient : recipient.slice(0, dot));
}

function functionName(recipient: string): string {
  return recipient.startsWith("functions.") ? recipient.slice("functions.".length) : recipient;
}

/**
 * The OpenAI chat-completions assistant message of a completion's messages (vLLM's gpt-oss tool
 * parser and `parse_chat_output`): `content` is the last final-channel text (else the last
 * preamble, null when neither), `reasoning_content` the analysis texts joined with `"\n"`,
 * `tool_calls` the function calls with their text as `arguments`. Calls to built-in tools
 * (`browser.*`, `python`, `container.*`) and non-assistant messages are left out.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { Message, Role } from "../mod.ts";
 * import { toChatCompletionMessage } from "./conversions.ts";
 * const messages = [
 *   Message.fromRoleAndContent(Role.Assistant, "Need weather.").withChannel("analysis"),
 *   Message.fromRoleAndContent(Role.Assistant, '{"city":"Oslo"}').withChannel("commentary")
 *     .withRecipient("functions.get_weather").withContentType("<|constrain|>json"),
 * ];
 * deepStrictEqual(toChatCompletionMessage(messages, { idPrefix: "7_0" }), {
 *   role: "assistant",
 *   content: null,
 *   reasoning_content: "Need weather.",
 *   tool_calls: [{
 *     id: "call_7_0_0",
 *     type: "function",
 *     function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
 *   }],
 * });
 * ```
 */
export function toChatCompletionMessage(
  messages: readonly Message[],
  options?: ConversionOptions,
): ChatCompletionMessage {
  let final: string | null = null;
  let preamble: string | null = null;
  const reasoning: string[] = [];
  const calls: ChatToolCall[] = [];
  for (const m of messages) {
    if (m.author.role !== Role.Assistant) continue;
    const text = messageText(m);
    if (m.recipient !== undefined) {
      if (!isFunctionRecipient(m.recipient)) continue;
      calls.push({
        id: id("call", options, calls.length),
        type: "function",
        function: { name: functionName(m.recipient), arguments: text },
      });
    } else if (m.channel === "analysis") reasoning.push(text);
    else if (m.channel === "final") final = text;
    else if (m.channel === "commentary") preamble = text;
  }
  const joined = reasoning.join("\n");
  return {
    role: "assistant",
    content: final || preamble || null,
    reasoning_content: joined === "" ? null : joined,
    tool_calls: calls,
  };
}

function parseBrowserArgs(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text);
    if (v !== null && typeof v === "object" && !Array.isArray(v)) return v;
  } catch {
    // vLLM's placeholder below
  }
  const placeholder = `Invalid JSON args, caught and retried: ${text}`;
  return { query: placeholder, url: placeholder, pattern: placeholder };
}

function argString(v: unknown): string {
  return v === undefined || v === null ? "" : String(v);
}

const BROWSER_ACTIONS = new Set(["browser.search", "browser.open", "browser.find"]);

/**
 * The Responses API output items of a completion's messages (vLLM `harmony_to_response_output`),
 * one or none per message: analysis → `reasoning`; final or preamble → `message` with
 * `output_text`; a function call → `function_call`; `browser.search|open|find` →
 * `web_search_call`; `python` / `container` → `reasoning`; other recipients → `mcp_call`;
 * non-assistant messages → none. Ids are `<kind>_<idPrefix>_<k>` with k the item's index
 * (`call_id`: k counts function calls, as in {@link toChatCompletionMessage}).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { Message, Role } from "../mod.ts";
 * import { toResponsesOutput } from "./conversions.ts";
 * const items = toResponsesOutput(
 *   [Message.fromRoleAndContent(Role.Assistant, "42").withChannel("final")],
 *   { idPrefix: "3_1" },
 * );
 * deepStrictEqual(items, [{
 *   type: "message",
 *   id: "msg_3_1_0",
 *   role: "assistant",
 *   status: "completed",
 *   content: [{ type: "output_text", text: "42", annotations: [] }],
 * }]);
 * ```
 */
export function toResponsesOutput(
  messages: readonly Message[],
  options?: ConversionOptions,
): ResponsesItem[] {
  const items: ResponsesItem[] = [];
  let calls = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m.author.role !== Role.Assistant) continue;
    const status = options?.incomplete && i === messages.length - 1 ? "incomplete" : "completed";
    const text = messageText(m);
    const r = m.recipient;
    const k = items.length;
    if (r === undefined) {
      if (m.channel === "analysis") items.push(reasoningItem(id("rs", options, k), text));
      else {
        items.push({
          type: "message",
          id: id("msg", options, k),
          role: "assistant",
          status,
          content: [{ type: "output_text", text, annotations: [] }],
        });
      }
    } else if (r.startsWith("browser.") && BROWSER_ACTIONS.has(r)) {
      if (status === "incomplete") continue; // vLLM: no item for a cut-off browser call
      const a = parseBrowserArgs(text);
      const action = r === "browser.search"
        ? { type: "search", query: `cursor:${argString(a.query)}` }
        : r === "browser.open"
        ? { type: "open_page", url: `cursor:${argString(a.url)}` }
        : {
          type: "find_in_page",
          pattern: argString(a.pattern),
          url: `cursor:${argString(a.url)}`,
        };
      items.push({
        type: "web_search_call",
        id: id("ws", options, k),
        status: "completed",
        action,
      });
    } else if (isFunctionRecipient(r)) {
      items.push({
        type: "function_call",
        id: id("fc", options, k),
        call_id: id("call", options, calls++),
        name: functionName(r),
        arguments: text,
        status,
      });
    } else if (BUILTIN_TOOLS.has(r)) {
      items.push(reasoningItem(id("rs", options, k), text));
    } else {
      const dot = r.indexOf(".");
      items.push({
        type: "mcp_call",
        id: id("mcp", options, k),
        server_label: dot < 0 ? r : r.slice(0, dot),
        name: dot < 0 ? r : r.slice(r.lastIndexOf(".") + 1),
        arguments: text,
        status,
      });
    }
  }
  return items;
}

function reasoningItem(itemId: string, text: string): ResponsesItem {
  return {
    type: "reasoning",
    id: itemId,
    summary: [],
    content: [{ type: "reasoning_text", text }],
  };
}

/** The texts of a Responses content (a string, or parts with `text`), one per part. */
function partTexts(content: unknown): string[] {
  if (typeof content === "string") return [content];
  if (!Array.isArray(content)) return [];
  const out: string[] = [];
  for (const part of content) {
    if (typeof part === "string") out.push(part);
    else if (part !== null && typeof part === "object" && typeof part.text === "string") {
      out.push(part.text);
    } else out.push("");
  }
  return out;
}

/** Options of {@link fromResponsesInput}. */
export interface FromResponsesOptions {
  /**
   * The content type of a `function_call`'s message (default `json`, as vLLM; the model itself
   * writes `<|constrain|>json`).
   */
  functionCallContentType?: string;
}

/**
 * Harmony messages of Responses API input items, for rendering Responses-style logs (vLLM
 * `response_input_to_harmony`): a `message` (or an item without `type`) keeps its role — system
 * and developer become a developer message with the text as instructions (none when empty),
 * assistant text goes to the final channel; `reasoning` → analysis (texts joined with `"\n"`,
 * none when empty); `function_call` → commentary to `functions.NAME` with content type `json`;
 * `function_call_output` → a tool message from `functions.NAME` (NAME looked up by `call_id`)
 * to `assistant` on commentary.
 *
 * @throws {TypeError} on an unknown item type or a `function_call_output` without its call.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { fromResponsesInput } from "./conversions.ts";
 * import { messageToJson } from "../chat/json.ts";
 * const messages = fromResponsesInput([
 *   { type: "message", role: "user", content: [{ type: "input_text", text: "Weather?" }] },
 *   { type: "function_call", call_id: "c1", name: "get_weather", arguments: "{}" },
 *   { type: "function_call_output", call_id: "c1", output: "sunny" },
 * ]);
 * deepStrictEqual(messageToJson(messages[2]), {
 *   role: "tool", name: "functions.get_weather", content: "sunny",
 *   recipient: "assistant", channel: "commentary",
 * });
 * ```
 */
export function fromResponsesInput(
  items: readonly ResponsesItem[],
  options?: FromResponsesOptions,
): Message[] {
  const out: Message[] = [];
  const names = new Map<string, string>();
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const type = item.type ?? "message";
    if (type === "message") {
      const role = item.role;
      if (role === "system" || role === "developer") {
        const text = partTexts(item.content).join("");
        if (text !== "") {
          out.push(
            Message.fromRoleAndContent(
              Role.Developer,
              DeveloperContent.new().withInstructions(text),
            ),
          );
        }
        continue;
      }
      if (role !== "user" && role !== "assistant") {
        throw new TypeError(`Cannot convert Responses input item ${i}: unknown role ${role}`);
      }
      const m = Message.fromRoleAndContents(role, partTexts(item.content));
      out.push(role === "assistant" ? m.withChannel("final") : m);
    } else if (type === "reasoning") {
      const text = partTexts(item.content).join("\n");
      if (Array.isArray(item.content) && item.content.length > 0) {
        out.push(Message.fromRoleAndContent(Role.Assistant, text).withChannel("analysis"));
      }
    } else if (type === "function_call") {
      names.set(String(item.call_id), String(item.name));
      out.push(
        Message.fromRoleAndContent(Role.Assistant, String(item.arguments ?? ""))
          .withChannel("commentary")
          .withRecipient(`functions.${item.name}`)
          .withContentType(options?.functionCallContentType ?? "json"),
      );
    } else if (type === "function_call_output") {
      const name = names.get(String(item.call_id));
      if (name === undefined) {
        throw new TypeError(
          `Cannot convert Responses input item ${i}: no function_call with call_id ${item.call_id}`,
        );
      }
      const output = typeof item.output === "string"
        ? item.output
        : partTexts(item.output).join("");
      out.push(
        Message.fromAuthorAndContent(new Author(Role.Tool, `functions.${name}`), output)
          .withChannel("commentary")
          .withRecipient("assistant"),
      );
    } else {
      throw new TypeError(`Cannot convert Responses input item ${i}: unknown type ${type}`);
    }
  }
  return out;
}
