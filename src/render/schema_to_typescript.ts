/**
 * JSON Schema → the TypeScript-like type text of the harmony tools section (reference:
 * `src/encoding.rs`, `json_schema_to_typescript` and `template_tools_section`). Every branch,
 * comment and whitespace of the reference is reproduced, quirks included (e.g. an object's
 * properties are written at the object's own indent, nested types at +4 spaces, oneOf variants
 * at +3).
 *
 * @module
 */

import { JsonFloat, type JsonValue, type ToolNamespaceConfig } from "../chat/content.ts";
import { stringifyJson } from "../chat/json_text.ts";

type Obj = Map<string, JsonValue> | { [key: string]: JsonValue };

function asObject(v: JsonValue | undefined): Obj | undefined {
  if (v === null || v === undefined || typeof v !== "object") return undefined;
  if (Array.isArray(v) || v instanceof JsonFloat) return undefined;
  return v as Obj;
}

/** serde_json `Value::get(key)`: the field of an object, undefined for anything else. */
function get(v: JsonValue | undefined, key: string): JsonValue | undefined {
  const o = asObject(v);
  if (o === undefined) return undefined;
  if (o instanceof Map) return o.get(key);
  return Object.hasOwn(o, key) ? (o as Record<string, JsonValue>)[key] : undefined;
}

function entries(o: Obj): Iterable<[string, JsonValue]> {
  return o instanceof Map ? o : Object.entries(o);
}

function str(v: JsonValue | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function isEnum(schema: JsonValue): boolean {
  const e = get(schema, "enum");
  return Array.isArray(e) && e.length > 0;
}

function isNullable(schema: JsonValue): boolean {
  return get(schema, "nullable") === true;
}

/** `default: "x"` for a string outside an enum, `default: x` for an enum's string, else JSON. */
function defaultText(schema: JsonValue, def: JsonValue): string {
  if (typeof def === "string") return isEnum(schema) ? `default: ${def}` : `default: "${def}"`;
  return `default: ${stringifyJson(def)}`;
}

/** The top-level oneOf's comment: like {@link defaultText} but an enum's string keeps quotes. */
function topOneOfDefaultText(schema: JsonValue, def: JsonValue): string {
  if (typeof def === "string" && !isEnum(schema)) return `default: "${def}"`;
  return `default: ${stringifyJson(def)}`;
}

/**
 * Renders a JSON Schema as the reference's TypeScript-like type.
 *
 * @param schema The schema (plain objects or `Map`s; `Map` key order is kept).
 * @param indent The current indent (the reference starts with `""`).
 * @returns The type text.
 *
 * @example
 * ```ts
 * import { jsonSchemaToTypescript } from "./schema_to_typescript.ts";
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(
 *   jsonSchemaToTypescript({ type: "object", properties: { q: { type: "string" } }, required: ["q"] }, ""),
 *   "{\nq: string,\n}",
 * );
 * ```
 */
export function jsonSchemaToTypescript(schema: JsonValue, indent: string): string {
  // oneOf at the top level.
  const topOneOf = get(schema, "oneOf");
  if (Array.isArray(topOneOf)) {
    let out = "";
    for (const variant of topOneOf) {
      out += `\n${indent} | `;
      let t = jsonSchemaToTypescript(variant, `${indent}   `);
      if (isNullable(variant) && !t.includes("null")) t = `${t} | null`;
      out += t;
      const comments: string[] = [];
      const d = str(get(variant, "description"));
      if (d !== undefined) comments.push(d);
      const def = get(variant, "default");
      if (def !== undefined) comments.push(topOneOfDefaultText(variant, def));
      if (comments.length > 0) out += ` // ${comments.join(" ")}`;
    }
    return out;
  }
  const type = get(schema, "type");
  // type as a list, e.g. ["number", "string"].
  if (Array.isArray(type)) {
    const names: string[] = [];
    for (const t of type) if (typeof t === "string") names.push(t === "integer" ? "number" : t);
    if (names.length > 0) return names.join(" | ");
  }
  if (typeof type === "string") {
    switch (type) {
      case "object":
        return objectType(schema, indent);
      case "string": {
        const e = get(schema, "enum");
        if (Array.isArray(e)) {
          const vals: string[] = [];
          for (const v of e) if (typeof v === "string") vals.push(`"${v}"`);
          if (vals.length > 0) return vals.join(" | ");
        }
        return "string";
      }
      case "number":
      case "integer":
        return "number";
      case "boolean":
        return "boolean";
      case "array": {
        const items = get(schema, "items");
        return items !== undefined ? `${jsonSchemaToTypescript(items, indent)}[]` : "Array<any>";
      }
      default:
        return "any";
    }
  }
  // Unreachable in practice (a oneOf list returned above), kept as the reference has it.
  const oneOf = get(schema, "oneOf");
  if (oneOf !== undefined) {
    if (Array.isArray(oneOf)) {
      return oneOf.map((v) => jsonSchemaToTypescript(v, indent)).join("\n | ");
    }
    return "any";
  }
  return "any";
}

function objectType(schema: JsonValue, indent: string): string {
  let out = "";
  const desc = str(get(schema, "description"));
  if (desc !== undefined) out += `${indent}// ${desc}\n`;
  out += "{\n";
  const props = asObject(get(schema, "properties"));
  if (props !== undefined) {
    const required = new Set<string>();
    const req = get(schema, "required");
    if (Array.isArray(req)) { for (const r of req) if (typeof r === "string") required.add(r); }
    for (const [key, val] of entries(props)) {
      const opt = required.has(key) ? "" : "?";
      const title = str(get(val, "title"));
      if (title !== undefined) out += `${indent}// ${title}\n${indent}//\n`;
      const oneOfAny = get(val, "oneOf");
      if (oneOfAny === undefined) {
        const d = str(get(val, "description"));
        if (d !== undefined) out += `${indent}// ${d}\n`;
      }
      const examples = get(val, "examples");
      if (Array.isArray(examples) && examples.length > 0) {
        out += `${indent}// Examples:\n`;
        for (const ex of examples) if (typeof ex === "string") out += `${indent}// - "${ex}"\n`;
      }
      if (Array.isArray(oneOfAny)) {
        out += propertyOneOf(key, opt, val, oneOfAny, indent);
        continue;
      }
      out += `${indent}${key}${opt}: `;
      let t = jsonSchemaToTypescript(val, `${indent}    `);
      if (isNullable(val) && !t.includes("null")) t = `${t} | null`;
      out += t + ",";
      if (oneOfAny === undefined) {
        const def = get(val, "default");
        if (def !== undefined) out += ` // ${defaultText(val, def)}`;
      }
      out += "\n";
    }
  }
  return out + `${indent}}`;
}

function propertyOneOf(
  key: string,
  opt: string,
  val: JsonValue,
  variants: JsonValue[],
  indent: string,
): string {
  let out = "";
  const propDesc = str(get(val, "description"));
  // The property's description is left out when the first variant has the same one.
  let skip = false;
  if (propDesc !== undefined && variants.length > 0) {
    skip = str(get(variants[0], "description")) === propDesc;
  }
  let descAbove = false;
  if (!skip && propDesc !== undefined) {
    out += `${indent}// ${propDesc}\n`;
    descAbove = true;
  }
  const def = get(val, "default");
  if (def !== undefined) out += `${indent}// ${defaultText(val, def)}\n`;
  out += `${indent}${key}${opt}:\n`;
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[i];
    out += `${indent} | `;
    let t = jsonSchemaToTypescript(variant, `${indent}   `);
    if (isNullable(variant) && !t.includes("null")) t = `${t} | null`;
    out += t;
    const comments: string[] = [];
    if (!(i === 0 && descAbove)) {
      const d = str(get(variant, "description"));
      if (d !== undefined && d !== propDesc) comments.push(d);
    }
    const vdef = get(variant, "default");
    if (vdef !== undefined) comments.push(defaultText(variant, vdef));
    if (comments.length > 0) out += ` // ${comments.join(" ")}`;
    out += "\n";
  }
  return out + `${indent},\n`;
}

/**
 * Rust's `str::lines()`: split on `\n`, drop one trailing `\r` per line, no final empty line.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { rustLines } from "./schema_to_typescript.ts";
 * deepStrictEqual(rustLines("a\r\nb\n"), ["a", "b"]);
 * ```
 */
export function rustLines(s: string): string[] {
  if (s === "") return [];
  const parts = s.split("\n");
  if (parts[parts.length - 1] === "") parts.pop();
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    // Only lines that ended in "\n" lose a "\r" (the last part did not, unless it was popped).
    if (p.endsWith("\r") && (i < parts.length - 1 || s.endsWith("\n"))) {
      parts[i] = p.slice(0, -1);
    }
  }
  return parts;
}

/**
 * The `# Tools` section of a system or developer message (reference: `template_tools_section`).
 *
 * @param namespaces The namespaces in `BTreeMap` order (by key).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { toolsSection } from "./schema_to_typescript.ts";
 * import { ToolNamespaceConfig } from "../chat/content.ts";
 * strictEqual(toolsSection([ToolNamespaceConfig.python()]).startsWith("# Tools\n\n## python\n"), true);
 * ```
 */
export function toolsSection(namespaces: Iterable<ToolNamespaceConfig>): string {
  const sections = ["# Tools"];
  for (const ns of namespaces) {
    const lines = [`## ${ns.name}\n`];
    const hasTools = ns.tools.length > 0;
    if (ns.description !== undefined) {
      for (const line of rustLines(ns.description)) lines.push(hasTools ? `// ${line}` : line);
    }
    if (hasTools) {
      lines.push(`namespace ${ns.name} {\n`);
      for (const tool of ns.tools) {
        for (const line of rustLines(tool.description)) lines.push(`// ${line}`);
        if (tool.parameters !== undefined && tool.parameters !== null) {
          lines.push(
            `type ${tool.name} = (_: ${jsonSchemaToTypescript(tool.parameters, "")}) => any;\n`,
          );
        } else {
          lines.push(`type ${tool.name} = () => any;\n`);
        }
      }
      lines.push(`} // namespace ${ns.name}`);
    }
    sections.push(lines.join("\n"));
  }
  return sections.join("\n\n");
}
