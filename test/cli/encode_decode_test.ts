import { test } from "node:test";
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";

test("encode reads all of stdin as one text and prints a JSON array", async () => {
  const host = memoryHost("hello world");
  assert.equal(await main(["encode"], host), 0);
  assert.equal(host.out(), "[24912,2375]\n");
});

test("encode --jsonl reports a bad line by number and goes on", async () => {
  const host = memoryHost('{"text":"hi"}\nnot json\n\n{"text":5}\n{"text":"<|end|>"}\n');
  assert.equal(await main(["encode", "--jsonl"], host), 1);
  const lines = host.out().trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 5);
  assert.deepEqual(lines[0], { tokens: [3686] });
  assert.match(lines[1].error, /^line 2: Cannot parse JSON/);
  assert.deepEqual(lines[2], { error: "line 3: empty line" });
  assert.match(lines[3].error, /^line 4: Cannot encode record: "text" must be a string/);
  assert.deepEqual(lines[4], { tokens: [27, 91, 419, 91, 29] });
});

test("encode --allowed-special all turns special-token literals into ids", async () => {
  const host = memoryHost('{"text":"<|start|>user<|message|>hi"}\n');
  assert.equal(await main(["encode", "--jsonl", "--allowed-special", "all"], host), 0);
  assert.deepEqual(JSON.parse(host.out()), { tokens: [200006, 1428, 200008, 3686] });
});

test("decode --jsonl gives text, U+FFFD for split UTF-8, and an error naming a bad id", async () => {
  const host = memoryHost('{"tokens":[24912,2375]}\n{"tokens":[9999999]}\n{"tokens":[1,"x"]}\n');
  assert.equal(await main(["decode", "--jsonl"], host), 1);
  const lines = host.out().trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines[0], { text: "hello world" });
  assert.match(lines[1].error, /^line 2: .*9999999.*index 0/);
  assert.match(lines[2].error, /^line 3: Cannot read tokens: value at index 1/);
});

test("unknown options are usage errors (exit 2) and --help prints the options", async () => {
  const bad = memoryHost();
  assert.equal(await main(["encode", "--bogus"], bad), 2);
  assert.match(bad.err(), /unknown option "--bogus"/);
  const help = memoryHost();
  assert.equal(await main(["encode", "--help"], help), 0);
  assert.match(help.out(), /--allowed-special none\|all/);
});
