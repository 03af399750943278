import { test } from "node:test";
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";

const HI = '{"messages":[{"role":"user","content":"Hi"}]}';
const COT = JSON.stringify({
  messages: [
    { role: "user", content: "q" },
    { role: "assistant", channel: "analysis", content: "think" },
    { role: "assistant", channel: "final", content: "a" },
  ],
});

function lines(out: string): Array<Record<string, unknown>> {
  return out.trimEnd().split("\n").map((l) => JSON.parse(l));
}

test("render (completion by default) gives one tokens line per conversation, an error per blank line", async () => {
  const host = memoryHost(`${HI}\n\n${HI}\n`);
  assert.equal(await main(["render"], host), 1);
  assert.deepEqual(lines(host.out()), [
    { tokens: [200006, 1428, 200008, 12194, 200007, 200006, 173781] },
    { error: "line 2: empty line" },
    { tokens: [200006, 1428, 200008, 12194, 200007, 200006, 173781] },
  ]);
});

test("render --mode and --next-role and --auto-drop-analysis", async () => {
  const conv = memoryHost(`${HI}\n`);
  assert.equal(await main(["render", "--mode", "conversation"], conv), 0);
  assert.deepEqual(lines(conv.out()), [{ tokens: [200006, 1428, 200008, 12194, 200007] }]);

  const next = memoryHost(`${HI}\n`);
  assert.equal(await main(["render", "--next-role", "user"], next), 0);
  assert.deepEqual(lines(next.out())[0].tokens, [
    200006,
    1428,
    200008,
    12194,
    200007,
    200006,
    1428,
  ]);

  const train = memoryHost(`${COT}\n`);
  assert.equal(await main(["render", "--mode", "training"], train), 0);
  const dropped = lines(train.out())[0].tokens as number[];
  assert.equal(dropped[dropped.length - 1], 200002);

  const keep = memoryHost(`${COT}\n`);
  assert.equal(
    await main(["render", "--mode", "training", "--auto-drop-analysis", "false"], keep),
    0,
  );
  assert.ok((lines(keep.out())[0].tokens as number[]).length > dropped.length);
});

test("render reports bad lines by number, goes on, and exits 1", async () => {
  const host = memoryHost(
    [
      HI,
      "not json",
      '{"messages":[{"role":"tool","content":"x"}]}',
      '{"messages":[{"role":"user","content":[{"type":"text","text":5}]}]}',
      HI,
    ].join("\n") + "\n",
  );
  assert.equal(await main(["render"], host), 1);
  const out = lines(host.out());
  assert.equal(out.length, 5);
  assert.ok(Array.isArray(out[0].tokens));
  assert.match(String(out[1].error), /^line 2: Cannot parse JSON/);
  assert.match(
    String(out[2].error),
    /^line 3: Cannot render message 0: a tool message needs an author name/,
  );
  assert.match(
    String(out[3].error),
    /^line 4: Cannot read message: messages\[0\]\.content\[0\]\.text: expected string/,
  );
  assert.ok(Array.isArray(out[4].tokens));
});

test("render keeps tool-schema key order and writes floats as the reference", async () => {
  const line =
    '{"messages":[{"role":"developer","content":[{"type":"developer_content","instructions":null,' +
    '"tools":{"functions":{"name":"functions","description":null,"tools":[{"name":"f","description":"F",' +
    '"parameters":{"type":"object","properties":{"b":{"type":"number","default":1.0},"10":{"type":"string"}}}}]}}}]}]}';
  const host = memoryHost(`${line}\n`);
  assert.equal(await main(["render", "--mode", "conversation"], host), 0);
  const tokens = lines(host.out())[0].tokens as number[];
  const decode = memoryHost(`${JSON.stringify({ tokens })}\n`);
  assert.equal(await main(["decode", "--jsonl"], decode), 0);
  const text = String(lines(decode.out())[0].text);
  assert.ok(
    text.includes("type f = (_: {\nb?: number, // default: 1.0\n10?: string,\n}) => any;"),
    text,
  );
});

test("render rejects an unknown --next-role and --mode as usage errors", async () => {
  const a = memoryHost(`${HI}\n`);
  assert.equal(await main(["render", "--next-role", "bot"], a), 2);
  const b = memoryHost(`${HI}\n`);
  assert.equal(await main(["render", "--mode", "x"], b), 2);
});
