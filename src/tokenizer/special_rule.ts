/**
 * tiktoken's special-token rule, in one place for the CPU tokenizer and the GPU backend: which
 * special-token literals in a text become their ids (`allowedSpecial`), which are an error
 * (`disallowedSpecial`, by default every literal not allowed), and the error's text.
 *
 * Literals are found as the CPU tokenizer always has: every `<|` starts a candidate that ends at
 * the first `|>` at least two characters later (all harmony literals are `<|name|>` with no `|>`
 * inside, so literals never overlap); a candidate is a literal when it is a special token. The
 * first disallowed literal, in text order, fails the text (tiktoken checks before encoding).
 *
 * @module
 */

import type { EncodeOptions } from "./types.ts";

/** Longest special-token literal looked for (`<|reserved_201088|>` is 19 characters). */
export const MAX_SPECIAL_LENGTH = 64;

/** Resolved `allowedSpecial` / `disallowedSpecial` options. */
export interface SpecialRule {
  /** Whether the literal becomes its token id. */
  allows(literal: string): boolean;
  /** Whether the literal is an error. */
  forbids(literal: string): boolean;
}

/**
 * Resolves {@link EncodeOptions} into a {@link SpecialRule} (tiktoken semantics: by default no
 * literal is allowed and every literal not allowed is disallowed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { specialRule } from "./special_rule.ts";
 * const rule = specialRule({ allowedSpecial: ["<|end|>"] });
 * assert.equal(rule.allows("<|end|>"), true);
 * assert.equal(rule.forbids("<|start|>"), true);
 * assert.equal(specialRule({ disallowedSpecial: [] }).forbids("<|start|>"), false);
 * ```
 */
export function specialRule(options?: EncodeOptions): SpecialRule {
  const allowedOpt = options?.allowedSpecial;
  const allowed: ReadonlySet<string> | "all" = allowedOpt === "all"
    ? "all"
    : new Set(allowedOpt ?? []);
  const disOpt = options?.disallowedSpecial ?? "all";
  const disallowed: ReadonlySet<string> | "all" = disOpt === "all" ? "all" : new Set(disOpt);
  const allows = (t: string) => allowed === "all" || allowed.has(t);
  const forbids = (t: string) => disallowed === "all" ? !allows(t) : disallowed.has(t);
  return { allows, forbids };
}

/**
 * The error for a disallowed special-token literal at UTF-16 offset `offset` of the text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { disallowedSpecialError } from "./special_rule.ts";
 * assert.equal(
 *   disallowedSpecialError("<|end|>", 3).message,
 *   "Cannot encode text: disallowed special token <|end|> at offset 3",
 * );
 * ```
 */
export function disallowedSpecialError(literal: string, offset: number): SyntaxError {
  return new SyntaxError(
    `Cannot encode text: disallowed special token ${literal} at offset ${offset}`,
  );
}

/**
 * Finds the allowed special-token literals of `text`, appending `(start, end)` UTF-16 offsets to
 * `found` in text order; returns the error of the first disallowed literal (then `found` is
 * incomplete and must not be used), or undefined. Linear time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scanSpecialLiterals, specialRule } from "./special_rule.ts";
 * const specials = new Map([["<|end|>", 200007]]);
 * const found: number[] = [];
 * assert.equal(scanSpecialLiterals("a<|end|>", specials, specialRule({ allowedSpecial: "all" }), found), undefined);
 * assert.deepEqual(found, [1, 8]);
 * assert.match(scanSpecialLiterals("<|end|>", specials, specialRule(), [])!.message, /at offset 0$/);
 * ```
 */
export function scanSpecialLiterals(
  text: string,
  specials: ReadonlyMap<string, number>,
  rule: SpecialRule,
  found: number[],
): SyntaxError | undefined {
  if (text.length < 5) return undefined;
  // `j` (the first "|>" at or after i + 2) is kept while it stays ahead: linear time.
  let j = -1;
  for (let i = text.indexOf("<|"); i >= 0; i = text.indexOf("<|", i + 1)) {
    if (j < i + 2) j = text.indexOf("|>", i + 2);
    if (j < 0) break;
    if (j + 2 - i > MAX_SPECIAL_LENGTH) continue;
    const literal = text.slice(i, j + 2);
    if (!specials.has(literal)) continue;
    if (rule.forbids(literal)) return disallowedSpecialError(literal, i);
    if (rule.allows(literal)) found.push(i, j + 2);
  }
  return undefined;
}
