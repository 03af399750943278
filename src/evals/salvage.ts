/**
 * The salvage parse of a completion the strict parse rejected: the reference's non-strict parse
 * (`StreamableParser` with `strict: false`, `src/encoding.rs`), restarted at the next `<|start|>`
 * after each error, with an account of every token span that did not become part of a message
 * ({@link DroppedSpan}), so nothing is lost silently. The reference recovers a malformed header
 * only in the first message (the one whose role was given); a later one hit by a stop token is
 * dropped without an error, and after an error the tokens up to the next `<|start|>` are skipped.
 * Both are listed here.
 *
 * With `recover: "all"`, every malformed message is salvaged the way the reference salvages the
 * first, and each salvage is listed as a {@link Repair}:
 *
 * | repair             | input                                                    | assumed                                                  |
 * | ------------------ | -------------------------------------------------------- | -------------------------------------------------------- |
 * | `missing-message`  | a later header ended by `<|end|>`/`<|return|>`/`<|call|>` | the header's role word, the rest of the header as content |
 * | `eos-in-header`    | the stream ends inside a header                          | as `missing-message`, ended by the end of the stream      |
 * | `stray-stop`       | a stop token where `<|start|>` was expected              | the token repeats the previous stop; skipped              |
 * | `missing-start`    | other tokens where `<|start|>` was expected, with a `<|message|>` before the next `<|start|>` | a `<|start|>` before them (role `assistant` when no role word follows) |
 * | `text-before-header` | tokens without `<|message|>` where `<|start|>` was expected; or, with role `assistant`, words before the first `<|channel|>` that are not `to=…` | they are an assistant message of their own (no channel) |
 *
 * Recipient/channel order needs no repair: the reference's header grammar reads the recipient
 * before or after `<|channel|>` (`src/encoding.rs`, `parse_header`).
 *
 * @module
 */

import type { Role } from "../chat/role.ts";
import { Message } from "../chat/message.ts";
import { HarmonyParseError, type ParserEncoding, StreamableParser } from "../parse/mod.ts";

/** A span of tokens `[from, to)` that did not become part of any message. */
export interface DroppedSpan {
  /** Index of the span's first token. */
  from: number;
  /** Index one past its last token. */
  to: number;
  /**
   * Why: the parse error's reason (`unexpected-token`, `header-leftovers`, …), or
   * `stop-in-header` for a later header ended by a stop token (dropped by the reference without
   * an error), or `eos-in-header`.
   */
  reason: string;
}

/** One salvage made by `recover: "all"`. */
export interface Repair {
  /** What was assumed (see the module notes). */
  repair:
    | "missing-message"
    | "eos-in-header"
    | "stray-stop"
    | "missing-start"
    | "text-before-header";
  /** Index of the token where the repair applies. */
  at: number;
  /** Index of the message the repair produced (or the one before a skipped stop token). */
  message: number;
}

/** How malformed messages are salvaged: as the reference (`first`) or all of them. */
export type RecoverMode = "first" | "all";

/** The outcome of {@link salvageCompletion}. */
export interface SalvageResult {
  /** The messages. */
  messages: Message[];
  /** The first error (undefined when the non-strict parse raised none). */
  error: unknown;
  /** Token spans that became no message, in order. */
  dropped: DroppedSpan[];
  /** Repairs made (only with `recover: "all"`). */
  repairs: Repair[];
}

const ROLE_WORDS: readonly string[] = ["assistant", "user", "system", "developer", "tool"];

function reasonOf(e: unknown): string {
  return e instanceof HarmonyParseError ? e.reason : "internal";
}

/** Token indices of a restarted parser are relative to its first token; make them absolute. */
function shiftError(e: unknown, offset: number): unknown {
  if (offset === 0 || !(e instanceof HarmonyParseError)) return e;
  return new HarmonyParseError(e.reason, e.tokenIndex + offset, e.message, { cause: e });
}

/**
 * Parses a completion non-strictly, restarting after errors, and accounts for every token (see
 * the module notes). O(tokens) plus one re-parse per repaired header.
 *
 * @param role the role the completion starts inside, or null when it starts with `<|start|>`.
 * @throws {RangeError} when a token is not an integer in `[0, 2^32)`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadTokenizer } from "../tokenizer/mod.ts";
 * import { salvageCompletion } from "./salvage.ts";
 * const tokenizer = await loadTokenizer();
 * const ids = tokenizer.encode(
 *   "<|channel|>final<|message|>4<|end|><|return|><|start|>assistant<|channel|>final<|message|>5<|return|>",
 *   { allowedSpecial: "all" },
 * );
 * const r = salvageCompletion({ tokenizer }, ids, "assistant");
 * assert.equal(r.messages.length, 2);
 * assert.deepEqual(r.dropped, [{ from: 5, to: 6, reason: "unexpected-token" }]);
 * assert.equal(salvageCompletion({ tokenizer }, ids, "assistant", { recover: "all" }).dropped.length, 0);
 * ```
 */
export function salvageCompletion(
  encoding: ParserEncoding,
  tokens: ArrayLike<number>,
  role: Role | null,
  options: { recover?: RecoverMode } = {},
): SalvageResult {
  const all = options.recover === "all";
  const sp = encoding.tokenizer.specialTokens;
  const START = sp.get("<|start|>")!;
  const CHANNEL = sp.get("<|channel|>");
  const stops = new Set([sp.get("<|end|>"), sp.get("<|return|>"), sp.get("<|call|>")]);
  const messages: Message[] = [];
  const dropped: DroppedSpan[] = [];
  const repairs: Repair[] = [];
  let firstError: unknown;
  const n = tokens.length;

  let parser = new StreamableParser(encoding, role, { strict: false });
  let offset = 0; // index in `tokens` of the current parser's first token
  let seen = 0; // messages of `parser` already moved to `messages`
  let spanStart = 0; // first token not yet part of a message
  let i = 0;

  const collect = (): void => {
    const ms = parser.messages;
    for (; seen < ms.length; seen++) messages.push(ms[seen]);
  };
  const restart = (at: number, r: Role | null): void => {
    collect();
    parser = new StreamableParser(encoding, r, { strict: false });
    seen = 0;
    offset = at;
  };
  const drop = (from: number, to: number, reason: string): void => {
    if (to <= from) return;
    const last = dropped[dropped.length - 1];
    if (last !== undefined && last.to === from && last.reason === reason) last.to = to;
    else dropped.push({ from, to, reason });
  };
  const MESSAGE = sp.get("<|message|>");
  const hasMessageToken = (from: number, to: number): boolean => {
    for (let k = from; k < to; k++) if (tokens[k] === MESSAGE) return true;
    return false;
  };
  const nextStart = (from: number): number => {
    let j = from;
    while (j < n && tokens[j] !== START) j++;
    return j;
  };

  if (all && role !== null && CHANNEL !== undefined) {
    // Text before the first header: words before the first <|channel|> that are not `to=…`.
    let c = 0;
    while (c < n && tokens[c] !== CHANNEL && !stops.has(tokens[c]) && tokens[c] !== START) c++;
    if (c > 0 && c < n && tokens[c] === CHANNEL) {
      const before = decodeText(encoding, tokens, 0, c);
      const t = before.trim();
      if (t !== "" && !t.startsWith("to=")) {
        const m = Message.fromRoleAndContent(role, before);
        messages.push(m);
        repairs.push({ repair: "text-before-header", at: 0, message: messages.length - 1 });
        i = c;
        spanStart = c;
        offset = c;
      }
    }
  }

  while (true) {
    let failed: unknown;
    let failedAt = -1;
    for (; i < n; i++) {
      const t = tokens[i];
      const before = parser.state;
      const count = parser.messages.length;
      try {
        parser.process(t);
      } catch (e) {
        if (e instanceof RangeError) throw e;
        failed = e;
        failedAt = i;
        break;
      }
      if (parser.messages.length > count) spanStart = i + 1;
      else if (before === "Header" && parser.state === "ExpectStart") {
        // A stop token in a later header: the reference drops the header without an error.
        if (all && salvageHeader(i, t)) {
          repairs.push({ repair: "missing-message", at: i, message: messages.length - 1 });
        } else drop(spanStart, i + 1, "stop-in-header");
        spanStart = i + 1;
      }
    }
    if (failed === undefined) {
      try {
        parser.processEos();
        collect();
        spanStart = n;
      } catch (e) {
        if (e instanceof RangeError) throw e;
        collect();
        firstError ??= shiftError(e, offset);
        if (all && parser.state === "Header" && salvageHeader(n, -1)) {
          repairs.push({ repair: "eos-in-header", at: n, message: messages.length - 1 });
        } else drop(spanStart, n, reasonOf(e));
      }
      return { messages, error: firstError, dropped, repairs };
    }
    firstError ??= shiftError(failed, offset);
    const t = tokens[failedAt];
    if (all && parser.state === "ExpectStart" && reasonOf(failed) === "unexpected-token") {
      if (stops.has(t)) {
        const prev = messages.length + parser.messages.length - seen - 1;
        repairs.push({ repair: "stray-stop", at: failedAt, message: prev });
        i = failedAt + 1;
        spanStart = i;
        continue; // the parser is still expecting <|start|>
      }
      const j = nextStart(failedAt + 1);
      if (!hasMessageToken(failedAt, j)) {
        // Text (no <|message|>) before the next <|start|>: a message of its own.
        const text = decodeText(encoding, tokens, failedAt, j);
        restart(j, null);
        messages.push(Message.fromRoleAndContent("assistant", text));
        repairs.push({ repair: "text-before-header", at: failedAt, message: messages.length - 1 });
        if (j >= n) return { messages, error: firstError, dropped, repairs };
        i = j;
        spanStart = j;
        continue;
      }
      // A missing <|start|>: a role word follows, or the message is the assistant's.
      const roleWord = leadingRole(encoding, tokens, failedAt, n);
      restart(failedAt, roleWord === undefined ? "assistant" : null);
      repairs.push({ repair: "missing-start", at: failedAt, message: messages.length });
      if (roleWord !== undefined) {
        parser.process(START);
        offset = failedAt - 1;
      }
      i = failedAt;
      spanStart = failedAt;
      continue;
    }
    const j = nextStart(failedAt + 1);
    drop(spanStart, j, reasonOf(failed));
    if (j >= n) {
      collect();
      return { messages, error: firstError, dropped, repairs };
    }
    restart(j, null);
    i = j;
    spanStart = j;
  }

  /**
   * Salvages the header `[spanStart, end)` (a `<|start|>`, a role word, the rest) as the
   * reference salvages the first message: a parser given the role reads the rest of the header,
   * and the stop token (or the end) makes the message. False when there is no role word.
   */
  function salvageHeader(end: number, stop: number): boolean {
    let from = spanStart;
    if (tokens[from] === START) from++;
    let k = from;
    let word = "";
    while (k < end) {
      word = decodeText(encoding, tokens, from, k + 1);
      k++;
      if (ROLE_WORDS.includes(word)) break;
      if (word.length > 9) return false;
    }
    if (!ROLE_WORDS.includes(word) || k >= end) return false;
    const p = new StreamableParser(encoding, word as Role, { strict: false });
    try {
      for (let x = k; x < end; x++) p.process(tokens[x]);
      p.process(stop >= 0 ? stop : sp.get("<|end|>")!);
    } catch {
      return false;
    }
    if (p.messages.length !== 1) return false;
    collect();
    messages.push(p.messages[0]);
    return true;
  }
}

function decodeText(
  encoding: ParserEncoding,
  tokens: ArrayLike<number>,
  from: number,
  to: number,
): string {
  const ids: number[] = [];
  for (let k = from; k < to; k++) ids.push(tokens[k]);
  try {
    return encoding.tokenizer.decode(ids);
  } catch {
    return "";
  }
}

/** The role word the tokens at `at` start with (before `<|channel|>`/`<|message|>`), if any. */
function leadingRole(
  encoding: ParserEncoding,
  tokens: ArrayLike<number>,
  at: number,
  n: number,
): string | undefined {
  const tok = encoding.tokenizer;
  let k = at;
  while (k < n && k < at + 8 && !tok.isSpecial(tokens[k])) k++;
  const text = decodeText(encoding, tokens, at, k);
  const m = /^(assistant|user|system|developer)(?![A-Za-z])/.exec(text);
  return m === null ? undefined : m[1];
}
