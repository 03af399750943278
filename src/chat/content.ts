/**
 * Message contents: text, system content and developer content, with the tool namespaces they carry
 * (reference: `src/chat.rs`). Builders mutate and return `this`, as the Python bindings do.
 *
 * @module
 */

/**
 * A JSON value, as tool parameters (JSON Schema) hold them. An object is either a plain object
 * (convenient when writing schemas in code) or a `Map` (what the order-preserving JSON reader
 * produces). Property order is significant for rendering tool schemas: the reference keeps the
 * order the JSON was written in (serde_json `preserve_order`), integer-like keys ("0", "10")
 * included, which plain JS objects reorder; a `Map` keeps it.
 */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | JsonObject
  | JsonMap
  | JsonFloat;

/**
 * A JSON number written with a fraction or exponent whose value is an integer (`1.0`, `2e3`).
 * serde_json keeps such a number a float and prints it back as `1.0`, `2000.0`; a JS `number`
 * cannot tell `1.0` from `1`, so the order-preserving JSON reader wraps these. A plain JS
 * `number` that is an integer renders as an integer, any other `number` as a float.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { JsonFloat } from "./content.ts";
 * const ten = new JsonFloat(10); // renders as `10.0` in a tool schema's default
 * strictEqual(JSON.stringify({ d: ten }), '{"d":10}');
 * ```
 */
export class JsonFloat {
  /** The number's value. */
  readonly value: number;
  /** Wraps a float value. */
  constructor(value: number) {
    this.value = value;
  }
  /** `JSON.stringify` writes the plain number. */
  toJSON(): number {
    return this.value;
  }
}

/** A JSON object written as a plain object. */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** A JSON object that keeps its keys in written order. */
export type JsonMap = Map<string, JsonValue>;

/** Reasoning effort of a system message, in the reference's spelling. */
export const ReasoningEffort = {
  Low: "Low",
  Medium: "Medium",
  High: "High",
} as const;

/** `"Low" | "Medium" | "High"`. */
export type ReasoningEffort = typeof ReasoningEffort[keyof typeof ReasoningEffort];

/** Plain text content. */
export class TextContent {
  /** Discriminant, as in the reference JSON (`{"type": "text", "text": ...}`). */
  readonly type = "text" as const;
  /** The text. Never turned into special tokens when rendered. */
  text: string;

  /** Creates text content. */
  constructor(text: string) {
    this.text = text;
  }
}

/** One tool: a name, a description, and JSON-Schema parameters (reference: `ToolDescription`). */
export class ToolDescription {
  /** The tool's name, e.g. `get_weather`. */
  name: string;
  /** The tool's description. */
  description: string;
  /** JSON-Schema parameters, or undefined for a tool without parameters. */
  parameters: JsonValue | undefined;

  /** Creates a tool description. */
  constructor(name: string, description: string, parameters?: JsonValue) {
    this.name = name;
    this.description = description;
    this.parameters = parameters;
  }

  /** Creates a tool description (reference: `ToolDescription::new`). */
  static new(name: string, description: string, parameters?: JsonValue): ToolDescription {
    return new ToolDescription(name, description, parameters);
  }
}

/** Channel configuration of a system message (reference: `ChannelConfig`). */
export class ChannelConfig {
  /** Valid channels; when empty, the channels line is not rendered. */
  validChannels: string[];
  /** Whether every assistant message must carry a channel. */
  channelRequired: boolean;

  /** Creates a channel configuration. */
  constructor(validChannels: string[] = [], channelRequired = false) {
    this.validChannels = validChannels;
    this.channelRequired = channelRequired;
  }

  /** A configuration that requires one of `channels` (reference: `ChannelConfig::require_channels`). */
  static requireChannels(channels: Iterable<string>): ChannelConfig {
    return new ChannelConfig([...channels], true);
  }
}

/** A namespace of tools (reference: `ToolNamespaceConfig`), e.g. `functions`, `browser`, `python`. */
export class ToolNamespaceConfig {
  /** The namespace's name. */
  name: string;
  /** The namespace's description, rendered as a comment above it. */
  description: string | undefined;
  /** The tools in the namespace. */
  tools: ToolDescription[];

  /** Creates a tool namespace. */
  constructor(name: string, description: string | undefined, tools: ToolDescription[]) {
    this.name = name;
    this.description = description;
    this.tools = tools;
  }

  /** Creates a tool namespace (reference: `ToolNamespaceConfig::new`). */
  static new(
    name: string,
    description: string | undefined,
    tools: ToolDescription[],
  ): ToolNamespaceConfig {
    return new ToolNamespaceConfig(name, description, tools);
  }

  /** The built-in browser namespace, text identical to the reference. */
  static browser(): ToolNamespaceConfig {
    return builtinBrowser();
  }

  /** The built-in python namespace, text identical to the reference. */
  static python(): ToolNamespaceConfig {
    return builtinPython();
  }
}

/**
 * Tool namespaces keyed by name. Iteration order must be the reference's `BTreeMap` order (by
 * name, in UTF-8 byte order); use {@link sortedNamespaces} when rendering.
 */
export type ToolNamespaces = Map<string, ToolNamespaceConfig>;

/** Namespaces in the reference's `BTreeMap` order: by name, compared as UTF-8 bytes. */
export function sortedNamespaces(tools: ToolNamespaces): ToolNamespaceConfig[] {
  const enc = new TextEncoder();
  return [...tools.values()].sort((a, b) => compareBytes(enc.encode(a.name), enc.encode(b.name)));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/** Content of a system message (reference: `SystemContent`). */
export class SystemContent {
  /** Discriminant, as in the reference JSON. */
  readonly type = "system_content" as const;
  /** Model identity line. */
  modelIdentity: string | undefined;
  /** Reasoning effort. */
  reasoningEffort: ReasoningEffort | undefined;
  /** Built-in tool namespaces (browser, python, …). */
  tools: ToolNamespaces | undefined;
  /** Conversation start date (ISO date). */
  conversationStartDate: string | undefined;
  /** Knowledge cutoff, e.g. `2024-06`. */
  knowledgeCutoff: string | undefined;
  /** Channel configuration. */
  channelConfig: ChannelConfig | undefined;

  /**
   * Creates system content with every field unset. {@link SystemContent.new} gives the
   * reference's defaults instead.
   */
  constructor() {
    this.modelIdentity = undefined;
    this.reasoningEffort = undefined;
    this.tools = undefined;
    this.conversationStartDate = undefined;
    this.knowledgeCutoff = undefined;
    this.channelConfig = undefined;
  }

  /**
   * System content with the reference's defaults: the ChatGPT identity, medium effort, knowledge
   * cutoff 2024-06, channels analysis/commentary/final required.
   *
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { ReasoningEffort, SystemContent } from "./content.ts";
   * const sys = SystemContent.new().withReasoningEffort(ReasoningEffort.High);
   * strictEqual(sys.knowledgeCutoff, "2024-06");
   * ```
   */
  static new(): SystemContent {
    const s = new SystemContent();
    s.modelIdentity = "You are ChatGPT, a large language model trained by OpenAI.";
    s.reasoningEffort = ReasoningEffort.Medium;
    s.knowledgeCutoff = "2024-06";
    s.channelConfig = ChannelConfig.requireChannels(["analysis", "commentary", "final"]);
    return s;
  }

  /** Sets the model identity. */
  withModelIdentity(modelIdentity: string): this {
    this.modelIdentity = modelIdentity;
    return this;
  }
  /** Sets the reasoning effort. */
  withReasoningEffort(effort: ReasoningEffort): this {
    this.reasoningEffort = effort;
    return this;
  }
  /** Adds (or replaces, by name) a tool namespace. */
  withTools(ns: ToolNamespaceConfig): this {
    (this.tools ??= new Map()).set(ns.name, ns);
    return this;
  }
  /** Sets the conversation start date. */
  withConversationStartDate(date: string): this {
    this.conversationStartDate = date;
    return this;
  }
  /** Sets the knowledge cutoff. */
  withKnowledgeCutoff(cutoff: string): this {
    this.knowledgeCutoff = cutoff;
    return this;
  }
  /** Sets the channel configuration. */
  withChannelConfig(config: ChannelConfig): this {
    this.channelConfig = config;
    return this;
  }
  /** Requires one of `channels` on every assistant message. */
  withRequiredChannels(channels: Iterable<string>): this {
    this.channelConfig = ChannelConfig.requireChannels(channels);
    return this;
  }
  /** Adds the built-in browser namespace. */
  withBrowserTool(): this {
    return this.withTools(ToolNamespaceConfig.browser());
  }
  /** Adds the built-in python namespace. */
  withPythonTool(): this {
    return this.withTools(ToolNamespaceConfig.python());
  }
}

/** Content of a developer message (reference: `DeveloperContent`). */
export class DeveloperContent {
  /** Discriminant, as in the reference JSON. */
  readonly type = "developer_content" as const;
  /** Instructions, rendered under `# Instructions`. */
  instructions: string | undefined;
  /** Tool namespaces (usually `functions`). */
  tools: ToolNamespaces | undefined;

  /** Creates empty developer content. */
  constructor() {
    this.instructions = undefined;
    this.tools = undefined;
  }

  /** Empty developer content (reference: `DeveloperContent::new`). */
  static new(): DeveloperContent {
    return new DeveloperContent();
  }
  /** Sets the instructions. */
  withInstructions(instructions: string): this {
    this.instructions = instructions;
    return this;
  }
  /** Adds (or replaces, by name) a tool namespace. */
  withTools(ns: ToolNamespaceConfig): this {
    (this.tools ??= new Map()).set(ns.name, ns);
    return this;
  }
  /** Adds the `functions` namespace with these tools. */
  withFunctionTools(tools: ToolDescription[]): this {
    return this.withTools(new ToolNamespaceConfig("functions", undefined, tools));
  }
}

/** Any message content. */
export type Content = TextContent | SystemContent | DeveloperContent;

// The built-in namespaces' texts are the reference's, character for character (src/chat.rs).
function builtinBrowser(): ToolNamespaceConfig {
  return new ToolNamespaceConfig(
    "browser",
    "Tool for browsing.\nThe `cursor` appears in brackets before each browsing display: `[{cursor}]`.\nCite information from the tool using the following format:\n`【{cursor}†L{line_start}(-L{line_end})?】`, for example: `【6†L9-L11】` or `【8†L3】`.\nDo not quote more than 10 words directly from the tool output.\nsources=web (default: web)",
    [
      new ToolDescription(
        "search",
        "Searches for information related to `query` and displays `topn` results.",
        {
          type: "object",
          properties: {
            query: { type: "string" },
            topn: { type: "number", default: 10 },
            source: { type: "string" },
          },
          required: ["query"],
        },
      ),
      new ToolDescription(
        "open",
        "Opens the link `id` from the page indicated by `cursor` starting at line number `loc`, showing `num_lines` lines.\nValid link ids are displayed with the formatting: `【{id}†.*】`.\nIf `cursor` is not provided, the most recent page is implied.\nIf `id` is a string, it is treated as a fully qualified URL associated with `source`.\nIf `loc` is not provided, the viewport will be positioned at the beginning of the document or centered on the most relevant passage, if available.\nUse this function without `id` to scroll to a new location of an opened page.",
        {
          type: "object",
          properties: {
            id: { type: ["number", "string"], default: -1 },
            cursor: { type: "number", default: -1 },
            loc: { type: "number", default: -1 },
            num_lines: { type: "number", default: -1 },
            view_source: { type: "boolean", default: false },
            source: { type: "string" },
          },
        },
      ),
      new ToolDescription(
        "find",
        "Finds exact matches of `pattern` in the current page, or the page given by `cursor`.",
        {
          type: "object",
          properties: {
            pattern: { type: "string" },
            cursor: { type: "number", default: -1 },
          },
          required: ["pattern"],
        },
      ),
    ],
  );
}

function builtinPython(): ToolNamespaceConfig {
  return new ToolNamespaceConfig(
    "python",
    "Use this tool to execute Python code in your chain of thought. The code will not be shown to the user. This tool should be used for internal reasoning, but not for code that is intended to be visible to the user (e.g. when creating plots, tables, or files).\n\nWhen you send a message containing Python code to python, it will be executed in a stateful Jupyter notebook environment. python will respond with the output of the execution or time out after 120.0 seconds. The drive at '/mnt/data' can be used to save and persist user files. Internet access for this session is UNKNOWN. Depends on the cluster.",
    [],
  );
}
