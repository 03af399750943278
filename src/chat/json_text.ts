/**
 * JSON text as the reference reads and writes it: serde_json with `preserve_order` (objects keep
 * their written key order) and serde_json's compact printing (floats through ryu, so `1.0` stays
 * `1.0` and `1e21` is `1e21`).
 *
 * @module
 */

import { JsonFloat, type JsonValue } from "./content.ts";

const TWO_64 = 18446744073709551616; // 2^64: serde_json keeps integers below it exact (u64)
const MINUS_TWO_63 = -9223372036854775808; // i64::MIN

/** Deepest nesting of arrays and objects any JSON reader here accepts (both runtimes alike). */
export const MAX_JSON_DEPTH = 1000;

/**
 * A JSON text that cannot be read: malformed, or nested deeper than {@link MAX_JSON_DEPTH}. The
 * message comes from this module, never from the engine's `JSON.parse`, so it is the same in
 * every runtime.
 */
export class JsonSyntaxError extends SyntaxError {
  /** What is wrong and where, without the "Cannot parse …:" prefix. */
  readonly detail: string;
  /** 0-based UTF-8 byte offset in the text where reading stopped. */
  readonly byteOffset: number;
  /** Creates the error; `what` names the thing that was read (default `JSON`). */
  constructor(detail: string, byteOffset: number, what = "JSON") {
    super(`Cannot parse ${what}: ${detail}`);
    this.name = "JsonSyntaxError";
    this.detail = detail;
    this.byteOffset = byteOffset;
  }
}

/**
 * Parses JSON text as `JSON.parse` does (plain objects; a `"__proto__"` key is an own data
 * property), but with errors written here: a malformed text gives the same
 * {@link JsonSyntaxError} in every runtime (`unexpected character at byte 3 (near "x}")`), and
 * nesting deeper than {@link MAX_JSON_DEPTH} levels is an error naming the JSON path where the
 * limit was passed, before any recursive code sees the value.
 *
 * Cost: `JSON.parse` plus one scan of the brackets when the text is over 1,000 characters.
 *
 * @param text JSON text.
 * @param what the thing being read, for the message ("Cannot parse <what>: …"; default `JSON`).
 * @throws {JsonSyntaxError} on malformed or too deeply nested JSON.
 * @example
 * ```ts
 * import { deepStrictEqual, throws } from "node:assert/strict";
 * import { parseJson } from "./json_text.ts";
 * deepStrictEqual(parseJson('{"a": [1]}'), { a: [1] });
 * throws(() => parseJson('{"a" 1}'), {
 *   message: "Cannot parse JSON: expected ':' at byte 5 (near \"1}\")",
 * });
 * ```
 */
export function parseJson(text: string, what = "JSON"): unknown {
  if (text.length > MAX_JSON_DEPTH) checkNesting(text, what);
  try {
    return JSON.parse(text);
  } catch {
    // Our reader finds the place and words the error; it accepts exactly the JSON grammar.
    parseJsonPreservingOrder(text, what);
    throw new JsonSyntaxError("malformed JSON", 0, what); // unreachable in practice
  }
}

/**
 * Parses JSON text; objects become `Map`s that keep their written key order (integer-like keys
 * such as `"0"` and `"10"` included, which plain JS objects would reorder). A number written
 * with a fraction or exponent whose value is an integer becomes a {@link JsonFloat}, as
 * serde_json keeps it a float. A duplicate key keeps its first position and its last value
 * (serde_json's `IndexMap`).
 *
 * @param text JSON text.
 * @param what the thing being read, for error messages (default `JSON`).
 * @returns The value: `Map` for objects, arrays, strings, numbers, booleans, null.
 * @throws {JsonSyntaxError} on malformed JSON, naming the byte offset, or nesting deeper than
 * {@link MAX_JSON_DEPTH}, naming the path.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { parseJsonPreservingOrder } from "./json_text.ts";
 * const v = parseJsonPreservingOrder('{"b": 1, "10": 2, "0": 3}') as Map<string, unknown>;
 * deepStrictEqual([...v.keys()], ["b", "10", "0"]);
 * ```
 */
export function parseJsonPreservingOrder(text: string, what = "JSON"): JsonValue {
  if (text.length > MAX_JSON_DEPTH) checkNesting(text, what);
  const p = new JsonReader(text, what);
  p.ws();
  const v = p.value();
  p.ws();
  if (p.i < text.length) p.fail("unexpected text after the value");
  return v;
}

/**
 * Defines `key` as an own enumerable data property of `obj`, as `JSON.parse` does: unlike
 * `obj[key] = value`, a `"__proto__"` key stays data and never changes the object's prototype.
 * Use it wherever a key comes from user data.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { setDataProperty } from "./json_text.ts";
 * const o: Record<string, unknown> = {};
 * setDataProperty(o, "__proto__", { tools: [] });
 * deepStrictEqual(Object.keys(o), ["__proto__"]);
 * ```
 */
export function setDataProperty(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else obj[key] = value;
}

/** UTF-8 length of `s.slice(0, end)`, for byte offsets in messages (error path only). */
function utf8Length(s: string, end: number): number {
  let n = 0;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < end) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * Throws when brackets outside strings nest deeper than {@link MAX_JSON_DEPTH}. O(n), no
 * allocation; the path is worked out only when the limit is passed.
 */
function checkNesting(s: string, what: string): void {
  let depth = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: find the closing quote that is not escaped.
      let j = i + 1;
      for (;;) {
        j = s.indexOf('"', j);
        if (j < 0) return; // unterminated: the parser reports it
        let k = j - 1;
        while (s.charCodeAt(k) === 0x5c) k--;
        if ((j - 1 - k) % 2 === 0) break;
        j++;
      }
      i = j;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) {
        throw new JsonSyntaxError(
          `nesting deeper than ${MAX_JSON_DEPTH.toLocaleString("en-US")} levels at ${
            nestingPath(s, i)
          }`,
          utf8Length(s, i),
          what,
        );
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

const PATH_PARTS = 6;

/**
 * The JSON path (`$.messages[0].content…`) of the value that opens at `end`, from a tolerant
 * scan of `s` up to there; only its first {@link PATH_PARTS} parts, then `…`.
 */
function nestingPath(s: string, end: number): string {
  // Per open level: an array index, or the last key read in an object.
  const parts: Array<string | number> = [];
  const isArray: boolean[] = [];
  let key: string | undefined;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (j < end && s.charCodeAt(j) !== 0x22) j += s.charCodeAt(j) === 0x5c ? 2 : 1;
      key = s.slice(i + 1, j);
      i = j;
    } else if (c === 0x5b || c === 0x7b) {
      if (isArray.length > 0) {
        parts[isArray.length - 1] = isArray[isArray.length - 1]
          ? parts[isArray.length - 1]
          : key ?? "";
      }
      isArray.push(c === 0x5b);
      parts.push(c === 0x5b ? 0 : "");
      key = undefined;
    } else if (c === 0x5d || c === 0x7d) {
      isArray.pop();
      parts.pop();
    } else if (c === 0x2c && isArray.length > 0 && isArray[isArray.length - 1]) {
      (parts[parts.length - 1] as number)++;
    }
  }
  if (isArray.length > 0 && !isArray[isArray.length - 1]) parts[parts.length - 1] = key ?? "";
  let out = "$";
  const shown = Math.min(parts.length, PATH_PARTS);
  for (let k = 0; k < shown; k++) {
    const p = parts[k];
    out += typeof p === "number"
      ? `[${p}]`
      : /^[A-Za-z_$][\w$]*$/.test(p)
      ? `.${p}`
      : `[${JSON.stringify(p.slice(0, 32))}]`;
  }
  return parts.length > shown ? out + "…" : out;
}

class JsonReader {
  i = 0;
  constructor(readonly s: string, readonly what: string) {}

  fail(what: string): never {
    if (this.i >= this.s.length && !what.startsWith("unexpected end")) {
      what = `unexpected end of input (${what})`;
    }
    const at = this.s.slice(this.i, this.i + 16);
    throw new JsonSyntaxError(
      `${what} at byte ${utf8Length(this.s, this.i)}${at ? ` (near ${JSON.stringify(at)})` : ""}`,
      utf8Length(this.s, this.i),
      this.what,
    );
  }

  ws(): void {
    const s = this.s;
    let i = this.i;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    }
    this.i = i;
  }

  value(): JsonValue {
    const c = this.s.charCodeAt(this.i);
    if (c === 0x7b) return this.object();
    if (c === 0x5b) return this.array();
    if (c === 0x22) return this.string();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.s.startsWith("true", this.i)) {
      this.i += 4;
      return true;
    }
    if (this.s.startsWith("false", this.i)) {
      this.i += 5;
      return false;
    }
    if (this.s.startsWith("null", this.i)) {
      this.i += 4;
      return null;
    }
    return this.fail(this.i >= this.s.length ? "unexpected end of input" : "unexpected character");
  }

  object(): Map<string, JsonValue> {
    const m = new Map<string, JsonValue>();
    this.i++;
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return m;
    }
    for (;;) {
      if (this.s.charCodeAt(this.i) !== 0x22) this.fail("expected a string key");
      const k = this.string();
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x3a) this.fail("expected ':'");
      this.i++;
      this.ws();
      m.set(k, this.value());
      this.ws();
      const c = this.s.charCodeAt(this.i);
      if (c === 0x2c) {
        this.i++;
        this.ws();
        continue;
      }
      if (c === 0x7d) {
        this.i++;
        return m;
      }
      this.fail("expected ',' or '}'");
    }
  }

  array(): JsonValue[] {
    const a: JsonValue[] = [];
    this.i++;
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return a;
    }
    for (;;) {
      a.push(this.value());
      this.ws();
      const c = this.s.charCodeAt(this.i);
      if (c === 0x2c) {
        this.i++;
        this.ws();
        continue;
      }
      if (c === 0x5d) {
        this.i++;
        return a;
      }
      this.fail("expected ',' or ']'");
    }
  }

  string(): string {
    const s = this.s;
    const start = ++this.i;
    let i = start;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        return s.slice(start, i);
      }
      if (c === 0x5c) break;
      if (c < 0x20) {
        this.i = i;
        this.fail("control character in string");
      }
    }
    // Slow path: escapes.
    let out = s.slice(start, i);
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        return out;
      }
      if (c < 0x20) {
        this.i = i;
        this.fail("control character in string");
      }
      if (c !== 0x5c) {
        let j = i + 1;
        while (j < s.length) {
          const d = s.charCodeAt(j);
          if (d === 0x22 || d === 0x5c || d < 0x20) break;
          j++;
        }
        out += s.slice(i, j);
        i = j;
        continue;
      }
      const e = s[i + 1];
      switch (e) {
        case '"':
          out += '"';
          break;
        case "\\":
          out += "\\";
          break;
        case "/":
          out += "/";
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const hex = s.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.i = i;
            this.fail("invalid \\u escape");
          }
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
          continue;
        }
        default:
          this.i = i;
          this.fail("invalid escape");
      }
      i += 2;
    }
    this.i = i;
    return this.fail("unterminated string");
  }

  number(): number | JsonFloat {
    const s = this.s;
    const start = this.i;
    let i = start;
    if (s.charCodeAt(i) === 0x2d) i++;
    const intStart = i;
    while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
    if (i === intStart) {
      this.i = i;
      this.fail("invalid number");
    }
    if (s.charCodeAt(intStart) === 0x30 && i - intStart > 1) {
      this.i = intStart;
      this.fail("leading zero in number");
    }
    let float = false;
    if (s.charCodeAt(i) === 0x2e) {
      float = true;
      i++;
      const f = i;
      while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
      if (i === f) {
        this.i = i;
        this.fail("invalid number");
      }
    }
    const e = s.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      float = true;
      i++;
      const sg = s.charCodeAt(i);
      if (sg === 0x2b || sg === 0x2d) i++;
      const f = i;
      while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
      if (i === f) {
        this.i = i;
        this.fail("invalid number");
      }
    }
    const v = Number(s.slice(start, i));
    if (!Number.isFinite(v)) {
      this.i = start;
      this.fail("number out of range");
    }
    this.i = i;
    return float && Number.isInteger(v) ? new JsonFloat(v) : v;
  }
}

/**
 * Writes a JSON value as serde_json's compact `Display` does (the form the reference uses for
 * `default: …` comments in tool schemas): no spaces, keys in insertion order (`Map`) or
 * property order (plain objects), integers as integers, floats in ryu's shortest form (`1.0`,
 * `0.5`, `1e21`, `1e-7`), non-finite numbers as `null`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { stringifyJson } from "./json_text.ts";
 * import { JsonFloat } from "./content.ts";
 * strictEqual(stringifyJson(new Map([["a", [1, new JsonFloat(2), 0.5]]])), '{"a":[1,2.0,0.5]}');
 * ```
 */
export function stringifyJson(value: JsonValue): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return formatNumber(value);
  }
  if (value instanceof JsonFloat) return formatFloat(value.value);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      out += stringifyJson(value[i]);
    }
    return out + "]";
  }
  let out = "{";
  let first = true;
  const entries: Iterable<[string, JsonValue]> = value instanceof Map
    ? value
    : Object.entries(value);
  for (const [k, v] of entries) {
    if (!first) out += ",";
    first = false;
    out += JSON.stringify(k) + ":" + stringifyJson(v);
  }
  return out + "}";
}

/** A JS number as serde_json prints it: an integer in i64/u64 range as an integer, else a float. */
function formatNumber(n: number): string {
  if (Number.isInteger(n) && n < TWO_64 && n >= MINUS_TWO_63) {
    return Math.abs(n) <= Number.MAX_SAFE_INTEGER ? String(n === 0 ? 0 : n) : BigInt(n).toString();
  }
  return formatFloat(n);
}

/**
 * A float as ryu's `format64` prints it (serde_json's float output): shortest round-trip digits;
 * decimal notation with a trailing `.0` for exponents up to 16, `0.000ddd` down to 1e-5, else
 * `de±x` without `+`. Non-finite values print as `null` (serde_json).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatFloat } from "./json_text.ts";
 * strictEqual(formatFloat(10), "10.0");
 * strictEqual(formatFloat(1e-7), "1e-7");
 * ```
 */
export function formatFloat(f: number): string {
  if (!Number.isFinite(f)) return "null";
  if (f === 0) return Object.is(f, -0) ? "-0.0" : "0.0";
  const sign = f < 0 ? "-" : "";
  const exp = Math.abs(f).toExponential(); // shortest round-trip digits: "d.ddde±x"
  const eAt = exp.indexOf("e");
  const mant = exp.slice(0, eAt);
  const digits = mant.length > 1 ? mant[0] + mant.slice(2) : mant;
  const length = digits.length;
  const kk = Number(exp.slice(eAt + 1)) + 1; // 10^(kk-1) <= v < 10^kk
  const k = kk - length;
  if (k >= 0 && kk <= 16) return sign + digits + "0".repeat(k) + ".0";
  if (kk > 0 && kk <= 16) return sign + digits.slice(0, kk) + "." + digits.slice(kk);
  if (kk > -5 && kk <= 0) return sign + "0." + "0".repeat(-kk) + digits;
  if (length === 1) return sign + digits + "e" + (kk - 1);
  return sign + digits[0] + "." + digits.slice(1) + "e" + (kk - 1);
}

const utf8 = new TextEncoder();

/**
 * Sorts keys as Rust's `BTreeMap<String, _>` orders them: by UTF-8 bytes (for ASCII keys the
 * same as UTF-16 order).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { sortKeysAsBTreeMap } from "./json_text.ts";
 * deepStrictEqual(sortKeysAsBTreeMap(["python", "browser", "functions"]), ["browser", "functions", "python"]);
 * ```
 */
export function sortKeysAsBTreeMap(keys: Iterable<string>): string[] {
  const arr = [...keys];
  let ascii = true;
  for (const k of arr) {
    for (let i = 0; i < k.length; i++) {
      if (k.charCodeAt(i) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (!ascii) break;
  }
  if (ascii) return arr.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const enc = arr.map((k) => [k, utf8.encode(k)] as const);
  enc.sort((a, b) => {
    const x = a[1], y = b[1];
    const n = Math.min(x.length, y.length);
    for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  });
  return enc.map((e) => e[0]);
}
