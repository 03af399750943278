/**
 * Field paths into an eval record: `outputs[*].token_ids`, `resps[0][0]`,
 * `response.body.choices[*].text`. A path is dotted keys and `[index]` steps (a dotted step
 * that is all digits, `outputs.0.text`, indexes an array and names a key in an object), with at
 * most one `[*]` (or `.*`) step marking the samples of the record: every element of that array is
 * one sample. `["odd.key"]` quotes a key with JSON string syntax.
 *
 * @module
 */

/** One step of a {@link FieldPath}. */
export type PathStep =
  | { kind: "key"; key: string }
  | { kind: "index"; index: number }
  | { kind: "wild" };

/** A parsed field path. */
export interface FieldPath {
  /** The path as written (normalized: `a[0].b[*]`). */
  text: string;
  /** Its steps, in order. */
  steps: readonly PathStep[];
  /** Index in `steps` of the `[*]` step, or -1. */
  wildcard: number;
}

const DIGITS = /^[0-9]+$/;

function formatSteps(steps: readonly PathStep[]): string {
  let s = "";
  for (const st of steps) {
    if (st.kind === "wild") s += "[*]";
    else if (st.kind === "index") s += `[${st.index}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(st.key)) s += (s === "" ? "" : ".") + st.key;
    else s += `[${JSON.stringify(st.key)}]`;
  }
  return s;
}

/**
 * Parses a field path.
 *
 * @throws {SyntaxError} on an empty path, an empty step, an unclosed `[`, or a second `[*]`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFieldPath } from "./field_path.ts";
 * const p = parseFieldPath("outputs[*].token_ids");
 * assert.deepEqual(p.steps, [
 *   { kind: "key", key: "outputs" }, { kind: "wild" }, { kind: "key", key: "token_ids" },
 * ]);
 * assert.equal(p.wildcard, 1);
 * ```
 */
export function parseFieldPath(text: string): FieldPath {
  const steps: PathStep[] = [];
  const fail = (why: string): never => {
    throw new SyntaxError(`Cannot parse field path "${text.slice(0, 32)}": ${why}`);
  };
  if (text === "") fail("empty path");
  let i = 0;
  let expectKey = true; // at the start or after a "."
  while (i < text.length) {
    const c = text[i];
    if (c === "[") {
      const close = text.indexOf("]", text[i + 1] === '"' ? skipJsonString(text, i + 1) : i);
      if (close < 0) fail(`unclosed "[" at ${i}`);
      const inner = text.slice(i + 1, close).trim();
      if (inner === "*") steps.push({ kind: "wild" });
      else if (DIGITS.test(inner)) steps.push({ kind: "index", index: Number(inner) });
      else if (inner.startsWith('"')) {
        let key: unknown;
        try {
          key = JSON.parse(inner);
        } catch {
          fail(`bad quoted key at ${i}`);
        }
        if (typeof key !== "string") fail(`bad quoted key at ${i}`);
        steps.push({ kind: "key", key: key as string });
      } else fail(`bad index "${inner.slice(0, 16)}" at ${i}`);
      i = close + 1;
      expectKey = false;
      continue;
    }
    if (c === ".") {
      if (expectKey) fail(`empty step at ${i}`);
      i++;
      expectKey = true;
      if (i >= text.length) fail("empty last step");
      continue;
    }
    if (!expectKey) fail(`expected "." or "[" at ${i}`);
    let j = i;
    while (j < text.length && text[j] !== "." && text[j] !== "[") j++;
    const word = text.slice(i, j);
    if (word === "*") steps.push({ kind: "wild" });
    else if (DIGITS.test(word)) steps.push({ kind: "index", index: Number(word) });
    else steps.push({ kind: "key", key: word });
    i = j;
    expectKey = false;
  }
  let wildcard = -1;
  for (let k = 0; k < steps.length; k++) {
    if (steps[k].kind !== "wild") continue;
    if (wildcard >= 0) fail("more than one [*]");
    wildcard = k;
  }
  return { text: formatSteps(steps), steps, wildcard };
}

function skipJsonString(text: string, open: number): number {
  let j = open + 1;
  while (j < text.length) {
    if (text[j] === "\\") j += 2;
    else if (text[j] === '"') return j + 1;
    else j++;
  }
  return j;
}

/** A path built from steps (what the input-shape detection returns). */
export function fieldPathOf(steps: readonly PathStep[]): FieldPath {
  let wildcard = -1;
  steps.forEach((s, k) => {
    if (s.kind === "wild") wildcard = k;
  });
  return { text: formatSteps(steps), steps, wildcard };
}

/** One value a path selects: the value and, for a `[*]` path, the sample's element. */
export interface PathValue {
  /** The selected value (undefined when the path does not lead anywhere). */
  value: unknown;
  /** For a `[*]` path: the array element the sample is (`outputs[i]`), for `finish_reason`. */
  element?: unknown;
}

function step(v: unknown, s: PathStep): unknown {
  if (v === null || typeof v !== "object") return undefined;
  if (s.kind === "index") {
    if (Array.isArray(v)) return v[s.index];
    if (ArrayBuffer.isView(v)) return (v as unknown as ArrayLike<unknown>)[s.index];
    return Object.hasOwn(v, String(s.index))
      ? (v as Record<string, unknown>)[String(s.index)]
      : undefined;
  }
  if (s.kind === "key") {
    if (Array.isArray(v)) return undefined;
    return Object.hasOwn(v, s.key) ? (v as Record<string, unknown>)[s.key] : undefined;
  }
  return undefined;
}

function walk(v: unknown, steps: readonly PathStep[], from: number, to: number): unknown {
  for (let k = from; k < to && v !== undefined; k++) v = step(v, steps[k]);
  return v;
}

/**
 * The values a path selects in a record: one for a path without `[*]` (undefined when absent),
 * one per element of the `[*]` array otherwise (none when it is absent or not an array). Keys
 * are own properties only (`__proto__` is just a key).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFieldPath, selectPath } from "./field_path.ts";
 * const rec = { outputs: [{ text: "a", finish_reason: "stop" }, { text: "b" }] };
 * const got = selectPath(rec, parseFieldPath("outputs[*].text")).map((s) => s.value);
 * assert.deepEqual(got, ["a", "b"]);
 * ```
 */
export function selectPath(record: unknown, path: FieldPath): PathValue[] {
  const { steps, wildcard } = path;
  if (wildcard < 0) return [{ value: walk(record, steps, 0, steps.length) }];
  const arr = walk(record, steps, 0, wildcard);
  if (!Array.isArray(arr)) return [];
  const out: PathValue[] = [];
  for (let i = 0; i < arr.length; i++) {
    out.push({ value: walk(arr[i], steps, wildcard + 1, steps.length), element: arr[i] });
  }
  return out;
}

/** The record's top-level key a path starts with (the member not carried to the output). */
export function rootKey(path: FieldPath): string | undefined {
  const s = path.steps[0];
  return s === undefined
    ? undefined
    : s.kind === "key"
    ? s.key
    : s.kind === "index"
    ? String(s.index)
    : undefined;
}
