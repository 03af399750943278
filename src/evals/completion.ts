/**
 * One sampled completion → its eval result: messages, final answer, reasoning, tool calls, stop
 * token and parse status. The rules (also in docs/parse-dataset.md):
 *
 * - **status**: `ok` when the strict parse (the reference's default,
 *   `parse_messages_from_completion_tokens` in `src/encoding.rs`) succeeds; `recovered` when it
 *   fails but the non-strict parse succeeds (`error` then holds the strict parse's error);
 *   `error` when both fail. Then `error` is the non-strict parse's first error and `messages` are
 *   salvaged: the messages completed before the error, and after it the parser restarts at the
 *   next `<|start|>` (expecting a role in the header), as often as needed. Every token span that
 *   became no message is listed in `dropped` (`salvage.ts`); with `recover: "all"` malformed
 *   messages are salvaged too (`repairs`), and a completion left with no dropped span is
 *   `recovered`.
 * - **stop**: the completion's last token, when it is `<|return|>`, `<|call|>` or `<|end|>`;
 *   otherwise `none` (sampling hit its token limit, or the sampler stripped the stop token). A
 *   truncated completion whose last message is in its content parses without error, as in the
 *   reference (the end of the stream ends the message); one cut inside a header is an error
 *   (`eos-in-header`).
 * - **final**: the text of the *last* assistant message on the `final` channel without a
 *   recipient (the answer a grader reads); `null` when there is none. With `stop: "none"` it may
 *   be cut short.
 * - **analysis**: the texts of the assistant's `analysis`-channel messages without a recipient,
 *   in order, joined with `"\n"`; `null` when there are none.
 * - **tool_calls**: every assistant message with a recipient, in order: `recipient`, `channel`
 *   and `content_type` (`null` when absent), `raw` (the message text, always) and `arguments`
 *   (the parsed JSON of `raw` when the content type contains `json`, case-insensitively, e.g.
 *   `<|constrain|>json`, and `raw` parses; else `null`).
 *
 * @module
 */

import type { Role } from "../chat/role.ts";
import type { Message } from "../chat/message.ts";
import type { TextContent } from "../chat/content.ts";
import { type MessageJson, messageToJson } from "../chat/json.ts";
import { parseJson } from "../chat/json_text.ts";
import {
  HarmonyParseError,
  parseMessagesFromCompletionTokens,
  type ParserEncoding,
} from "../parse/mod.ts";
import { type DroppedSpan, type RecoverMode, type Repair, salvageCompletion } from "./salvage.ts";

/** Parse status of a completion (see the module notes). */
export type CompletionStatus = "ok" | "recovered" | "error";

/** The completion's stop token, or `none` when it ends without one. */
export type StopKind = "return" | "call" | "end" | "none";

/** A JSON value as `JSON.parse` returns it. */
export type JsonData = null | boolean | number | string | JsonData[] | { [k: string]: JsonData };

/** One tool call: an assistant message with a recipient. */
export interface ToolCallResult {
  /** The recipient, e.g. `functions.get_weather`. */
  recipient: string;
  /** The message's channel (usually `commentary`), or null. */
  channel: string | null;
  /** The content type, e.g. `<|constrain|>json`, or null. */
  content_type: string | null;
  /** The parsed arguments when the content type says JSON and `raw` parses; else null. */
  arguments: JsonData | null;
  /** The message's text. */
  raw: string;
}

/** The eval fields of one completion, as written to the output line. */
export interface CompletionResult {
  /** The messages in the reference's JSON form (salvaged ones when `status` is `error`). */
  messages: MessageJson[];
  /** Text of the last final-channel assistant message without recipient, or null. */
  final: string | null;
  /** Analysis-channel assistant texts joined with `"\n"`, or null. */
  analysis: string | null;
  /** Assistant messages with a recipient. */
  tool_calls: ToolCallResult[];
  /** The stop token the completion ends with. */
  stop: StopKind;
  /** Parse status. */
  status: CompletionStatus;
  /** `reason: message` of the parse error (for `recovered`: the strict parse's error). */
  error?: string;
  /** Token spans that became no message (absent when there are none). */
  dropped?: DroppedSpan[];
  /** Salvages made by `recover: "all"` (absent when there are none). */
  repairs?: Repair[];
  /** The sample's index in its record (records with a `[*]` field path only). */
  sample?: number;
  /** True when the completion was stripped text recovered by the grammar of `stripped.ts`. */
  stripped?: boolean;
  /** The OpenAI chat-completions assistant message (`--emit openai`, `convert.ts`). */
  openai?: unknown;
  /** The Responses API output items (`--emit responses`, `convert.ts`). */
  responses?: unknown;
}

/** A {@link CompletionResult} with the error's parts, for statistics (not written out). */
export interface CompletionAnalysis extends CompletionResult {
  /** Machine-readable reason of `error` (a `HarmonyParseErrorReason`, or `internal`). */
  reason?: string;
  /** Index of the offending token (the token count for an error at the end of the stream). */
  tokenIndex?: number;
  /**
   * Content tokens of each message, when the messages map one to one onto the completion's
   * `<|message|>` tokens (the tokens after each up to the next stop or `<|start|>`).
   */
  content_tokens?: number[];
  /** Whether the sample was truncated (set by `finishSample`, for statistics). */
  truncated?: boolean;
}

/** Options of {@link analyzeCompletion}. */
export interface AnalyzeOptions {
  /**
   * Role the completion starts inside: `"assistant"` (default) for a model prompted with
   * `<|start|>assistant`; `null` when the completion starts with `<|start|>`.
   */
  role?: Role | null;
  /**
   * `"first"` (default): salvaged messages are exactly the reference's non-strict parse (with
   * restarts); `"all"`: every malformed message is salvaged (see `salvage.ts`).
   */
  recover?: RecoverMode;
}

function errorText(reason: string, e: unknown): string {
  return `${reason}: ${e instanceof Error ? e.message : String(e)}`;
}

function reasonOf(e: unknown): string {
  return e instanceof HarmonyParseError ? e.reason : "internal";
}

/**
 * Analyzes one completion (see the module notes for the exact rules). Never throws on a
 * malformed completion: the failure is in `status` and `error`.
 *
 * Cost: one parse, O(tokens + bytes); a second (non-strict) parse only when the first fails.
 *
 * @param encoding anything with the o200k_harmony `tokenizer`.
 * @param tokens the completion's token ids; each must be below `tokenizer.vocabSize`.
 * @param options `{ role = "assistant" }`.
 * @throws {RangeError} when a token is not an integer in `[0, 2^32)`.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { analyzeCompletion } from "./completion.ts";
 * const tokenizer = await loadTokenizer();
 * const ids = tokenizer.encode(
 *   "<|channel|>analysis<|message|>Easy.<|end|><|start|>assistant<|channel|>final<|message|>4<|return|>",
 *   { allowedSpecial: "all" },
 * );
 * const r = analyzeCompletion({ tokenizer }, ids);
 * deepStrictEqual([r.final, r.analysis, r.stop, r.status], ["4", "Easy.", "return", "ok"]);
 * ```
 */
export function analyzeCompletion(
  encoding: ParserEncoding,
  tokens: ArrayLike<number>,
  options: AnalyzeOptions = {},
): CompletionAnalysis {
  const role = options.role === undefined ? "assistant" : options.role;
  let parsed: StrictParse;
  try {
    parsed = { messages: parseMessagesFromCompletionTokens(encoding, tokens, role) };
  } catch (e) {
    if (e instanceof RangeError) throw e;
    parsed = { error: e };
  }
  return analyzeParsedCompletion(encoding, tokens, parsed, { role, recover: options.recover });
}

/** The outcome of the strict parse of a completion: its messages, or the error it threw. */
export type StrictParse =
  | { messages: readonly Message[]; error?: undefined }
  | { messages?: undefined; error: unknown };

/**
 * {@link analyzeCompletion} given the strict parse's outcome, e.g. from a batch parse on another
 * backend (`Engine.parseBatch` with `strict: true`): the same result as `analyzeCompletion` when
 * `parsed` is what the strict parse gives.
 *
 * @param parsed the strict parse's messages, or its error.
 * @throws {RangeError} when a token is not an integer in `[0, 2^32)`.
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { parseMessagesFromCompletionTokens } from "../parse/mod.ts";
 * import { analyzeParsedCompletion } from "./completion.ts";
 * const tokenizer = await loadTokenizer();
 * const ids = tokenizer.encode("<|channel|>final<|message|>4<|return|>", { allowedSpecial: "all" });
 * const messages = parseMessagesFromCompletionTokens({ tokenizer }, ids, "assistant");
 * strictEqual(analyzeParsedCompletion({ tokenizer }, ids, { messages }).final, "4");
 * ```
 */
export function analyzeParsedCompletion(
  encoding: ParserEncoding,
  tokens: ArrayLike<number>,
  parsed: StrictParse,
  options: AnalyzeOptions = {},
): CompletionAnalysis {
  const role = options.role === undefined ? "assistant" : options.role;
  const stop = stopKind(encoding, tokens);
  let messages: readonly Message[];
  let status: CompletionStatus = "ok";
  let error: string | undefined;
  let reason: string | undefined;
  let tokenIndex: number | undefined;
  let dropped: DroppedSpan[] = [];
  let repairs: Repair[] = [];
  if (parsed.messages !== undefined) {
    messages = parsed.messages;
  } else {
    const strictError = parsed.error;
    if (strictError instanceof RangeError) throw strictError;
    const salvage = salvageCompletion(encoding, tokens, role, { recover: options.recover });
    messages = salvage.messages;
    dropped = salvage.dropped;
    repairs = salvage.repairs;
    // With recover "all", a completion whose every token became part of a message is recovered.
    const whole = options.recover === "all" && dropped.length === 0;
    if (salvage.error === undefined || whole) {
      status = "recovered";
      reason = reasonOf(strictError);
      error = errorText(reason, strictError);
      if (strictError instanceof HarmonyParseError) tokenIndex = strictError.tokenIndex;
    } else {
      status = "error";
      reason = reasonOf(salvage.error);
      error = errorText(reason, salvage.error);
      if (salvage.error instanceof HarmonyParseError) tokenIndex = salvage.error.tokenIndex;
    }
  }
  const result: CompletionAnalysis = {
    ...summarizeMessages(messages),
    messages: messages.map(messageToJson),
    stop,
    status,
  };
  if (error !== undefined) {
    result.error = error;
    result.reason = reason;
    result.tokenIndex = tokenIndex;
  }
  const ct = contentTokens(encoding, tokens, messages.length);
  if (ct !== undefined) result.content_tokens = ct;
  if (dropped.length > 0) result.dropped = dropped;
  if (repairs.length > 0) result.repairs = repairs;
  return result;
}

/** Content tokens per message when `<|message|>` tokens and messages correspond one to one. */
function contentTokens(
  encoding: ParserEncoding,
  tokens: ArrayLike<number>,
  count: number,
): number[] | undefined {
  const sp = encoding.tokenizer.specialTokens;
  const message = sp.get("<|message|>");
  const start = sp.get("<|start|>");
  const end = sp.get("<|end|>"), ret = sp.get("<|return|>"), call = sp.get("<|call|>");
  const out: number[] = [];
  let inContent = false;
  const n = tokens.length;
  for (let i = 0; i < n; i++) {
    const t = tokens[i];
    if (t === message) {
      if (out.length === count) return undefined;
      out.push(0);
      inContent = true;
    } else if (t === end || t === ret || t === call || t === start) inContent = false;
    else if (inContent) out[out.length - 1]++;
  }
  return out.length === count ? out : undefined;
}

/** The stop token a completion ends with. */
function stopKind(encoding: ParserEncoding, tokens: ArrayLike<number>): StopKind {
  if (tokens.length === 0) return "none";
  const last = tokens[tokens.length - 1];
  const sp = encoding.tokenizer.specialTokens;
  if (last === sp.get("<|return|>")) return "return";
  if (last === sp.get("<|call|>")) return "call";
  if (last === sp.get("<|end|>")) return "end";
  return "none";
}

/**
 * A message's text: its text contents concatenated (system and developer contents add nothing).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { Message, Role } from "../mod.ts";
 * import { messageText } from "./completion.ts";
 * strictEqual(messageText(Message.fromRoleAndContents(Role.User, ["a", "b"])), "ab");
 * ```
 */
export function messageText(m: Message): string {
  let s = "";
  for (const c of m.content) if (c.type === "text") s += (c as TextContent).text;
  return s;
}

/**
 * The eval fields derived from parsed messages: `final`, `analysis` and `tool_calls`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { Message, Role } from "../mod.ts";
 * import { summarizeMessages } from "./completion.ts";
 * const m = Message.fromRoleAndContent(Role.Assistant, "42").withChannel("final");
 * strictEqual(summarizeMessages([m]).final, "42");
 * ```
 */
export function summarizeMessages(
  messages: readonly Message[],
): Pick<CompletionResult, "final" | "analysis" | "tool_calls"> {
  let final: string | null = null;
  let analysis: string | null = null;
  const toolCalls: ToolCallResult[] = [];
  for (const m of messages) {
    if (m.author.role !== "assistant") continue;
    const text = messageText(m);
    if (m.recipient !== undefined) {
      toolCalls.push({
        recipient: m.recipient,
        channel: m.channel ?? null,
        content_type: m.contentType ?? null,
        arguments: parseArguments(m.contentType, text),
        raw: text,
      });
    } else if (m.channel === "final") final = text;
    else if (m.channel === "analysis") analysis = analysis === null ? text : analysis + "\n" + text;
  }
  return { final, analysis, tool_calls: toolCalls };
}

function parseArguments(contentType: string | undefined, text: string): JsonData | null {
  if (contentType === undefined || !contentType.toLowerCase().includes("json")) return null;
  try {
    return parseJson(text) as JsonData;
  } catch {
    return null; // not JSON after all: `raw` keeps the text
  }
}
