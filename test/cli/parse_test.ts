import { test } from "node:test";
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";

function lines(out: string): Record<string, unknown>[] {
  return out.trimEnd().split("\n").map((l) => JSON.parse(l));
}

test("parse reads {tokens} and bare arrays, role none by default, one line per input line", async () => {
  const host = memoryHost(
    '{"tokens":[200006,1428,200008,12194,200007]}\n\n[200006,173781,200008,12194,200007]\n',
  );
  assert.equal(await main(["parse"], host), 1);
  assert.deepEqual(lines(host.out()), [
    { messages: [{ role: "user", content: "Hi" }] },
    { error: "line 2: empty line" },
    { messages: [{ role: "assistant", content: "Hi" }] },
  ]);
});

test("parse reports bad lines with line number and token index, exit code 1", async () => {
  const host = memoryHost('[12]\nnot json\n{"tokens":[200006,"x"]}\n[200006,1428]\n');
  assert.equal(await main(["parse"], host), 1);
  const out = lines(host.out());
  assert.equal(out.length, 4);
  assert.match(
    String(out[0].error),
    /^line 1: Cannot parse completion: unexpected token 12 at index 0/,
  );
  assert.match(String(out[1].error), /^line 2: Cannot parse JSON/);
  assert.match(String(out[2].error), /^line 3: Cannot read tokens: value at index 1/);
  assert.match(String(out[3].error), /^line 4: .*end of stream at token 2/);
});

test("parse --text --role assistant --no-strict recovers a header cut by <|end|>", async () => {
  const input = '{"text":"<|channel|>commentary Hello<|end|>"}\n';
  const strict = memoryHost(input);
  assert.equal(await main(["parse", "--text", "--role", "assistant"], strict), 1);
  assert.match(String(lines(strict.out())[0].error), /end of stream/);
  const lax = memoryHost(input);
  assert.equal(await main(["parse", "--text", "--role", "assistant", "--no-strict"], lax), 0);
  assert.deepEqual(lines(lax.out()), [{
    messages: [{ role: "assistant", content: "Hello", channel: "commentary" }],
  }]);
});

test("parse --trace gives the parser state after every token: delta and lengths", async () => {
  const host = memoryHost('{"text":"<|channel|>final<|message|>Hi<|return|>"}\n');
  assert.equal(await main(["parse", "--text", "--role", "assistant", "--trace"], host), 0);
  const [rec] = lines(host.out()) as { states: Record<string, unknown>[]; messages: unknown[] }[];
  assert.equal(rec.states.length, 5);
  assert.deepEqual(rec.states[0], {
    current_role: "assistant",
    current_channel: null,
    current_recipient: null,
    current_content_type: null,
    current_content_length: 0,
    last_content_delta: null,
    messages_length: 0,
    state: "Header",
  });
  assert.deepEqual(rec.states[3], {
    current_role: "assistant",
    current_channel: "final",
    current_recipient: null,
    current_content_type: null,
    current_content_length: 2,
    last_content_delta: "Hi",
    messages_length: 0,
    state: "Content",
  });
  assert.equal(rec.states[4].state, "ExpectStart");
  assert.equal(rec.states[4].messages_length, 1);
  assert.deepEqual(rec.messages, [{ role: "assistant", content: "Hi", channel: "final" }]);
});

test("parse --trace-full adds the whole content; a parse error ends the trace line", async () => {
  const host = memoryHost('{"text":"<|channel|>final<|message|>Hi"}\n[200006,12]\n');
  assert.equal(await main(["parse", "--text", "--role", "assistant", "--trace-full"], host), 1);
  const out = host.out().trimEnd().split("\n");
  assert.equal(out.length, 2);
  const rec = JSON.parse(out[0]) as { states: Record<string, unknown>[] };
  assert.equal(rec.states[3].current_content, "Hi");
  assert.deepEqual(JSON.parse(out[1]), {
    error: 'line 2: Cannot read record: "text" must be a string',
  });
  const bad = memoryHost("[200006,1428,200008,12194,200007,12]\n");
  assert.equal(await main(["parse", "--trace"], bad), 1);
  const r = JSON.parse(bad.out()) as { states: unknown[]; error: string };
  assert.equal(r.states.length, 5);
  assert.match(r.error, /^line 1: .*unexpected token 12 at index 5/);
});

test("parse --role rejects an unknown role as a usage error", async () => {
  const host = memoryHost("[]\n");
  assert.equal(await main(["parse", "--role", "robot"], host), 2);
  assert.match(host.err(), /--role must be one of/);
});
