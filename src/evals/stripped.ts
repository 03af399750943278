/**
 * Recovery of harmony completions decoded with their special tokens removed (vLLM's default
 * `skip_special_tokens=True`): `<|channel|>analysis<|message|>We need…<|end|><|start|>assistant
 * <|channel|>final<|message|>4<|return|>` arrives as `analysisWe need…assistantfinal4`, and a tool
 * call `<|channel|>commentary to=functions.x <|constrain|>json<|message|>{…}<|call|>` as
 * `commentary to=functions.x json{…}`.
 *
 * The grammar (docs/parse-dataset.md states the same):
 *
 * ```text
 * stripped  := "assistant"? message ("assistant" message)*
 * message   := recipient? CHANNEL recipient? ctype? content
 * CHANNEL   := "analysis" | "commentary" | "final"
 * recipient := " "? "to=" NAME              NAME: letters, digits, "_", "-", ".", ":", "/"
 * ctype     := " json" | "json" before "{" or "["   (`<|constrain|>json`)
 * content   := any text, up to the next boundary
 * boundary  := "assistant" immediately followed by a CHANNEL or by " to="
 * ```
 *
 * A text is stripped only when it holds none of harmony's special-token literals and starts (after
 * an optional `assistant`) with a channel name or `to=`. **Ambiguity rule**: a message boundary
 * is the word `assistant` glued to a channel name (`assistantfinal`), which is what removing
 * `<|end|><|start|>` … `<|channel|>` leaves; `final`, `analysis` or `commentary` anywhere else
 * (`the final answer`, `assistant: final`) is content. Content that itself contains
 * `assistantfinal` is split there (the two are indistinguishable once the tokens are gone). A
 * recipient NAME that runs into a channel name (`to=functions.xcommentary`, the recipient-first
 * header) is split before the channel name, and one glued to `json` right before `{` or `[`
 * (`to=functions.xjson{`, from `<|constrain|>json` written without a space) loses the `json` to
 * the content type (so a function whose name ends in `json`, called without a content type, is
 * misread).
 *
 * @module
 */

import type { Tokenizer } from "../tokenizer/types.ts";

/** A message read from stripped text. */
export interface StrippedMessage {
  /** `analysis`, `commentary` or `final`. */
  channel: string;
  /** The recipient (`functions.x`), when the header had one. */
  recipient?: string;
  /** `<|constrain|>json` when the header had ` json`. */
  contentType?: string;
  /** The message text. */
  content: string;
}

const CHANNELS = ["analysis", "commentary", "final"] as const;
const SPECIALS = [
  "<|start|>",
  "<|channel|>",
  "<|message|>",
  "<|end|>",
  "<|return|>",
  "<|call|>",
  "<|constrain|>",
];
const ASSISTANT = "assistant";

function channelAt(s: string, i: number): string | undefined {
  for (const c of CHANNELS) if (s.startsWith(c, i)) return c;
  return undefined;
}

function isNameChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
    c === 0x5f || c === 0x2d || c === 0x2e || c === 0x3a || c === 0x2f;
}

/** Reads ` to=NAME` at `i`; returns the name and the index after it. */
function recipientAt(
  s: string,
  i: number,
): { name: string; end: number; json?: boolean } | undefined {
  let j = i;
  if (s.charCodeAt(j) === 0x20) j++;
  if (!s.startsWith("to=", j)) return undefined;
  j += 3;
  const from = j;
  while (j < s.length && isNameChar(s.charCodeAt(j))) j++;
  let name = s.slice(from, j);
  // The recipient-first header: `to=functions.x` glued to the channel name that follows.
  for (const c of CHANNELS) {
    if (name.length > c.length && name.endsWith(c)) {
      name = name.slice(0, name.length - c.length);
      j -= c.length;
      break;
    }
  }
  // `to=functions.x<|constrain|>json{…}` (no space before the constraint) → `functions.xjson{`.
  const next = s.charCodeAt(j);
  if (name.length > 4 && name.endsWith("json") && (next === 0x7b || next === 0x5b)) {
    return { name: name.slice(0, -4), end: j - 4, json: true };
  }
  return name === "" ? undefined : { name, end: j };
}

/** The next message boundary at or after `from`: `assistant` + channel name or ` to=`. */
function nextBoundary(s: string, from: number): number {
  let i = s.indexOf(ASSISTANT, from);
  while (i >= 0) {
    const j = i + ASSISTANT.length;
    if (channelAt(s, j) !== undefined || s.startsWith(" to=", j)) return i;
    i = s.indexOf(ASSISTANT, i + 1);
  }
  return -1;
}

/**
 * Whether a text looks like a harmony completion with its special tokens stripped (see the
 * module notes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isStrippedText } from "./stripped.ts";
 * assert.equal(isStrippedText("analysisWe need to add.assistantfinal4"), true);
 * assert.equal(isStrippedText("<|channel|>final<|message|>4"), false);
 * assert.equal(isStrippedText("The answer is 4"), false);
 * ```
 */
export function isStrippedText(text: string): boolean {
  for (const s of SPECIALS) if (text.includes(s)) return false;
  const i = text.startsWith(ASSISTANT) ? ASSISTANT.length : 0;
  return channelAt(text, i) !== undefined || recipientAt(text, i) !== undefined;
}

/**
 * Reads the messages of a stripped text (see the module notes for the grammar and the
 * ambiguity rule).
 *
 * @returns the messages, or undefined when the text is not stripped harmony.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStrippedText } from "./stripped.ts";
 * assert.deepEqual(parseStrippedText('analysisThe final answer is 4.assistantcommentary to=functions.add json{"a":2}'), [
 *   { channel: "analysis", content: "The final answer is 4." },
 *   { channel: "commentary", recipient: "functions.add", contentType: "<|constrain|>json", content: '{"a":2}' },
 * ]);
 * ```
 */
export function parseStrippedText(text: string): StrippedMessage[] | undefined {
  if (!isStrippedText(text)) return undefined;
  const out: StrippedMessage[] = [];
  let i = text.startsWith(ASSISTANT) ? ASSISTANT.length : 0;
  while (true) {
    let recipient: string | undefined;
    const before = recipientAt(text, i);
    if (before !== undefined) {
      recipient = before.name;
      i = before.end;
    }
    const channel = channelAt(text, i);
    if (channel === undefined) return undefined;
    i += channel.length;
    let after: ReturnType<typeof recipientAt>;
    if (recipient === undefined) {
      after = recipientAt(text, i);
      if (after !== undefined) {
        recipient = after.name;
        i = after.end;
      }
    }
    let contentType: string | undefined;
    if (recipient !== undefined && text.startsWith("json", i) && (before ?? after)?.json) {
      contentType = "<|constrain|>json";
      i += 4;
    } else if (recipient !== undefined && text.startsWith(" json", i)) {
      contentType = "<|constrain|>json";
      i += 5;
    } else if (recipient !== undefined && text.charCodeAt(i) === 0x20) i++;
    const end = nextBoundary(text, i);
    const m: StrippedMessage = { channel, content: text.slice(i, end < 0 ? text.length : end) };
    if (recipient !== undefined) m.recipient = recipient;
    if (contentType !== undefined) m.contentType = contentType;
    out.push(m);
    if (end < 0) return out;
    i = end + ASSISTANT.length;
  }
}

/**
 * The harmony tokens of stripped messages, as the renderer writes them after
 * `<|start|>assistant` (`role: "assistant"`) or with it (`role: null`): messages separated by
 * `<|end|><|start|>assistant`, and the last one ended by `stop` (`<|return|>`, `<|call|>`) or by
 * nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { strippedTokens } from "./stripped.ts";
 * const tokenizer = await loadTokenizer();
 * const ids = strippedTokens(tokenizer, [{ channel: "final", content: "4" }], "assistant", "<|return|>");
 * assert.equal(tokenizer.decode(ids), "<|channel|>final<|message|>4<|return|>");
 * ```
 */
export function strippedTokens(
  tokenizer: Tokenizer,
  messages: readonly StrippedMessage[],
  role: "assistant" | null,
  stop?: "<|return|>" | "<|call|>",
): Uint32Array {
  const sp = (s: string): number => tokenizer.specialTokens.get(s)!;
  const out: number[] = [];
  const ordinary = (s: string): void => {
    const ids = tokenizer.encodeOrdinary(s);
    for (let k = 0; k < ids.length; k++) out.push(ids[k]);
  };
  messages.forEach((m, k) => {
    if (k > 0) out.push(sp("<|end|>"));
    if (k > 0 || role === null) {
      out.push(sp("<|start|>"));
      ordinary(ASSISTANT);
    }
    out.push(sp("<|channel|>"));
    if (m.recipient === undefined) ordinary(m.channel);
    else ordinary(`${m.channel} to=${m.recipient}` + (m.contentType ? " " : ""));
    if (m.contentType !== undefined) {
      out.push(sp("<|constrain|>"));
      ordinary(m.contentType.replace("<|constrain|>", ""));
    }
    out.push(sp("<|message|>"));
    ordinary(m.content);
  });
  if (stop !== undefined) out.push(sp(stop));
  return Uint32Array.from(out);
}
