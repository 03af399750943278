/**
 * The error the harmony parser throws on a malformed token stream.
 *
 * @module
 */

/**
 * Why parsing failed, one code per error of the reference parser (`src/encoding.rs`,
 * `StreamableParser`):
 * - `unexpected-token`: a token other than `<|start|>` where a message must start
 *   ("Unexpected token … while expecting start token …");
 * - `eos-in-header`: the stream ended inside a message header
 *   ("Unexpected EOS while waiting for message header to complete");
 * - `undecodable-header`: the header holds an unknown token id or invalid UTF-8
 *   ("could not decode header");
 * - `empty-channel`: `<|channel|>` followed by no channel name
 *   ("channel marker present but no channel value found in header");
 * - `missing-role`: a header without a role when no role was given
 *   ("message header did not contain a role");
 * - `unknown-role`: a header whose only word is not a role ("Unknown role: …");
 * - `header-leftovers`: strict mode found more words in the header than role, recipient and
 *   content type ("unexpected tokens remaining in message header: …").
 */
export type HarmonyParseErrorReason =
  | "unexpected-token"
  | "eos-in-header"
  | "undecodable-header"
  | "empty-channel"
  | "missing-role"
  | "unknown-role"
  | "header-leftovers";

/**
 * A malformed harmony token stream. `tokenIndex` is the index (in the tokens given to the parser,
 * from 0) of the token that could not be accepted; for an error raised at end of stream it is the
 * number of tokens (one past the last).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { HarmonyParseError } from "./errors.ts";
 * const e = new HarmonyParseError("unexpected-token", 3, "Cannot parse completion: token 3 is 42");
 * strictEqual(e instanceof SyntaxError, true);
 * strictEqual(e.tokenIndex, 3);
 * ```
 */
export class HarmonyParseError extends SyntaxError {
  /** Index of the offending token (the token count when the stream ended too early). */
  readonly tokenIndex: number;
  /** Machine-readable reason. */
  readonly reason: HarmonyParseErrorReason;

  /** Creates a parse error. */
  constructor(
    reason: HarmonyParseErrorReason,
    tokenIndex: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "HarmonyParseError";
    this.reason = reason;
    this.tokenIndex = tokenIndex;
  }
}
