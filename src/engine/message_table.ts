/**
 * The message table of a batch of completions: where each message's header and content lie, and
 * its stop token, found from the positions of the harmony special tokens alone (the GPU or CPU
 * token scan gives those positions plus every token's bytes). Regular completions become messages
 * directly; irregular ones are flagged for the streaming parser, which reproduces the reference's
 * exact behaviour (errors included).
 *
 * Regular (reference: `src/encoding.rs`, `StreamableParser::process_next`): every message is
 * `[<|start|>] header <|message|> content (<|end|> | <|return|> | <|call|> | end of stream)`, the
 * first message may skip `<|start|>` when a role is given, headers hold only ordinary tokens,
 * `<|channel|>` and `<|constrain|>`, contents hold only ordinary tokens, and nothing follows the
 * last stop token. Header and content bytes must also be valid UTF-8 and headers must parse by
 * the parser's own grammar (`src/parse/_header.ts`, checked when messages are built).
 *
 * @module
 */

import type { Role } from "../chat/role.ts";
import type { Message } from "../chat/message.ts";
import { messageFromHeader, type ParsedHeader, parseHeaderText } from "../parse/mod.ts";
import { HarmonyParseError } from "../parse/errors.ts";
import { SpecialToken } from "../tokenizer/special_tokens.ts";
import type { TokenScan } from "../gpu/token_scan.ts";

/** `stop` of a message that ran to the end of the stream. */
export const NO_STOP = 0xffffffff;

/** Message boundaries of a batch of completions (token indices into the concatenated batch). */
export interface MessageTable {
  /** Token offset of each completion in the batch; length completions + 1. */
  completionOffsets: Uint32Array;
  /** First message row of each completion; length completions + 1. */
  messageOffsets: Uint32Array;
  /** 1 when the completion is regular (its rows are complete), 0 when it needs the parser. */
  regular: Uint8Array;
  /** Per message row: first header token (after `<|start|>`). */
  headerStart: Uint32Array;
  /** Per message row: the `<|message|>` token (header end, exclusive). */
  headerEnd: Uint32Array;
  /** Per message row: first content token (after `<|message|>`). */
  contentStart: Uint32Array;
  /** Per message row: content end (exclusive): the stop token, or the stream's end. */
  contentEnd: Uint32Array;
  /** Per message row: the stop token id, or {@link NO_STOP}. */
  stop: Uint32Array;
  /** The token scan the table was built from (bytes and byte offsets). */
  scan: TokenScan;
}

/**
 * Builds the message table from a token scan. `role`: the role the first message starts in
 * (its header then needs no `<|start|>`), as in `parseMessagesFromCompletionTokens`.
 *
 * @example
 * ```ts
 * import { buildMessageTable } from "./message_table.ts";
 * declare const scan: import("../gpu/token_scan.ts").TokenScan;
 * declare const tokens: Uint32Array;
 * const table = buildMessageTable(tokens, new Uint32Array([0, tokens.length]), scan, "assistant");
 * ```
 */
export function buildMessageTable(
  tokens: Uint32Array,
  completionOffsets: Uint32Array,
  scan: TokenScan,
  role?: Role | null,
): MessageTable {
  const nc = completionOffsets.length - 1;
  const messageOffsets = new Uint32Array(nc + 1);
  const regular = new Uint8Array(nc);
  const hs: number[] = [], he: number[] = [], ce: number[] = [], st: number[] = [];
  const pos = scan.specialPositions;
  let j = 0;
  for (let c = 0; c < nc; c++) {
    const cs = completionOffsets[c], cend = completionOffsets[c + 1];
    messageOffsets[c] = hs.length;
    const rowStart = hs.length;
    while (j < pos.length && pos[j] < cs) j++;
    // 0 expect start, 1 header, 2 content
    let state = role ? 1 : 0, ok = true, next = cs, headerStart = cs, headerEnd = 0;
    for (; j < pos.length && pos[j] < cend && ok; j++) {
      const q = pos[j], t = tokens[q];
      if (state === 0) {
        if (t !== SpecialToken.Start || q !== next) ok = false;
        else {
          state = 1;
          headerStart = q + 1;
        }
      } else if (state === 1) {
        if (t === SpecialToken.Message) {
          headerEnd = q;
          state = 2;
        } else if (t !== SpecialToken.Channel && t !== SpecialToken.Constrain) ok = false;
      } else if (t === SpecialToken.End || t === SpecialToken.Return || t === SpecialToken.Call) {
        hs.push(headerStart), he.push(headerEnd), ce.push(q), st.push(t);
        state = 0;
        next = q + 1;
      } else ok = false;
    }
    while (j < pos.length && pos[j] < cend) j++;
    if (ok) {
      if (state === 0 && next !== cend) ok = false;
      else if (state === 1) ok = false;
      else if (state === 2) {
        hs.push(headerStart), he.push(headerEnd), ce.push(cend), st.push(NO_STOP);
      }
    }
    if (!ok) {
      hs.length =
        he.length =
        ce.length =
        st.length =
          rowStart;
    }
    regular[c] = ok ? 1 : 0;
  }
  messageOffsets[nc] = hs.length;
  return {
    completionOffsets,
    messageOffsets,
    regular,
    headerStart: Uint32Array.from(hs),
    headerEnd: Uint32Array.from(he),
    contentStart: Uint32Array.from(he, (x) => x + 1),
    contentEnd: Uint32Array.from(ce),
    stop: Uint32Array.from(st),
    scan,
  };
}

/**
 * The header of a regular message by the parser's grammar (`src/parse/_header.ts`), or
 * undefined when the parser would reject it (no role, unknown role, empty channel, strict-mode
 * leftovers): such completions go through the streaming parser, which reports the error.
 */
function regularHeader(text: string, role: Role | undefined): ParsedHeader | undefined {
  let h: ParsedHeader;
  try {
    h = parseHeaderText(text, role, true, 0);
  } catch (e) {
    if (e instanceof HarmonyParseError) return undefined;
    throw e;
  }
  return h.remaining === undefined ? h : undefined;
}

const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The messages of completion `c` of a table, or undefined when the completion is irregular (then
 * use the streaming parser). Same messages as `parseMessagesFromCompletionTokens` for every
 * regular completion.
 *
 * @example
 * ```ts
 * import { tableMessages } from "./message_table.ts";
 * declare const table: import("./message_table.ts").MessageTable;
 * const messages = tableMessages(table, 0, "assistant") ?? [];
 * ```
 */
export function tableMessages(
  table: MessageTable,
  c: number,
  role?: Role | null,
): Message[] | undefined {
  if (!table.regular[c]) return undefined;
  const { byteOffsets, bytes } = table.scan;
  const out: Message[] = [];
  for (let m = table.messageOffsets[c]; m < table.messageOffsets[c + 1]; m++) {
    let headerText: string, content: string;
    try {
      headerText = fatal.decode(
        bytes.subarray(byteOffsets[table.headerStart[m]], byteOffsets[table.headerEnd[m]]),
      );
      content = fatal.decode(
        bytes.subarray(byteOffsets[table.contentStart[m]], byteOffsets[table.contentEnd[m]]),
      );
    } catch {
      return undefined; // invalid UTF-8: the parser's replacement rules apply
    }
    const header = regularHeader(
      headerText,
      m === table.messageOffsets[c] ? role ?? undefined : undefined,
    );
    if (!header) return undefined;
    out.push(messageFromHeader(header, content));
  }
  return out;
}
