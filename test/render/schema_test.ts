import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  jsonSchemaToTypescript,
  rustLines,
  toolsSection,
} from "../../src/render/schema_to_typescript.ts";
import { parseJsonPreservingOrder } from "../../src/chat/json_text.ts";
import { ToolDescription, ToolNamespaceConfig } from "../../src/chat/content.ts";
import { SCHEMA_CASES } from "./_schemas.ts";

describe("jsonSchemaToTypescript (hand-verified against src/encoding.rs)", () => {
  for (const c of SCHEMA_CASES) {
    test(c.name, () => assert.equal(jsonSchemaToTypescript(c.schema, ""), c.expected));
  }

  test("Map schemas (parseJsonPreservingOrder) give the same text as plain objects", () => {
    for (const c of SCHEMA_CASES) {
      const asMap = parseJsonPreservingOrder(JSON.stringify(c.schema));
      assert.equal(jsonSchemaToTypescript(asMap, ""), c.expected, c.name);
    }
  });

  test("integer-like property keys keep their written order", () => {
    const schema = parseJsonPreservingOrder(
      '{"type":"object","properties":{"b":{"type":"string"},"10":{"type":"number"},"0":{"type":"boolean"}}}',
    );
    assert.equal(
      jsonSchemaToTypescript(schema, ""),
      "{\nb?: string,\n10?: number,\n0?: boolean,\n}",
    );
  });

  test("a float written 10.0 renders its default as 10.0 (serde_json keeps it a float)", () => {
    const schema = parseJsonPreservingOrder(
      '{"type":"object","properties":{"x":{"type":"number","default":10.0},"y":{"type":"number","default":10},"z":{"default":[1.0,2.5e-7]}}}',
    );
    assert.equal(
      jsonSchemaToTypescript(schema, ""),
      "{\nx?: number, // default: 10.0\ny?: number, // default: 10\nz?: any, // default: [1.0,2.5e-7]\n}",
    );
  });
});

describe("toolsSection", () => {
  test("a namespace without tools writes its description as plain lines", () => {
    assert.equal(
      toolsSection([new ToolNamespaceConfig("python", "line 1\n\nline 3\n", [])]),
      "# Tools\n\n## python\n\nline 1\n\nline 3",
    );
  });

  test("with tools, descriptions are comments and each tool a type", () => {
    const ns = new ToolNamespaceConfig("functions", "NS\r\ndesc", [
      new ToolDescription("a", "Does a.\nTwo lines.", { type: "object", properties: {} }),
      new ToolDescription("b", ""),
    ]);
    assert.equal(
      toolsSection([ns]),
      "# Tools\n\n## functions\n\n// NS\n// desc\nnamespace functions {\n\n// Does a.\n// Two lines.\ntype a = (_: {\n}) => any;\n\ntype b = () => any;\n\n} // namespace functions",
    );
  });

  test("rustLines splits as Rust's str::lines()", () => {
    assert.deepEqual(rustLines(""), []);
    assert.deepEqual(rustLines("a\n"), ["a"]);
    assert.deepEqual(rustLines("\n\n"), ["", ""]);
    assert.deepEqual(rustLines("a\r\nb\r"), ["a", "b\r"]);
    assert.deepEqual(rustLines("a\r\n"), ["a"]);
    assert.deepEqual(rustLines("a\rb"), ["a\rb"]);
  });
});
