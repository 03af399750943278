/**
 * The message-header grammar of the reference (`src/encoding.rs`,
 * `StreamableParser::parse_header_from_string`), on the decoded header text. Runs once per
 * message, in time linear in the header's length.
 *
 * @module
 */

import { TextContent } from "../chat/content.ts";
import { Message } from "../chat/message.ts";
import { Author, isRole, type Role } from "../chat/role.ts";
import { HarmonyParseError } from "./errors.ts";

const CHANNEL_MARKER = "<|channel|>";
const CONSTRAIN_MARKER = "<|constrain|>";

/** A parsed message header (reference: `ParsedHeader`). */
export interface ParsedHeader {
  /** The author's role. */
  role: Role;
  /** The author's name: the header's first word when it was not a role (tool messages). */
  name: string | undefined;
  /** The recipient (`to=` stripped). */
  recipient: string | undefined;
  /** The channel. */
  channel: string | undefined;
  /** The content type (e.g. `<|constrain|>json`). */
  contentType: string | undefined;
  /** Words left over (joined by one space), or undefined when none. */
  remaining: string | undefined;
}

/** The fields of a parsed header a message takes (see {@link ParsedHeader}). */
export type MessageHeader =
  & Pick<ParsedHeader, "role">
  & Partial<
    Pick<ParsedHeader, "name" | "recipient" | "channel" | "contentType">
  >;

/**
 * Builds the message a parsed header and its content text make (the reference's
 * `StreamableParser` message construction: author from role and name, then recipient, channel,
 * content type). The one place a header becomes a `Message`: the streaming parser and the
 * engine's message table both call it.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { messageFromHeader } from "./_header.ts";
 * const m = messageFromHeader({ role: "assistant", channel: "final" }, "Hi");
 * strictEqual(m.channel, "final");
 * strictEqual(m.author.role, "assistant");
 * ```
 */
export function messageFromHeader(header: MessageHeader, text: string): Message {
  const m = new Message(new Author(header.role, header.name), [new TextContent(text)]);
  m.recipient = header.recipient;
  m.channel = header.channel;
  m.contentType = header.contentType;
  return m;
}

/** Rust's `char::is_whitespace` (Unicode White_Space) for one UTF-16 code unit. */
function isWhitespace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0x85) return false;
  return c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/** Rust's `u8::is_ascii_whitespace`: space, tab, LF, form feed, CR (not vertical tab). */
function isAsciiWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
}

/** Rust's `str::trim` (Unicode White_Space; unlike `String.prototype.trim`, keeps U+FEFF). */
function trim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWhitespace(s.charCodeAt(a))) a++;
  while (b > a && isWhitespace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Rust's `str::split_ascii_whitespace` (empty pieces dropped). */
function splitAsciiWhitespace(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    if (isAsciiWhitespace(s.charCodeAt(i))) {
      if (start >= 0) {
        out.push(s.slice(start, i));
        start = -1;
      }
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(s.slice(start));
  return out;
}

function echo(s: string): string {
  return JSON.stringify(s.length > 32 ? s.slice(0, 32) + "…" : s);
}

/**
 * Parses a header text. With `parseRecipientAndType` false (the non-strict recovery of a header
 * cut by a stop token) everything after role and channel is returned in `remaining`.
 *
 * @throws {HarmonyParseError} `empty-channel`, `missing-role`, `unknown-role` (at `tokenIndex`).
 */
export function parseHeaderText(
  text: string,
  role: Role | undefined,
  parseRecipientAndType: boolean,
  tokenIndex: number,
): ParsedHeader {
  let header = text;
  let channel: string | undefined;
  const at = header.indexOf(CHANNEL_MARKER);
  if (at >= 0) {
    const from = at + CHANNEL_MARKER.length;
    let end = from;
    while (end < header.length) {
      const c = header.charCodeAt(end);
      if (c === 0x3c /* < */ || isWhitespace(c)) break;
      end++;
    }
    if (end === from) {
      throw new HarmonyParseError(
        "empty-channel",
        tokenIndex,
        `Cannot parse message header at token ${tokenIndex}: channel marker present but no channel value found in header`,
      );
    }
    channel = header.slice(from, end);
    header = header.slice(0, at) + header.slice(end);
  }
  header = trim(header);
  if (header.includes(CONSTRAIN_MARKER)) {
    header = trim(header.replaceAll(CONSTRAIN_MARKER, " " + CONSTRAIN_MARKER));
  }
  const parts = splitAsciiWhitespace(header);
  let first = 0; // parts[first..] are the words still unconsumed
  let roleWord: string | undefined;
  let r: Role;
  if (role !== undefined) {
    r = role;
  } else {
    if (parts.length === 0) {
      throw new HarmonyParseError(
        "missing-role",
        tokenIndex,
        `Cannot parse message header at token ${tokenIndex}: message header did not contain a role`,
      );
    }
    roleWord = parts[0];
    if (isRole(roleWord)) {
      r = roleWord;
    } else if (parts.length > 1 || roleWord.startsWith("to=")) {
      // An unknown first word followed by more (or itself a recipient): a tool's message.
      first = 1;
      r = "tool";
    } else {
      throw new HarmonyParseError(
        "unknown-role",
        tokenIndex,
        `Cannot parse message header at token ${tokenIndex}: Unknown role: ${roleWord}`,
      );
    }
  }
  if (first < parts.length && parts[first] === r) first++;

  let recipient: string | undefined;
  let contentType: string | undefined;
  let last = parts.length; // parts[first..last] remain
  if (parseRecipientAndType && first < last) {
    const count = last - first;
    const lastPart = parts[--last];
    if (lastPart.startsWith("to=")) {
      recipient = lastPart.slice(3);
    } else if (count === 1) {
      recipient = lastPart;
    } else {
      contentType = lastPart;
      const raw = parts[--last];
      recipient = raw.startsWith("to=") ? raw.slice(3) : raw;
    }
  }
  const remaining = first < last ? parts.slice(first, last).join(" ") : undefined;
  return {
    role: r,
    name: r === "tool" ? roleWord : undefined,
    recipient,
    channel,
    contentType,
    remaining,
  };
}

/** The strict-mode error for header words that are neither role, recipient nor content type. */
export function leftoversError(remaining: string, tokenIndex: number): HarmonyParseError {
  return new HarmonyParseError(
    "header-leftovers",
    tokenIndex,
    `Cannot parse message header at token ${tokenIndex}: unexpected tokens remaining in message header: ${
      echo(remaining)
    }`,
  );
}
