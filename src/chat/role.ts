/**
 * Roles and authors of harmony messages (reference: `src/chat.rs`, `Role` and `Author`).
 *
 * @module
 */

/** The five roles of the harmony format, in the spelling the format uses. */
export const Role = {
  User: "user",
  Assistant: "assistant",
  System: "system",
  Developer: "developer",
  Tool: "tool",
} as const;

/** One of the five harmony roles: `"user" | "assistant" | "system" | "developer" | "tool"`. */
export type Role = typeof Role[keyof typeof Role];

/**
 * The five role names as a tuple (for option choices and schema enums).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { ROLE_NAMES } from "./role.ts";
 * strictEqual(ROLE_NAMES.length, 5);
 * ```
 */
export const ROLE_NAMES = [
  Role.User,
  Role.Assistant,
  Role.System,
  Role.Developer,
  Role.Tool,
] as const;

const ROLES: ReadonlySet<string> = new Set(ROLE_NAMES);

/**
 * Tells whether a string is one of the five harmony roles.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { isRole } from "./role.ts";
 * strictEqual(isRole("assistant"), true);
 * strictEqual(isRole("functions.get_weather"), false);
 * ```
 */
export function isRole(value: string): value is Role {
  return ROLES.has(value);
}

/**
 * Parses a role name as the reference's `Role::try_from` does.
 *
 * @throws {TypeError} when `value` is not one of the five roles.
 */
export function parseRole(value: string): Role {
  if (!isRole(value)) {
    throw new TypeError(`Cannot parse role: unknown role "${value.slice(0, 32)}"`);
  }
  return value;
}

/**
 * The author of a message: a role and, for tools and named participants, a name.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { Author, Role } from "./role.ts";
 * const tool = Author.new(Role.Tool, "functions.get_weather");
 * strictEqual(tool.name, "functions.get_weather");
 * ```
 */
export class Author {
  /** The author's role. */
  role: Role;
  /** The author's name (for tool messages: the tool, e.g. `functions.get_weather`). */
  name: string | undefined;

  /** Creates an author with a role and an optional name. */
  constructor(role: Role, name?: string) {
    this.role = role;
    this.name = name;
  }

  /** Creates an author with a role and a name (reference: `Author::new`). */
  static new(role: Role, name: string): Author {
    return new Author(role, name);
  }
}
