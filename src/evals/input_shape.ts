/**
 * Where an eval record keeps its completion(s), detected per record when no `--field` is given.
 * The order (first match wins; docs/parse-dataset.md states the same):
 *
 * 1. **flat**: the first of {@link COMPLETION_FIELDS} holding text or an array of numbers
 *    (`tokens`, `completion_tokens`, `output_ids`, `token_ids`, `text`, `completion`, `output`,
 *    `response`). SGLang `/generate` results are flat (`output_ids`, `text`), their
 *    `meta_info.finish_reason` is read (shape `sglang`).
 * 2. **vllm**: vLLM `RequestOutput` dumps, `outputs` an array of objects: `outputs[*].token_ids`
 *    when the first output has token ids, else `outputs[*].text`.
 * 3. **lm-eval**: lm-evaluation-harness `--log_samples` records: `resps` (else `filtered_resps`):
 *    `resps[0][*]` for one request with k generations (`[["a", "b"]]`), `resps[*][0]` for k
 *    requests of one generation each (`[["a"], ["b"]]`), `resps[*]` for a flat list of texts.
 * 4. **openai**: OpenAI-style completion choices, `choices[*].token_ids` (vLLM's
 *    `return_token_ids`) when the first choice has them, else `choices[*].text`.
 * 5. **openai-batch**: an OpenAI batch output line, the same under `response.body.choices`.
 *
 * When none matches but a flat field is present with another type, that field is the
 * completion (and reading it fails with `bad-completion`).
 *
 * A `finish_reason` is read from the sample's element (`outputs[i]`, `choices[i]`), else from the
 * record (`finish_reason`, or SGLang's `meta_info.finish_reason`, a string or `{type}`).
 *
 * @module
 */

import { type FieldPath, fieldPathOf, type PathStep, type PathValue } from "./field_path.ts";

/** Fields tried, in order, for a flat record: token ids first, then text. */
export const COMPLETION_FIELDS: readonly string[] = [
  "tokens",
  "completion_tokens",
  "output_ids",
  "token_ids",
  "text",
  "completion",
  "output",
  "response",
];

/** The input shapes {@link detectInputShape} knows. */
export type InputShape = "flat" | "sglang" | "vllm" | "lm-eval" | "openai" | "openai-batch";

/** A detected shape and the path of its completion(s). */
export interface DetectedShape {
  /** The shape. */
  shape: InputShape;
  /** The completion's path (with `[*]` when the record holds samples). */
  path: FieldPath;
}

type Obj = Record<string, unknown>;

function own(o: unknown, key: string): unknown {
  if (o === null || typeof o !== "object" || Array.isArray(o)) return undefined;
  return Object.hasOwn(o, key) ? (o as Obj)[key] : undefined;
}

function isIds(v: unknown): boolean {
  if (ArrayBuffer.isView(v)) return !(v instanceof DataView);
  if (!Array.isArray(v)) return false;
  const x = v[0];
  return v.length === 0 || typeof x === "number" || typeof x === "bigint";
}

function isCompletion(v: unknown): boolean {
  return typeof v === "string" || isIds(v);
}

const key = (k: string): PathStep => ({ kind: "key", key: k });
const WILD: PathStep = { kind: "wild" };
const idx = (i: number): PathStep => ({ kind: "index", index: i });

function choicesPath(choices: unknown, prefix: PathStep[]): FieldPath | undefined {
  if (!Array.isArray(choices) || choices.length === 0) return undefined;
  const first = choices[0];
  if (
    isIds(own(first, "token_ids")) && (own(first, "token_ids") as ArrayLike<unknown>).length > 0
  ) {
    return fieldPathOf([...prefix, WILD, key("token_ids")]);
  }
  if (typeof own(first, "text") === "string") return fieldPathOf([...prefix, WILD, key("text")]);
  return undefined;
}

function lmEvalPath(name: string, resps: unknown): FieldPath | undefined {
  if (!Array.isArray(resps) || resps.length === 0) return undefined;
  if (resps.every((r) => typeof r === "string")) return fieldPathOf([key(name), WILD]);
  if (!resps.every((r) => Array.isArray(r) && typeof r[0] === "string")) return undefined;
  if (resps.length === 1) return fieldPathOf([key(name), idx(0), WILD]);
  return fieldPathOf([key(name), WILD, idx(0)]);
}

/**
 * Detects where a record keeps its completion(s) (see the module notes for the order).
 *
 * @returns the shape and path, or undefined when no known shape matches.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectInputShape } from "./input_shape.ts";
 * const vllm = { request_id: "r1", outputs: [{ index: 0, text: "…", token_ids: [1, 2] }] };
 * assert.equal(detectInputShape(vllm)?.path.text, "outputs[*].token_ids");
 * const batch = { id: "b", response: { body: { choices: [{ text: "…" }] } } };
 * assert.equal(detectInputShape(batch)?.shape, "openai-batch");
 * ```
 */
export function detectInputShape(record: Readonly<Obj>): DetectedShape | undefined {
  let wrongType: string | undefined; // a flat field of another type, if nothing else matches
  for (const f of COMPLETION_FIELDS) {
    const v = own(record, f);
    if (!isCompletion(v)) {
      if (v !== undefined && v !== null) wrongType ??= f;
      continue;
    }
    const sglang = (f === "output_ids" || f === "text") && own(record, "meta_info") !== undefined;
    return { shape: sglang ? "sglang" : "flat", path: fieldPathOf([key(f)]) };
  }
  const outputs = own(record, "outputs");
  if (Array.isArray(outputs) && outputs.length > 0 && typeof outputs[0] === "object") {
    const first = outputs[0];
    const ids = own(first, "token_ids");
    if (isIds(ids) && (ids as ArrayLike<unknown>).length > 0) {
      return { shape: "vllm", path: fieldPathOf([key("outputs"), WILD, key("token_ids")]) };
    }
    if (typeof own(first, "text") === "string") {
      return { shape: "vllm", path: fieldPathOf([key("outputs"), WILD, key("text")]) };
    }
  }
  for (const name of ["resps", "filtered_resps"]) {
    const p = lmEvalPath(name, own(record, name));
    if (p !== undefined) return { shape: "lm-eval", path: p };
  }
  const choices = choicesPath(own(record, "choices"), [key("choices")]);
  if (choices !== undefined) return { shape: "openai", path: choices };
  const body = own(own(record, "response"), "body");
  const batch = choicesPath(own(body, "choices"), [key("response"), key("body"), key("choices")]);
  if (batch !== undefined) return { shape: "openai-batch", path: batch };
  return wrongType === undefined
    ? undefined
    : { shape: "flat", path: fieldPathOf([key(wrongType)]) };
}

/**
 * The `finish_reason` of one sample: its element's (`outputs[i]`, `choices[i]`), else the
 * record's `finish_reason`, else SGLang's `meta_info.finish_reason` (a string or `{type}`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finishReasonOf } from "./input_shape.ts";
 * assert.equal(finishReasonOf({ meta_info: { finish_reason: { type: "length" } } }, { value: "x" }), "length");
 * ```
 */
export function finishReasonOf(record: Readonly<Obj>, sample: PathValue): string | undefined {
  const fromElement = own(sample.element, "finish_reason");
  if (typeof fromElement === "string") return fromElement;
  const top = own(record, "finish_reason");
  if (typeof top === "string") return top;
  const meta = own(own(record, "meta_info"), "finish_reason");
  if (typeof meta === "string") return meta;
  const type = own(meta, "type");
  return typeof type === "string" ? type : undefined;
}
