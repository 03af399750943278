/**
 * `harmony parse`: completion tokens → messages (JSONL in, JSONL out).
 *
 * @module
 */

import type { Command } from "../commands.ts";
import { BACKEND_OPTION, openBackendOption } from "../backend.ts";
import { LineParts, runJsonl, runJsonlBatched } from "../jsonl.ts";
import { loadTokenizer } from "../../tokenizer/mod.ts";
import type { Tokenizer } from "../../tokenizer/mod.ts";
import { type Role, ROLE_NAMES } from "../../chat/role.ts";
import { type MessageJson, messageToJson } from "../../chat/json.ts";
import { parseJson } from "../../chat/json_text.ts";
import { StreamableParser, type StreamState } from "../../parse/mod.ts";

/**
 * One state of `--trace` output: the parser's observable state after one token. The content so
 * far is given by its length (and, with `--trace-full`, in full): the deltas add up to it, so
 * the output grows with the tokens, not with their square.
 */
export interface TraceState {
  /** Role of the current message, or null. */
  current_role: Role | null;
  /** Channel of the current message, or null. */
  current_channel: string | null;
  /** Recipient of the current message, or null. */
  current_recipient: string | null;
  /** Content type of the current message, or null. */
  current_content_type: string | null;
  /** Length of the current message's content so far, in UTF-16 code units (as JS counts). */
  current_content_length: number;
  /** Content of the current message so far (only with `--trace-full`). */
  current_content?: string;
  /** Text added by this token, or null. */
  last_content_delta: string | null;
  /** Messages completed so far. */
  messages_length: number;
  /** `ExpectStart`, `Header` or `Content`. */
  state: StreamState;
}

function readTokens(value: unknown): ArrayLike<number> {
  const arr = Array.isArray(value)
    ? value
    : typeof value === "object" && value !== null && "tokens" in value
    ? (value as { tokens: unknown }).tokens
    : undefined;
  if (!Array.isArray(arr)) {
    throw new TypeError('Cannot read record: expected {"tokens": [...]} or a JSON array of ids');
  }
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i];
    if (typeof v !== "number" || (v >>> 0) !== v) {
      throw new TypeError(
        `Cannot read tokens: value at index ${i} is not a token id (${
          JSON.stringify(v)?.slice(0, 32)
        })`,
      );
    }
  }
  return arr as number[];
}

function readRecord(line: string, text: boolean, tok: Tokenizer): ArrayLike<number> {
  const value = parseJson(line);
  if (!text) return readTokens(value);
  const t = typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as { text?: unknown }).text
    : undefined;
  if (typeof t !== "string") throw new TypeError('Cannot read record: "text" must be a string');
  return tok.encode(t, { allowedSpecial: "all" });
}

/**
 * The parser's state after every token of `tokens` (`--trace`), as the parts of one JSON line
 * `{"states":[…],"messages":[…]}`, produced one state at a time (memory: one state). A parse
 * error ends the line as `{"states":[…states up to the error],"error":"line N: …"}`.
 *
 * @param full include each state's whole `current_content` (`--trace-full`; quadratic output).
 * @param onError called with the error, when the parse fails.
 */
export function* traceParse(
  tokenizer: Tokenizer,
  tokens: ArrayLike<number>,
  role: Role | null,
  options: { strict: boolean; full: boolean; lineNumber: number; onError?: (e: unknown) => void },
): Generator<string> {
  yield '{"states":[';
  let messages: MessageJson[];
  try {
    const parser = new StreamableParser({ tokenizer }, role, { strict: options.strict });
    for (let i = 0; i < tokens.length; i++) {
      parser.process(tokens[i]);
      const content = parser.currentContent;
      const state: TraceState = {
        current_role: parser.currentRole ?? null,
        current_channel: parser.currentChannel ?? null,
        current_recipient: parser.currentRecipient ?? null,
        current_content_type: parser.currentContentType ?? null,
        current_content_length: content.length,
        last_content_delta: parser.lastContentDelta ?? null,
        messages_length: parser.messages.length,
        state: parser.state,
      };
      if (options.full) state.current_content = content;
      yield (i > 0 ? "," : "") + JSON.stringify(state);
    }
    parser.processEos();
    messages = parser.messages.map(messageToJson);
  } catch (e) {
    options.onError?.(e);
    yield `],"error":${
      JSON.stringify(`line ${options.lineNumber}: ${e instanceof Error ? e.message : String(e)}`)
    }}`;
    return;
  }
  yield `],"messages":${JSON.stringify(messages)}}`;
}

/** The `parse` command. */
export const command: Command = {
  spec: {
    name: "parse",
    summary: "Parse completion token ids into harmony messages (JSON lines)",
    description:
      'Each stdin line is {"tokens": [...]} or a bare JSON array of ids (with --text: {"text": "..."},\n' +
      'encoded with every special token allowed). Each gives one line {"messages": [...]}, or\n' +
      '{"error": "line N: ..."} naming the offending token index; exit code 1 if any line failed.\n' +
      "--role is the role of the message the tokens start inside; none (the reference's default)\n" +
      "means they start with <|start|>. Use --role assistant for a model's raw completion.\n" +
      "--trace writes each state's delta and lengths as they come; a parse error then ends the\n" +
      'line as {"states": [...], "error": "line N: ..."}.',
    options: [
      {
        name: "role",
        type: "string",
        choices: ["none", ...ROLE_NAMES],
        default: "none",
        valueName: "ROLE",
        description: "Role the tokens start inside; none: they start with <|start|>",
      },
      {
        name: "strict",
        type: "boolean",
        default: true,
        description: "Strict header parsing (--no-strict recovers from a stop token in a header)",
      },
      {
        name: "trace",
        type: "boolean",
        description:
          'Also output the parser state after every token ({"states": [...], ...}): deltas and lengths',
      },
      {
        name: "trace-full",
        type: "boolean",
        description: "With --trace: each state also holds the whole content so far",
      },
      {
        name: "text",
        type: "boolean",
        description: 'Input lines are {"text": "..."} spelling special tokens; encode them first',
      },
      {
        ...BACKEND_OPTION,
        description: BACKEND_OPTION.description + "; --trace always uses the CPU streaming parser",
      },
    ],
    examples: [
      `echo '{"text":"<|channel|>final<|message|>Hi<|return|>"}' | harmony parse --text --role assistant`,
      "echo '[200006,173781,200008,12194,200007]' | harmony parse",
    ],
  },
  async run(args, host) {
    const tokenizer = await loadTokenizer();
    const roleOpt = String(args.options.role);
    const role = roleOpt === "none" ? null : roleOpt as Role;
    const strict = args.options.strict !== false;
    const full = args.options["trace-full"] === true;
    const trace = args.options.trace === true || full;
    const text = args.options.text === true;
    if (!trace) {
      // The engine parses each batch of completions at once (GPU special-token scan and message
      // tables; irregular completions fall back to the streaming parser), same messages.
      const engine = await openBackendOption(host, args.options.backend);
      try {
        const { failed } = await runJsonlBatched(
          host,
          (line) => readRecord(line, text, tokenizer),
          async (completions) => {
            const parsed = await engine.parseBatch(completions, { role, strict });
            return parsed.map((p) => p.error ?? { messages: p.messages.map(messageToJson) });
          },
        );
        return failed > 0 ? 1 : 0;
      } finally {
        engine.destroy();
      }
    }
    // --trace: the streaming parser, line by line, its states streamed as they are produced.
    const { failed } = await runJsonl(host, (line, lineNumber) => {
      const tokens = readRecord(line, text, tokenizer);
      let bad = false;
      const onError = () => void (bad = true);
      const parts = traceParse(tokenizer, tokens, role, { strict, full, lineNumber, onError });
      return new LineParts(parts, () => bad);
    });
    return failed > 0 ? 1 : 0;
  },
};
