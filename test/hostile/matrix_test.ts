// The hostile-input matrix of issue #11 for every JSONL command (encode, decode, render, parse):
// malformed JSON, a truncated last line, CRLF, BOM, NUL, invalid UTF-8, blank lines, odd token
// ids (−1, 1.5, "1", null, 2^32, 2^53, 201089, 1e99999), duplicate keys, `__proto__` keys and
// deep nesting. Each case checks: one output line per input line, the exit code, every error
// names its line, no stack trace, and the exact output pinned in expected.json, so Deno and Bun
// must agree byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { COMMANDS, matrix } from "./_cases.ts";

const expected = JSON.parse(
  readFileSync(new URL("./expected.json", import.meta.url), "utf8"),
) as Record<string, [number, string]>;

/** Input lines as the CLI counts them: a final newline does not start another line. */
function countLines(input: Uint8Array): number {
  if (input.length === 0) return 0;
  let n = 0;
  for (const b of input) if (b === 10) n++;
  return input[input.length - 1] === 10 ? n : n + 1;
}

for (const c of COMMANDS) {
  for (const [name, input] of matrix(c)) {
    const key = `${c.name}: ${name}`;
    test(`${key}: one line out per line in, errors name their line, pinned output`, async () => {
      const host = memoryHost(input);
      const code = await main(c.args, host);
      const out = host.out();
      const lines = out.split("\n");
      assert.equal(lines.pop(), "", "output ends with a newline");
      assert.equal(lines.length, countLines(input));
      let errors = 0;
      lines.forEach((l, i) => {
        const v = JSON.parse(l) as { error?: string };
        if (v.error !== undefined) {
          errors++;
          assert.ok(v.error.startsWith(`line ${i + 1}: `), v.error);
          assert.doesNotMatch(v.error, /\n\s+at |Maximum call stack/);
        }
      });
      assert.equal(code, errors > 0 ? 1 : 0);
      assert.deepEqual([code, out], expected[key]);
    });
  }
}

test("expected.json has no case the matrix lost", () => {
  const keys = COMMANDS.flatMap((c) => matrix(c).map(([n]) => `${c.name}: ${n}`));
  assert.deepEqual(Object.keys(expected).filter((k) => k !== "_note").sort(), keys.sort());
});
