// Parquet as Hugging Face datasets / DuckDB write it: struct columns whose schema is the union
// of all rows' fields, so absent fields read back as null. The same records from JSONL, from
// JSON-string columns and from struct columns render to identical tokens.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parquetWriteBuffer } from "hyparquet-writer";
import type { SchemaElement } from "hyparquet";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { dropStructNulls, nestedColumns } from "../../src/dataset/parquet_nulls.ts";
import { readBack, withTmp } from "../dataset/_helpers.ts";

// ---- a minimal schema inference like `datasets`' (union of struct fields over all rows) ----
type Node =
  | { kind: "null" }
  | { kind: "leaf"; type: "BYTE_ARRAY" | "INT32" | "DOUBLE" | "BOOLEAN" }
  | { kind: "list"; item: Node }
  | { kind: "struct"; fields: Map<string, Node> };

function infer(v: unknown, prev: Node = { kind: "null" }): Node {
  if (v === null || v === undefined) return prev;
  if (Array.isArray(v)) {
    let item = prev.kind === "list" ? prev.item : { kind: "null" } as Node;
    for (const x of v) item = infer(x, item);
    return { kind: "list", item };
  }
  if (typeof v === "object") {
    const fields = prev.kind === "struct" ? prev.fields : new Map<string, Node>();
    for (const [k, x] of Object.entries(v)) fields.set(k, infer(x, fields.get(k)));
    return { kind: "struct", fields };
  }
  if (typeof v === "string") return { kind: "leaf", type: "BYTE_ARRAY" };
  if (typeof v === "boolean") return { kind: "leaf", type: "BOOLEAN" };
  if (Number.isInteger(v) && !(prev.kind === "leaf" && prev.type === "DOUBLE")) {
    return { kind: "leaf", type: "INT32" };
  }
  return { kind: "leaf", type: "DOUBLE" };
}

function flatten(name: string, n: Node): SchemaElement[] {
  switch (n.kind) {
    case "null":
      return [{ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" }];
    case "leaf":
      return [{
        name,
        type: n.type,
        repetition_type: "OPTIONAL",
        ...(n.type === "BYTE_ARRAY" ? { converted_type: "UTF8" as const } : {}),
      }];
    case "list":
      return [
        { name, repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
        { name: "list", repetition_type: "REPEATED", num_children: 1 },
        ...flatten("element", n.item),
      ];
    case "struct":
      return [
        { name, repetition_type: "OPTIONAL", num_children: n.fields.size },
        ...[...n.fields].flatMap(([k, c]) => flatten(k, c)),
      ];
  }
}

function writeParquet(path: string, rows: Array<Record<string, unknown>>): void {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const nodes = names.map((k) => rows.reduce<Node>((n, r) => infer(r[k], n), { kind: "null" }));
  const schema: SchemaElement[] = [
    { name: "root", num_children: names.length },
    ...names.flatMap((k, i) => flatten(k, nodes[i])),
  ];
  const columnData = names.map((name) => ({ name, data: rows.map((r) => r[name] ?? null) }));
  writeFileSync(path, new Uint8Array(parquetWriteBuffer({ columnData, schema })));
}

// ---- records (glaive-like function calling, a reasoning record, a plain chat) ----
const RECORDS: Array<Record<string, unknown>> = [
  {
    tools: [{
      type: "function",
      function: {
        name: "get_weather",
        description: "Weather for a city",
        parameters: {
          type: "object",
          properties: {
            location: { type: "string", description: "City" },
            unit: { type: "string", enum: ["c", "f"] },
          },
          required: ["location"],
        },
      },
    }],
    messages: [
      { role: "system", content: "Use tools." },
      { role: "user", content: "Weather in Oslo?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{
          id: "call_1",
          type: "function",
          function: { name: "get_weather", arguments: '{"location":"Oslo"}' },
        }],
      },
      { role: "tool", tool_call_id: "call_1", content: '{"temp":3}' },
      { role: "assistant", content: "3 degrees." },
    ],
  },
  {
    tools: [{
      type: "function",
      function: {
        name: "search",
        description: "Searches",
        parameters: {
          type: "object",
          properties: {
            query: { type: "string" },
            limit: { type: "integer", description: "Max results", default: 10 },
          },
          required: ["query"],
        },
      },
    }],
    messages: [
      { role: "user", content: "Find cats" },
      { role: "assistant", content: "Here are cats." },
    ],
  },
  {
    messages: [
      { role: "user", content: "2+2?" },
      { role: "assistant", reasoning_content: "Add them.", content: "4" },
    ],
  },
];

async function renderTokens(dir: string, input: string, extra: string[] = []) {
  const out = join(dir, `o${Math.random().toString(36).slice(2)}`);
  const host = memoryHost();
  const code = await main(
    ["render-dataset", input, "--out", out, "--output-format", "jsonl", ...extra],
    host,
  );
  assert.equal(code, 0, host.err());
  return (await readBack("jsonl", out)).map((r) => r.tokens);
}

describe("Parquet struct columns: a null field is an absent field", () => {
  test("JSONL, JSON-string columns and struct columns render to identical tokens", async () => {
    await withTmp(async (dir) => {
      const jsonl = join(dir, "r.jsonl");
      writeFileSync(jsonl, RECORDS.map((r) => JSON.stringify(r)).join("\n") + "\n");
      const strings = join(dir, "strings.parquet");
      writeParquet(
        strings,
        RECORDS.map((r) => ({
          messages: JSON.stringify(r.messages),
          tools: r.tools === undefined ? null : JSON.stringify(r.tools),
        })),
      );
      const structs = join(dir, "structs.parquet");
      writeParquet(structs, RECORDS);

      const want = await renderTokens(dir, jsonl);
      assert.equal(want.length, RECORDS.length);
      assert.deepEqual(await renderTokens(dir, strings), want);
      assert.deepEqual(await renderTokens(dir, structs), want);

      // The union schema really adds nulls: kept, they change the rendering.
      const kept = await renderTokens(dir, structs, ["--keep-null-fields"]);
      assert.notDeepEqual(kept, want);
    });
  });

  test("dropStructNulls() keeps top-level nulls, list elements and unknown keys", () => {
    const schema: SchemaElement[] = [
      { name: "root", num_children: 2 },
      { name: "id", type: "INT32", repetition_type: "OPTIONAL" },
      { name: "m", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
      { name: "a", type: "BYTE_ARRAY", repetition_type: "OPTIONAL" },
      { name: "b", type: "BYTE_ARRAY", repetition_type: "OPTIONAL" },
    ];
    const nested = nestedColumns(schema);
    assert.deepEqual(nested.map((n) => n.element.name), ["m"]);
    assert.deepEqual(
      dropStructNulls({ id: null, m: [{ a: "x", b: null }, null, { a: null, b: "y" }] }, nested),
      { id: null, m: [{ a: "x" }, null, { b: "y" }] },
    );
    // INT64 values of structs: safe integers become numbers, others stay bigints.
    assert.deepEqual(dropStructNulls({ m: [{ a: 5n, b: 2n ** 60n }] }, nested), {
      m: [{ a: 5, b: 2n ** 60n }],
    });
  });
});
