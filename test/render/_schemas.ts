// Hand-written JSON Schemas covering every branch of the reference's json_schema_to_typescript,
// with the TypeScript-like text worked out by hand from src/encoding.rs (openai/harmony v0.0.8).
// reference_wasm_test.ts also checks them against the reference compiled to WASM.
import type { JsonValue } from "../../src/chat/content.ts";

export const SCHEMA_CASES: Array<{ name: string; schema: JsonValue; expected: string }> = [
  {
    name:
      "nested object with a description (written twice, as the reference does) and an array of objects",
    schema: {
      type: "object",
      properties: {
        a: {
          type: "object",
          description: "inner",
          properties: { x: { type: "integer" } },
          required: ["x"],
        },
        list: { type: "array", items: { type: "object", properties: { y: { type: "string" } } } },
      },
    },
    expected:
      "{\n// inner\na?:     // inner\n{\n    x: number,\n    },\nlist?: {\n    y?: string,\n    }[],\n}",
  },
  {
    name: "top-level oneOf with descriptions, nullable and a default",
    schema: {
      oneOf: [
        { type: "string", description: "s" },
        { type: "number", nullable: true, default: 1 },
      ],
    },
    expected: "\n | string // s\n | number | null // default: 1",
  },
  {
    name: "top-level oneOf: an enum's string default keeps its JSON quotes",
    schema: { oneOf: [{ type: "string", enum: ["a", "b"], default: "a" }] },
    expected: '\n | "a" | "b" // default: "a"',
  },
  {
    name: "type lists map integer to number; an empty list is any",
    schema: {
      type: "object",
      properties: {
        t: { type: ["integer", "null"] },
        e: { type: [] },
        n: { type: ["string", "null"], nullable: true },
      },
      required: ["t"],
    },
    expected: "{\nt: number | null,\ne?: any,\nn?: string | null,\n}",
  },
  {
    name: "enums: strings only for type string; an enum's default is unquoted",
    schema: {
      type: "object",
      properties: {
        s: { type: "string", enum: ["a", "b"], default: "a" },
        ns: { type: "string", enum: [1, 2] },
        num: { type: "number", enum: [1], default: 1 },
        plain: { type: "string", default: "x y" },
      },
    },
    expected:
      '{\ns?: "a" | "b", // default: a\nns?: string,\nnum?: number, // default: 1\nplain?: string, // default: "x y"\n}',
  },
  {
    name: "property oneOf: the property description is dropped when the first variant repeats it",
    schema: {
      type: "object",
      properties: {
        p: {
          description: "D",
          oneOf: [{ type: "string", description: "D" }, { type: "number", description: "N" }],
        },
      },
      required: ["p"],
    },
    expected: "{\np:\n | string\n | number // N\n,\n}",
  },
  {
    name: "property oneOf: description above, defaults of property and variants",
    schema: {
      type: "object",
      properties: {
        p: {
          description: "P",
          default: [1, "two"],
          oneOf: [
            { type: "string", description: "first", default: "s" },
            { type: "string", enum: ["x"], default: "x", description: "P" },
            { type: "object", properties: { k: { type: "boolean" } }, nullable: true },
          ],
        },
      },
    },
    expected: '{\n// P\n// default: [1,"two"]\np?:\n | string // default: "s"\n' +
      ' | "x" // default: x\n | {\n   k?: boolean,\n   } | null\n,\n}',
  },
  {
    name: "a oneOf that is not a list: no description above, no default comment",
    schema: {
      type: "object",
      properties: { p: { oneOf: "x", description: "D", default: 5, type: "string" } },
    },
    expected: "{\np?: string,\n}",
  },
  {
    name: "title, description and examples (non-string examples skipped)",
    schema: {
      type: "object",
      properties: {
        p: { type: "string", title: "T", description: "D", examples: [1, "a"] },
        q: { type: "boolean", examples: [] },
      },
    },
    expected: '{\n// T\n//\n// D\n// Examples:\n// - "a"\np?: string,\nq?: boolean,\n}',
  },
  {
    name: "arrays without items, unknown types, no type, non-object schema",
    schema: {
      type: "object",
      properties: {
        a: { type: "array" },
        u: { type: "dict" },
        n: { description: "none" },
        b: true,
        nested: { type: "array", items: { type: "array", items: { type: "integer" } } },
      },
    },
    expected: "{\na?: Array<any>,\nu?: any,\n// none\nn?: any,\nb?: any,\nnested?: number[][],\n}",
  },
  {
    name: "object defaults print as compact JSON; descriptions keep their newlines",
    schema: {
      type: "object",
      description: "multi\nline",
      properties: {
        o: { type: "object", default: { a: [1, 2], b: null }, properties: {} },
        z: { type: "number", default: 0.5 },
      },
    },
    expected:
      '// multi\nline\n{\no?: {\n    }, // default: {"a":[1,2],"b":null}\nz?: number, // default: 0.5\n}',
  },
  {
    name: "an object without properties",
    schema: { type: "object" },
    expected: "{\n}",
  },
];
