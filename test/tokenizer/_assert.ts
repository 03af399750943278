/**
 * Token-array comparison that reports the first difference with its context (instead of dumping
 * two long arrays).
 *
 * @module
 */

import assert from "node:assert/strict";

/** Fails unless `actual` and `expected` hold the same ids; the message shows where they differ. */
export function assertSameTokens(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  label: string,
  decode?: (t: number[]) => string,
): void {
  const n = Math.min(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  if (i === n && actual.length === expected.length) return;
  const a = Array.from(actual).slice(Math.max(0, i - 3), i + 4);
  const e = Array.from(expected).slice(Math.max(0, i - 3), i + 4);
  const ctx = decode
    ? ` near ${JSON.stringify(decode(Array.from(expected).slice(Math.max(0, i - 3), i + 4)))}`
    : "";
  assert.fail(
    `${label}: tokens differ at index ${i} (lengths ${actual.length} vs ${expected.length})${ctx}: ` +
      `got [${a}] expected [${e}]`,
  );
}
