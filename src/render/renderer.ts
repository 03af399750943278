/**
 * The harmony renderer (reference: `src/encoding.rs`, `Render<Message>` and
 * `render_conversation_into`), written once against a small sink so the same rules produce
 * tokens directly (CPU, one conversation) or a plan of special-token ids and text segments that a
 * batch backend tokenizes together.
 *
 * Every text piece the reference tokenizes on its own (role, `:name`, ` to=recipient`, channel,
 * content type, each content) is a separate segment: pieces are never joined before BPE, so the
 * token boundaries are the reference's. Text is never turned into special tokens.
 *
 * @module
 */

import type { Message } from "../chat/message.ts";
import type {
  Content,
  DeveloperContent,
  SystemContent,
  ToolNamespaceConfig,
  ToolNamespaces,
} from "../chat/content.ts";
import type { Role } from "../chat/role.ts";
import { sortKeysAsBTreeMap } from "../chat/json_text.ts";
import { toolsSection } from "./schema_to_typescript.ts";

/** Options of conversation rendering (reference: `RenderConversationConfig`). */
export interface RenderConversationConfig {
  /**
   * Drop `analysis` messages before the first `final` message when the last assistant message
   * is `final`. Default: `true` (as the reference's Python and JS bindings).
   */
  autoDropAnalysis?: boolean;
}

/** Options of single-message rendering (reference: `RenderOptions`). */
export interface RenderOptions {
  /**
   * Whether the conversation has function tools: adds the "Calls to these tools must go to the
   * commentary channel" line to a system message's channels. Default: `false`.
   */
  conversationHasFunctionTools?: boolean;
}

/** The special-token ids the renderer writes. */
export interface FormattingTokens {
  /** `<|start|>` */
  start: number;
  /** `<|message|>` */
  message: number;
  /** `<|end|>` */
  end: number;
  /** `<|return|>` */
  return: number;
  /** `<|call|>` */
  call: number;
  /** `<|channel|>` */
  channel: number;
  /** `<|constrain|>` */
  constrain: number;
}

/** Where rendered output goes. Positions are opaque numbers ordered as the output. */
export interface RenderSink {
  /** Appends one special token. */
  special(id: number): void;
  /**
   * Appends the ordinary tokens of `text`. `shared` marks text that repeats across messages and
   * conversations (header pieces, system and developer sections) and is worth caching.
   */
  text(text: string, shared: boolean): void;
  /** The current position. */
  mark(): number;
  /** Replaces the last token written (it is always a special token). */
  replaceLast(id: number): void;
}

/** A rendered message's extent, in sink positions. */
export interface MessageMarks {
  /** Index of the message in the conversation. */
  messageIndex: number;
  /** Position of `<|start|>`. */
  start: number;
  /** Position after the role/name pieces of the header (where sampling starts). */
  sampledStart: number;
  /** Position after the stop token. */
  end: number;
}

/**
 * A rendering error: what is wrong and in which message (reference errors: a tool message without
 * a name, system or developer content in another role's message).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { HarmonyRenderError } from "./renderer.ts";
 * const e = new HarmonyRenderError("Cannot render message 2: a tool message needs a name", 2);
 * strictEqual(e.messageIndex, 2);
 * ```
 */
export class HarmonyRenderError extends TypeError {
  /** Index of the offending message in the conversation (0 for a single message). */
  readonly messageIndex: number;
  /** Creates the error. */
  constructor(message: string, messageIndex: number) {
    super(message);
    this.name = "HarmonyRenderError";
    this.messageIndex = messageIndex;
  }
}

const CONSTRAIN = "<|constrain|>";

function namespacesInOrder(tools: ToolNamespaces): ToolNamespaceConfig[] {
  if (tools.size === 1) return [...tools.values()];
  return sortKeysAsBTreeMap(tools.keys()).map((k) => tools.get(k)!);
}

/**
 * The text of a system content (reference: `Render<SystemContent>`): identity, knowledge cutoff
 * and date; reasoning effort; tools; valid channels (plus the `functions` line when the
 * conversation has function tools), sections separated by a blank line.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { systemContentText } from "./renderer.ts";
 * import { SystemContent } from "../chat/content.ts";
 * strictEqual(systemContentText(new SystemContent().withReasoningEffort("High"), false), "Reasoning: high");
 * ```
 */
export function systemContentText(sys: SystemContent, hasFunctionTools: boolean): string {
  const sections: string[] = [];
  const top: string[] = [];
  if (sys.modelIdentity !== undefined) top.push(sys.modelIdentity);
  if (sys.knowledgeCutoff !== undefined) top.push(`Knowledge cutoff: ${sys.knowledgeCutoff}`);
  if (sys.conversationStartDate !== undefined) {
    top.push(`Current date: ${sys.conversationStartDate}`);
  }
  if (top.length > 0) sections.push(top.join("\n"));
  if (sys.reasoningEffort !== undefined) {
    sections.push(`Reasoning: ${sys.reasoningEffort.toLowerCase()}`);
  }
  if (sys.tools !== undefined && sys.tools.size > 0) {
    sections.push(toolsSection(namespacesInOrder(sys.tools)));
  }
  const cc = sys.channelConfig;
  if (cc !== undefined && cc.validChannels.length > 0) {
    let header = `# Valid channels: ${cc.validChannels.join(", ")}.`;
    if (cc.channelRequired) header += " Channel must be included for every message.";
    if (hasFunctionTools) {
      header += "\nCalls to these tools must go to the commentary channel: 'functions'.";
    }
    sections.push(header);
  }
  return sections.join("\n\n");
}

/**
 * The text of a developer content (reference: `Render<DeveloperContent>`).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { developerContentText } from "./renderer.ts";
 * import { DeveloperContent } from "../chat/content.ts";
 * strictEqual(developerContentText(DeveloperContent.new().withInstructions("Be brief")), "# Instructions\n\nBe brief");
 * ```
 */
export function developerContentText(dev: DeveloperContent): string {
  const sections: string[] = [];
  if (dev.instructions !== undefined) {
    sections.push("# Instructions");
    sections.push(dev.instructions);
  }
  if (dev.tools !== undefined && dev.tools.size > 0) {
    sections.push(toolsSection(namespacesInOrder(dev.tools)));
  }
  return sections.join("\n\n");
}

/**
 * Renders one message into a sink (reference: `Render<Message>::render`).
 *
 * @returns the message's marks.
 * @throws {HarmonyRenderError} for a tool message without a name, or system/developer content in
 * a message of another role.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { renderMessageInto } from "./renderer.ts";
 * import { DirectSink, SegmentCache } from "./plan.ts";
 * import { loadHarmonyEncoding } from "../encoding/mod.ts";
 * import { Message, Role } from "../mod.ts";
 * const enc = await loadHarmonyEncoding("HarmonyGptOss");
 * const sink = new DirectSink(enc.tokenizer, new SegmentCache());
 * renderMessageInto(sink, enc.formattingTokens, Message.fromRoleAndContent(Role.User, "Hi"), false, 0);
 * deepStrictEqual(sink.buf.toArray(), new Uint32Array([200006, 1428, 200008, 12194, 200007]));
 * ```
 */
export function renderMessageInto(
  sink: RenderSink,
  tokens: FormattingTokens,
  message: Message,
  hasFunctionTools: boolean,
  messageIndex: number,
): MessageMarks {
  const start = sink.mark();
  const role = message.author.role;
  const name = message.author.name;
  sink.special(tokens.start);
  if (role === "tool") {
    if (name === undefined) {
      throw new HarmonyRenderError(
        `Cannot render message ${messageIndex}: a tool message needs an author name (e.g. "functions.get_weather")`,
        messageIndex,
      );
    }
    sink.text(name, true);
  } else {
    sink.text(role, true);
    if (name !== undefined) sink.text(`:${name}`, true);
  }
  const sampledStart = sink.mark();
  const recipient = message.recipient;
  if (recipient !== undefined && recipient !== "all") sink.text(` to=${recipient}`, true);
  if (message.channel !== undefined) {
    sink.special(tokens.channel);
    sink.text(message.channel, true);
  }
  const ct = message.contentType;
  if (ct !== undefined) {
    // `<|constrain|>` at the start of a content type is the special token (reference rule).
    if (ct.startsWith(CONSTRAIN)) {
      sink.text(" ", true);
      sink.special(tokens.constrain);
      const rest = ct.slice(CONSTRAIN.length);
      if (rest !== "") sink.text(rest, true);
    } else {
      sink.text(` ${ct}`, true);
    }
  }
  sink.special(tokens.message);
  const contents = message.content;
  for (let i = 0; i < contents.length; i++) {
    renderContent(sink, contents[i], role, hasFunctionTools, messageIndex);
  }
  sink.special(role === "assistant" && recipient !== undefined ? tokens.call : tokens.end);
  return { messageIndex, start, sampledStart, end: sink.mark() };
}

function renderContent(
  sink: RenderSink,
  c: Content,
  role: Role,
  hasFunctionTools: boolean,
  messageIndex: number,
): void {
  switch (c.type) {
    case "text":
      sink.text(c.text, false);
      return;
    case "system_content":
      if (role !== "system") {
        throw new HarmonyRenderError(
          `Cannot render message ${messageIndex}: system content may only appear in system messages, found in a ${role} message`,
          messageIndex,
        );
      }
      sink.text(systemContentText(c, hasFunctionTools), true);
      return;
    case "developer_content":
      if (role !== "developer") {
        throw new HarmonyRenderError(
          `Cannot render message ${messageIndex}: developer content may only appear in developer messages, found in a ${role} message`,
          messageIndex,
        );
      }
      sink.text(developerContentText(c), true);
      return;
  }
}

/**
 * Whether any developer content has a non-empty `functions` namespace (reference rule).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { hasFunctionTools } from "./renderer.ts";
 * import { DeveloperContent, Message, Role, ToolDescription } from "../mod.ts";
 * const dev = DeveloperContent.new().withFunctionTools([new ToolDescription("f", "F")]);
 * strictEqual(hasFunctionTools([Message.fromRoleAndContent(Role.Developer, dev)]), true);
 * ```
 */
export function hasFunctionTools(messages: readonly Message[]): boolean {
  for (const m of messages) {
    for (const c of m.content) {
      if (c.type === "developer_content" && c.tools !== undefined) {
        const ns = c.tools.get("functions");
        if (ns !== undefined && ns.tools.length > 0) return true;
      }
    }
  }
  return false;
}

/**
 * Which messages are rendered: all, except (when `autoDropAnalysis` and the last assistant
 * message is `final`) `analysis` messages before the first `final` message.
 */
export function keptMessages(
  messages: readonly Message[],
  config: RenderConversationConfig | undefined,
): boolean[] {
  const keep = new Array<boolean>(messages.length).fill(true);
  if (config?.autoDropAnalysis === false) return keep;
  let lastAssistantIsFinal = false;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].author.role === "assistant") {
      lastAssistantIsFinal = messages[i].channel === "final";
      break;
    }
  }
  if (!lastAssistantIsFinal) return keep;
  let firstFinal = -1;
  for (let i = 0; i < messages.length; i++) {
    if (messages[i].channel === "final") {
      firstFinal = i;
      break;
    }
  }
  for (let i = 0; i < firstFinal; i++) {
    if (messages[i].channel === "analysis") keep[i] = false;
  }
  return keep;
}

/** How a conversation is rendered. */
export type RenderMode = "completion" | "conversation" | "training";

/**
 * Renders a conversation into a sink: the messages (analysis dropped per `config`), then for
 * `completion` `<|start|>` and the next role, or for `training` `<|return|>` in place of the last
 * token when the last message is an assistant `final` message.
 *
 * @returns the marks of the rendered messages, in order.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { renderConversationInto } from "./renderer.ts";
 * import { DirectSink, SegmentCache } from "./plan.ts";
 * import { loadHarmonyEncoding } from "../encoding/mod.ts";
 * import { Message, Role } from "../mod.ts";
 * const enc = await loadHarmonyEncoding("HarmonyGptOss");
 * const sink = new DirectSink(enc.tokenizer, new SegmentCache());
 * const msgs = [Message.fromRoleAndContent(Role.User, "Hi")];
 * renderConversationInto(sink, enc.formattingTokens, msgs, "completion", "assistant", undefined);
 * strictEqual(sink.buf.length, 7);
 * ```
 */
export function renderConversationInto(
  sink: RenderSink,
  tokens: FormattingTokens,
  messages: readonly Message[],
  mode: RenderMode,
  nextRole: Role | undefined,
  config: RenderConversationConfig | undefined,
): MessageMarks[] {
  const fnTools = hasFunctionTools(messages);
  const keep = keptMessages(messages, config);
  const marks: MessageMarks[] = [];
  for (let i = 0; i < messages.length; i++) {
    if (keep[i]) marks.push(renderMessageInto(sink, tokens, messages[i], fnTools, i));
  }
  if (mode === "completion") {
    sink.special(tokens.start);
    sink.text(nextRole ?? "assistant", true);
  } else if (mode === "training" && messages.length > 0) {
    const last = messages[messages.length - 1];
    if (last.author.role === "assistant" && last.channel === "final" && sink.mark() > 0) {
      sink.replaceLast(tokens.return);
    }
  }
  return marks;
}
