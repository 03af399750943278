/**
 * Messages and conversations (reference: `src/chat.rs`, `Message` and `Conversation`).
 * Builders mutate and return `this`, as the reference's Python bindings do.
 *
 * @module
 */

import { Author, type Role } from "./role.ts";
import { type Content, TextContent } from "./content.ts";

/**
 * One harmony message: an author, an optional recipient and channel, an optional content type, and
 * a list of contents.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { Message, Role } from "../mod.ts";
 * const call = Message.fromRoleAndContent(Role.Assistant, '{"location":"Tokyo"}')
 *   .withChannel("commentary")
 *   .withRecipient("functions.get_weather")
 *   .withContentType("<|constrain|>json");
 * strictEqual(call.recipient, "functions.get_weather");
 * ```
 */
export class Message {
  /** The author (role and optional name). */
  author: Author;
  /** The recipient: a tool (`functions.get_weather`), or undefined / `"all"` for everyone. */
  recipient: string | undefined;
  /** The contents, in order. */
  content: Content[];
  /** The channel (`analysis`, `commentary`, `final`), or undefined. */
  channel: string | undefined;
  /** The content type (e.g. `<|constrain|>json`), or undefined. */
  contentType: string | undefined;

  /** Creates a message from an author and a list of contents. */
  constructor(author: Author, content: Content[] = []) {
    this.author = author;
    this.recipient = undefined;
    this.content = content;
    this.channel = undefined;
    this.contentType = undefined;
  }

  /** A message from an author with one content; a string becomes {@link TextContent}. */
  static fromAuthorAndContent(author: Author, content: Content | string): Message {
    return new Message(author, [toContent(content)]);
  }

  /** A message from a role (no name) with one content; a string becomes {@link TextContent}. */
  static fromRoleAndContent(role: Role, content: Content | string): Message {
    return new Message(new Author(role), [toContent(content)]);
  }

  /** A message from a role (no name) with several contents. */
  static fromRoleAndContents(role: Role, contents: Iterable<Content | string>): Message {
    return new Message(new Author(role), [...contents].map(toContent));
  }

  /** Appends a content; a string becomes {@link TextContent}. */
  addingContent(content: Content | string): this {
    this.content.push(toContent(content));
    return this;
  }
  /**
   * Sets the channel. Rendered as the reference does, as header text: a value holding whitespace, `to=` or a
   * special-token literal (`<|end|>`) renders to tokens that parse back as a different header
   * (`"final to=functions.x"` reads as a call to `functions.x`). Check user-supplied values with
   * `unsafeHeaderReason` (`harmony-engine/dataset`), as `render-dataset` does.
   */
  withChannel(channel: string): this {
    this.channel = channel;
    return this;
  }
  /**
   * Sets the recipient. Rendered as the reference does, as header text: a value holding whitespace, `to=` or a
   * special-token literal (`<|end|>`) renders to tokens that parse back as a different header
   * (`"final to=functions.x"` reads as a call to `functions.x`). Check user-supplied values with
   * `unsafeHeaderReason` (`harmony-engine/dataset`), as `render-dataset` does.
   */
  withRecipient(recipient: string): this {
    this.recipient = recipient;
    return this;
  }
  /**
   * Sets the content type. A leading `<|constrain|>` renders as that special token (reference
   * rule); the rest is header text. Rendered as the reference does, as header text: a value holding whitespace, `to=` or a
   * special-token literal (`<|end|>`) renders to tokens that parse back as a different header
   * (`"final to=functions.x"` reads as a call to `functions.x`). Check user-supplied values with
   * `unsafeHeaderReason` (`harmony-engine/dataset`), as `render-dataset` does.
   */
  withContentType(contentType: string): this {
    this.contentType = contentType;
    return this;
  }
}

/** A list of messages (reference: `Conversation`). */
export class Conversation {
  /** The messages, in order. */
  messages: Message[];

  /** Creates a conversation. */
  constructor(messages: Message[] = []) {
    this.messages = messages;
  }

  /** A conversation from messages (reference: `Conversation::from_messages`). */
  static fromMessages(messages: Iterable<Message>): Conversation {
    return new Conversation([...messages]);
  }
}

function toContent(content: Content | string): Content {
  return typeof content === "string" ? new TextContent(content) : content;
}
