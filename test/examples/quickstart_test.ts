import { test } from "node:test";
import assert from "node:assert/strict";

test("examples/quickstart.ts runs to the end (the README's library tour)", async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void lines.push(args.join(" "));
  try {
    await import("../../examples/quickstart.ts");
  } finally {
    console.log = log;
  }
  assert.match(lines[0], /^prompt: \d+ tokens$/);
  assert.equal(lines[1].startsWith("tool call to functions.get_weather on commentary"), true);
  assert.equal(lines[2], 'streamed content: {"location":"Tokyo"}');
  assert.equal(lines[3], "hello world → [24912, 2375] → hello world");
});
