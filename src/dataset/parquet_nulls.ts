/**
 * Null fields of Parquet struct columns. Parquet cannot tell an absent struct field from a null
 * one, and writers that infer one schema for all rows (Hugging Face `datasets`, DuckDB, pyarrow
 * `from_pylist`) make every struct the union of its rows' fields: a tool whose parameters lack
 * `default` reads back with `default: null`, and renders as `// default: null`. So inside
 * struct-typed columns a `null` field is read as an absent field (rule: docs/input-formats.md,
 * "Parquet"); top-level columns, list elements and map values are left as they are. INT64 values
 * inside them that are safe integers become numbers.
 *
 * @module
 */

import type { SchemaElement } from "hyparquet";

/** A schema node: a column or a field, with its children (for groups). */
export interface SchemaNode {
  /** The element. */
  element: SchemaElement;
  /** Children of a group, in order. */
  children: SchemaNode[];
}

/**
 * The top-level columns of a flattened Parquet schema (depth-first, as in the footer) that are
 * groups (structs, lists, maps): the ones whose values can hold struct fields.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { nestedColumns } from "./parquet_nulls.ts";
 * deepStrictEqual(nestedColumns([{ name: "root", num_children: 1 }, { name: "text", type: "BYTE_ARRAY" }]), []);
 * ```
 */
export function nestedColumns(schema: readonly SchemaElement[]): SchemaNode[] {
  let at = 1;
  const build = (): SchemaNode => {
    const element = schema[at++];
    const children: SchemaNode[] = [];
    for (let i = 0; i < (element.num_children ?? 0); i++) children.push(build());
    return { element, children };
  };
  const top: SchemaNode[] = [];
  for (let i = 0; i < (schema[0]?.num_children ?? 0) && at < schema.length; i++) {
    const node = build();
    if (node.children.length > 0) top.push(node);
  }
  return top;
}

function annotation(e: SchemaElement): string | undefined {
  return e.logical_type?.type ?? e.converted_type;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** The element node of a LIST group (three-level `list.element`, or a legacy two-level list). */
function listElement(node: SchemaNode): SchemaNode | undefined {
  const rep = node.children[0];
  if (rep === undefined) return undefined;
  if (rep.children.length === 1 && rep.element.repetition_type === "REPEATED") {
    return rep.children[0];
  }
  return rep;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function clean(value: unknown, node: SchemaNode): unknown {
  // INT64 fields (what `datasets` writes for Python ints) read as bigints, which JSON cannot
  // hold: safe integers become numbers, as they were in the JSON the data came from.
  if (typeof value === "bigint") {
    return value <= MAX_SAFE && value >= -MAX_SAFE ? Number(value) : value;
  }
  if (value === null || value === undefined || node.children.length === 0) return value;
  const a = annotation(node.element);
  if (a === "MAP" || a === "MAP_KEY_VALUE") return value;
  if (a === "LIST" || Array.isArray(value)) {
    const el = a === "LIST" ? listElement(node) : node;
    if (!Array.isArray(value) || el === undefined) return value;
    if (a !== "LIST") {
      // A repeated group without a LIST annotation: each item is the struct itself.
      return value.map((v) => cleanStruct(v, node));
    }
    return value.map((v) => clean(v, el));
  }
  return cleanStruct(value, node);
}

function cleanStruct(value: unknown, node: SchemaNode): unknown {
  if (!isObj(value)) return value;
  const out: Record<string, unknown> = {};
  for (const child of node.children) {
    const name = child.element.name;
    if (!Object.hasOwn(value, name)) continue;
    const v = value[name];
    if (v === null || v === undefined) continue;
    out[name] = clean(v, child);
  }
  // Keys hyparquet returned that the schema does not name are kept as they are.
  for (const k of Object.keys(value)) {
    if (
      !Object.hasOwn(out, k) && value[k] !== null &&
      !node.children.some((c) => c.element.name === k)
    ) {
      out[k] = value[k];
    }
  }
  return out;
}

/**
 * A row with the null fields of its struct-typed columns removed (see the module doc).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { dropStructNulls } from "./parquet_nulls.ts";
 * const tool = {
 *   element: { name: "tool", num_children: 2 },
 *   children: [
 *     { element: { name: "name", type: "BYTE_ARRAY" as const }, children: [] },
 *     { element: { name: "default", type: "BYTE_ARRAY" as const }, children: [] },
 *   ],
 * };
 * deepStrictEqual(dropStructNulls({ id: null, tool: { name: "f", default: null } }, [tool]), {
 *   id: null,
 *   tool: { name: "f" },
 * });
 * ```
 */
export function dropStructNulls(row: unknown, nested: readonly SchemaNode[]): unknown {
  if (!isObj(row)) return row;
  const out: Record<string, unknown> = { ...row };
  for (const node of nested) {
    const name = node.element.name;
    if (Object.hasOwn(out, name)) out[name] = clean(out[name], node);
  }
  return out;
}
