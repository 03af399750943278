import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  COMPLETION_FIELDS,
  formatResultLine,
  readEvalRecord,
  RecordReadError,
  stringifyValue,
} from "../../src/evals/record.ts";
import { objectMembers } from "../../src/evals/_json_members.ts";
import { enc, tokenizer } from "./_helpers.ts";

const TEXT = "<|channel|>final<|message|>Hi<|return|>";

describe("readEvalRecord()", () => {
  test("finds the completion in tokens, completion_tokens, output_ids, text, completion (in that order)", () => {
    for (const f of COMPLETION_FIELDS) {
      const value = f === "text" || f === "completion" ? TEXT : enc(TEXT);
      const r = readEvalRecord(tokenizer, { text: JSON.stringify({ id: 1, [f]: value }) });
      assert.equal(r.field, f);
      assert.deepEqual(Array.from(r.tokens), enc(TEXT));
      assert.deepEqual(r.carried, ['"id":1']);
    }
    const both = readEvalRecord(tokenizer, {
      text: JSON.stringify({ text: "ignored", output_ids: enc(TEXT) }),
    });
    assert.equal(both.field, "output_ids");
    assert.deepEqual(both.carried, ['"text":"ignored"']);
  });

  test("field picks another field, and the default fields are then carried", () => {
    const r = readEvalRecord(tokenizer, {
      text: JSON.stringify({ tokens: [1], response: TEXT }),
    }, { field: "response" });
    assert.deepEqual(Array.from(r.tokens), enc(TEXT));
    assert.deepEqual(r.carried, ['"tokens":[1]']);
  });

  test("other fields are carried byte for byte: big integers, spacing, escapes, nesting", () => {
    const line =
      '{ "id" : 123456789012345678901234567890, "k\\"ey": "a\\u00e9\\"}{", "meta": {"x": [1, {"y": "]"}], "z": 1.50}, "tokens": [200005, 17196], "last": true }';
    const r = readEvalRecord(tokenizer, { text: line });
    assert.deepEqual(r.carried, [
      '"id" : 123456789012345678901234567890',
      '"k\\"ey": "a\\u00e9\\"}{"',
      '"meta": {"x": [1, {"y": "]"}], "z": 1.50}',
      '"last": true',
    ]);
  });

  test("input fields named like result fields are replaced (not duplicated)", () => {
    const r = readEvalRecord(tokenizer, {
      text: JSON.stringify({ messages: [{ role: "user" }], status: "x", prompt_id: 3, text: TEXT }),
    });
    assert.deepEqual(r.carried, ['"prompt_id":3']);
  });

  test("Parquet rows: bigint ids and typed arrays are accepted; fields stringified exactly", () => {
    const r = readEvalRecord(tokenizer, {
      value: { id: 2n ** 64n + 1n, tokens: BigInt64Array.from(enc(TEXT).map(BigInt)), tag: "a" },
    });
    assert.deepEqual(Array.from(r.tokens), enc(TEXT));
    assert.deepEqual(r.carried, ['"id":18446744073709551617', '"tag":"a"']);
    assert.equal(
      stringifyValue({ a: [1n, null, "x"], d: new Uint8Array([1, 2]) }),
      '{"a":[1,null,"x"],"d":[1,2]}',
    );
  });

  const errors: [string, string, string, string[]][] = [
    ["not json", "bad-json", "Cannot parse record: ", []],
    ["[1, 2]", "not-an-object", "Cannot read record: expected a JSON object, got [1,2]", []],
    ['{"id": 5}', "no-completion", "Cannot read record: no completion field", ['"id": 5']],
    ['{"id": 5, "tokens": null}', "no-completion", "Cannot read record: no completion field", [
      '"id": 5',
      '"tokens": null',
    ]],
    ['{"id": 5, "tokens": {"a": 1}}', "bad-completion", 'Cannot read record: "tokens" must be', [
      '"id": 5',
    ]],
    [
      '{"tokens": [1, 2.5]}',
      "bad-completion",
      'Cannot read record: "tokens"[1] is not a token id',
      [],
    ],
    [
      '{"tokens": [1, "2"]}',
      "bad-completion",
      'Cannot read record: "tokens"[1] is not a token id',
      [],
    ],
    [
      '{"tokens": [-1]}',
      "token-out-of-range",
      'Cannot read record: "tokens"[0] = -1 is out of range',
      [],
    ],
    [
      `{"tokens": [0, ${tokenizer.vocabSize}]}`,
      "token-out-of-range",
      `Cannot read record: "tokens"[1] = ${tokenizer.vocabSize} is out of range [0, ${tokenizer.vocabSize})`,
      [],
    ],
  ];
  for (const [line, reason, message, carried] of errors) {
    test(`a record ${line.slice(0, 30)} is a RecordReadError (${reason})`, () => {
      assert.throws(() => readEvalRecord(tokenizer, { text: line }), (e: unknown) => {
        assert.ok(e instanceof RecordReadError);
        assert.ok(e instanceof TypeError);
        assert.equal(e.reason, reason);
        assert.ok(e.message.startsWith(message), e.message);
        assert.deepEqual(e.carried, carried);
        return true;
      });
    });
  }

  test("a named field that is missing names it", () => {
    assert.throws(
      () => readEvalRecord(tokenizer, { text: '{"tokens": [1]}' }, { field: "resp" }),
      /no completion field \("resp"\)/,
    );
  });
});

describe("objectMembers()", () => {
  test("spans survive quotes, brackets and backslashes inside strings", () => {
    const text = '{"a":"\\\\","b":"x\\\\\\"]}","c":[{"d":"}"}],"e":-1.5e3}';
    assert.deepEqual(JSON.parse(text), { a: "\\", b: 'x\\"]}', c: [{ d: "}" }], e: -1500 });
    const m = objectMembers(text);
    assert.deepEqual(m.map((x) => x.key), ["a", "b", "c", "e"]);
    assert.deepEqual(m.map((x) => text.slice(x.start, x.end)), [
      '"a":"\\\\"',
      '"b":"x\\\\\\"]}"',
      '"c":[{"d":"}"}]',
      '"e":-1.5e3',
    ]);
    assert.deepEqual(objectMembers("{}"), []);
    assert.deepEqual(objectMembers(' { "\\u0041" : 1 } ').map((x) => x.key), ["A"]);
  });
});

describe("formatResultLine()", () => {
  test("writes carried fields first, then the result fields; error only when set", () => {
    const base = {
      messages: [],
      final: "x",
      analysis: null,
      tool_calls: [],
      stop: "none" as const,
      status: "error" as const,
    };
    const line = formatResultLine(['"id": 1'], { ...base, error: "e" });
    assert.equal(
      line,
      '{"id": 1,"messages":[],"final":"x","analysis":null,"tool_calls":[],"stop":"none","status":"error","error":"e"}',
    );
    assert.deepEqual(Object.keys(JSON.parse(formatResultLine([], base))), [
      "messages",
      "final",
      "analysis",
      "tool_calls",
      "stop",
      "status",
    ]);
  });
});
