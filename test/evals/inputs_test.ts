// Input shapes of eval dumps: field paths, per-record detection, n samples, finish_reason.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFieldPath, selectPath } from "../../src/evals/field_path.ts";
import { detectInputShape, finishReasonOf } from "../../src/evals/input_shape.ts";
import { readEvalSamples, RecordReadError } from "../../src/evals/record.ts";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import {
  completionsOf,
  conversations,
  parseLines,
  tokenizer,
  toolConversations,
} from "./_helpers.ts";

const built = [
  ...conversations().slice(0, 6).flatMap(completionsOf),
  ...toolConversations().slice(0, 4).flatMap(completionsOf),
];
const text = (ids: number[]) => tokenizer.decode(ids);

const run = parseLines;

describe("parseFieldPath()", () => {
  test("dotted keys, indices and one [*]", () => {
    const table: [string, string, number][] = [
      ["outputs[*].token_ids", "outputs[*].token_ids", 1],
      ["resps[0][0]", "resps[0][0]", -1],
      ["response.body.choices[*].text", "response.body.choices[*].text", 3],
      ["outputs.0.text", "outputs[0].text", -1],
      ["outputs.*.text", "outputs[*].text", 1],
      ['meta["odd.key"]', 'meta["odd.key"]', -1],
    ];
    for (const [input, normal, wild] of table) {
      const p = parseFieldPath(input);
      assert.equal(p.text, normal, input);
      assert.equal(p.wildcard, wild, input);
    }
  });

  test("malformed paths are SyntaxErrors that name the path", () => {
    for (
      const [bad, why] of [
        ["", "empty path"],
        ["a..b", "empty step"],
        ["a[0", 'unclosed "["'],
        ["a[*][*]", "more than one [*]"],
        ["a[x]", "bad index"],
        ["a.", "empty last step"],
      ]
    ) {
      assert.throws(() => parseFieldPath(bad), (e: unknown) => {
        assert.ok(e instanceof SyntaxError);
        assert.ok(e.message.startsWith(`Cannot parse field path "${bad}": ${why}`), e.message);
        return true;
      });
    }
  });

  test("selectPath() reads own keys only: __proto__ is just a key", () => {
    const rec = JSON.parse('{"__proto__": {"text": "x"}, "outputs": [{"text": "a"}, {}]}');
    assert.deepEqual(selectPath(rec, parseFieldPath("__proto__.text")).map((v) => v.value), ["x"]);
    assert.deepEqual(selectPath(rec, parseFieldPath("constructor")).map((v) => v.value), [
      undefined,
    ]);
    assert.deepEqual(selectPath(rec, parseFieldPath("outputs[*].text")).map((v) => v.value), [
      "a",
      undefined,
    ]);
    assert.deepEqual(selectPath(rec, parseFieldPath("missing[*].text")), []);
  });
});

describe("detectInputShape()", () => {
  const ids = built[0].tokens;
  const t = text(ids);
  const cases: [string, Record<string, unknown>, string, string][] = [
    ["flat ids", { id: 1, tokens: ids }, "flat", "tokens"],
    ["flat token_ids", { token_ids: ids }, "flat", "token_ids"],
    ["flat output", { output: t }, "flat", "output"],
    ["flat response text", { response: t }, "flat", "response"],
    ["SGLang ids", { output_ids: ids, text: t, meta_info: { id: "x" } }, "sglang", "output_ids"],
    ["SGLang text", { text: t, meta_info: { finish_reason: { type: "stop" } } }, "sglang", "text"],
    [
      "vLLM ids",
      { request_id: "0", outputs: [{ index: 0, text: t, token_ids: ids }] },
      "vllm",
      "outputs[*].token_ids",
    ],
    ["vLLM text only", { outputs: [{ index: 0, text: t }] }, "vllm", "outputs[*].text"],
    [
      "lm-eval repeats",
      { doc_id: 0, resps: [[t, t]], filtered_resps: ["4"] },
      "lm-eval",
      "resps[0][*]",
    ],
    ["lm-eval requests", { resps: [[t], [t]] }, "lm-eval", "resps[*][0]"],
    ["lm-eval filtered only", { filtered_resps: [t] }, "lm-eval", "filtered_resps[*]"],
    [
      "OpenAI choices",
      { id: "cmpl", choices: [{ index: 0, text: t, finish_reason: "stop" }] },
      "openai",
      "choices[*].text",
    ],
    [
      "OpenAI choices ids",
      { choices: [{ text: t, token_ids: ids }] },
      "openai",
      "choices[*].token_ids",
    ],
    [
      "OpenAI batch",
      { custom_id: "r1", response: { status_code: 200, body: { choices: [{ text: t }] } } },
      "openai-batch",
      "response.body.choices[*].text",
    ],
  ];
  for (const [name, rec, shape, path] of cases) {
    test(`${name} → ${shape} ${path}`, () => {
      const d = detectInputShape(rec);
      assert.equal(d?.shape, shape);
      assert.equal(d?.path.text, path);
    });
  }

  test("flat fields win over sample shapes; nothing known gives undefined", () => {
    assert.equal(detectInputShape({ text: "x", outputs: [{ text: "y" }] })?.path.text, "text");
    assert.equal(detectInputShape({ prompt: "x" }), undefined);
    // A flat field of another type is the completion when nothing else matches (bad-completion).
    assert.equal(detectInputShape({ response: { body: {} } })?.path.text, "response");
  });

  test("finish_reason: the sample's, else the record's, else SGLang's meta_info", () => {
    assert.equal(finishReasonOf({}, { value: 1, element: { finish_reason: "length" } }), "length");
    assert.equal(finishReasonOf({ finish_reason: "stop" }, { value: 1 }), "stop");
    assert.equal(finishReasonOf({ meta_info: { finish_reason: "abort" } }, { value: 1 }), "abort");
    assert.equal(
      finishReasonOf({ meta_info: { finish_reason: { type: "length", length: 9 } } }, { value: 1 }),
      "length",
    );
    assert.equal(finishReasonOf({}, { value: 1 }), undefined);
  });
});

describe("readEvalSamples()", () => {
  test("a bad sample is an error in its place; the others are read", () => {
    const line = JSON.stringify({
      id: 3,
      outputs: [{ token_ids: built[0].tokens }, { token_ids: [1, 999999999] }, { text: null }],
    });
    const got = readEvalSamples(tokenizer, { text: line }, { field: "outputs[*].token_ids" });
    assert.equal(got.length, 3);
    assert.ok(!(got[0] instanceof RecordReadError));
    assert.ok(
      got[1] instanceof RecordReadError && got[1].reason === "token-out-of-range" &&
        got[1].sample === 1,
    );
    assert.ok(
      got[2] instanceof RecordReadError && got[2].reason === "no-completion" && got[2].sample === 2,
    );
    assert.deepEqual((got[2] as RecordReadError).carried, ['"id":3']);
  });

  test("an empty samples array is no-completion for the whole record", () => {
    assert.throws(
      () =>
        readEvalSamples(tokenizer, { text: '{"id": 1, "outputs": []}' }, {
          field: "outputs[*].text",
        }),
      (e: unknown) =>
        e instanceof RecordReadError && e.reason === "no-completion" && e.carried[0] === '"id": 1',
    );
  });

  test("an input field named sample is replaced only for records with samples", () => {
    const flat = readEvalSamples(tokenizer, { text: '{"sample": 9, "tokens": [1]}' })[0];
    assert.ok(!(flat instanceof Error));
    assert.deepEqual(flat.carried, ['"sample": 9']);
    const many =
      readEvalSamples(tokenizer, { text: '{"sample": 9, "outputs": [{"token_ids": [1]}]}' })[0];
    assert.ok(!(many instanceof Error));
    assert.deepEqual(many.carried, []);
  });
});

describe("parseDataset() on eval dumps", () => {
  test("vLLM n=4: four lines per record, in order, other fields byte for byte, sample i", async () => {
    const lines: string[] = [];
    const expect: { final: string | null; stop: string; id: number }[] = [];
    for (let r = 0; r + 4 <= built.length && r < 16; r += 4) {
      const outs = built.slice(r, r + 4).map((b, i) => ({
        index: i,
        text: text(b.tokens),
        token_ids: b.tokens,
        cumulative_logprob: null,
        finish_reason: i === 3 ? "length" : "stop",
      }));
      lines.push(
        `{"request_id": "req-${r}", "prompt_token_ids": [200006, 17360], "big": 123456789012345678901, "outputs": ${
          JSON.stringify(outs)
        }, "finished": true}`,
      );
      built.slice(r, r + 4).forEach((b, i) =>
        expect.push({ final: b.final, stop: i === 3 ? "none" : b.stop, id: r })
      );
    }
    const { stats, out, rows } = await run(lines);
    assert.equal(rows.length, expect.length);
    rows.forEach((row, k) => {
      assert.equal(row.sample, k % 4);
      assert.equal(row.final, expect[k].final);
      assert.equal(row.stop, expect[k].stop, "finish_reason length → stop none");
      assert.equal(row.status, "ok");
      assert.ok(
        out[k].startsWith(
          `{"request_id": "req-${
            expect[k].id
          }","prompt_token_ids": [200006, 17360],"big": 123456789012345678901,"finished": true,"sample":${
            k % 4
          },"messages":`,
        ),
      );
      assert.equal(row.outputs, undefined);
    });
    assert.equal(stats.records, lines.length);
    assert.equal(stats.samples, rows.length);
    assert.equal(stats.truncated, lines.length);
    assert.equal(stats.per_sample["3"].truncated, lines.length);
    assert.equal(stats.per_sample["0"].samples, lines.length);
  });

  test("SGLang, lm-eval, OpenAI choices and batch output records all parse", async () => {
    const b = built.find((x) => x.final !== null)!;
    const t = text(b.tokens);
    const lines = [
      JSON.stringify({
        id: 0,
        text: t,
        output_ids: b.tokens,
        meta_info: { finish_reason: { type: "length" } },
      }),
      JSON.stringify({ id: 1, doc_id: 7, resps: [[t, t]], filtered_resps: [b.final] }),
      JSON.stringify({ id: 2, choices: [{ index: 0, text: t, finish_reason: "stop" }] }),
      JSON.stringify({
        id: 3,
        custom_id: "r",
        response: { status_code: 200, body: { choices: [{ text: t }, { text: t }] } },
      }),
      JSON.stringify({ id: 4, prompt: "no completion here" }),
    ];
    const { rows, stats } = await run(lines);
    assert.deepEqual(rows.map((r) => [r.id, r.sample ?? null, r.status]), [
      [0, null, "ok"],
      [1, 0, "ok"],
      [1, 1, "ok"],
      [2, 0, "ok"],
      [3, 0, "ok"],
      [3, 1, "ok"],
      [4, null, "error"],
    ]);
    assert.equal(rows[0].stop, "none", "SGLang meta_info.finish_reason.type length");
    for (const r of rows.slice(0, 6)) assert.equal(r.final, b.final);
    assert.deepEqual(rows[1].filtered_resps, [b.final], "lm-eval's other fields are carried");
    assert.equal(rows[4].custom_id, "r");
    assert.match(rows[6].error, /^no-completion: record 4 .*outputs\[\*\]/);
    assert.equal(stats.records, 5);
    assert.equal(stats.samples, 7);
  });

  test("--field with a path on the CLI; a malformed path is a usage error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "harmony-inputs-"));
    try {
      const input = join(dir, "in.jsonl");
      writeFileSync(
        input,
        JSON.stringify({ id: 1, data: { gen: [{ ids: built[0].tokens }] } }) + "\n",
      );
      let host = memoryHost("", {});
      let code = await main([
        "parse-dataset",
        input,
        "--out",
        join(dir, "o.jsonl"),
        "--field",
        "data.gen[*].ids",
        "--backend",
        "cpu",
      ], host);
      assert.equal(code, 0, host.err());
      const row = JSON.parse(readFileSync(join(dir, "o.jsonl"), "utf8"));
      assert.deepEqual([row.id, row.sample, row.final], [1, 0, built[0].final]);
      host = memoryHost("", {});
      code = await main([
        "parse-dataset",
        input,
        "--out",
        join(dir, "o.jsonl"),
        "--field",
        "a[*][*]",
        "--backend",
        "cpu",
      ], host);
      assert.equal(code, 2);
      assert.match(host.err(), /Cannot parse field path "a\[\*\]\[\*\]": more than one \[\*\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
