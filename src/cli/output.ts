/**
 * Buffered line output for JSONL commands: lines are gathered into ~64 KiB chunks before they are
 * written, so a million short lines are not a million writes.
 *
 * @module
 */

import type { Output } from "./host.ts";

/** Buffers lines and writes them to an {@link Output} in large chunks. */
export class LineWriter {
  #out: Output;
  #parts: string[] = [];
  #size = 0;
  #limit: number;

  /** Creates a writer flushing every `limit` UTF-16 code units (default 65536). */
  constructor(out: Output, limit = 65536) {
    this.#out = out;
    this.#limit = limit;
  }

  /** Adds one line (a `\n` is appended); flushes when the buffer is full. */
  async line(text: string): Promise<void> {
    this.#parts.push(text, "\n");
    this.#size += text.length + 1;
    if (this.#size >= this.#limit) await this.flush();
  }

  /**
   * Adds part of a line (no `\n`), flushing when the buffer is full: a huge line (a `--trace`)
   * is written as it is produced, in bounded memory. End the line with `line("")`.
   */
  async part(text: string): Promise<void> {
    this.#parts.push(text);
    this.#size += text.length;
    if (this.#size >= this.#limit) await this.flush();
  }

  /** Writes out everything buffered. */
  async flush(): Promise<void> {
    if (this.#parts.length === 0) return;
    const chunk = this.#parts.join("");
    this.#parts = [];
    this.#size = 0;
    await this.#out.write(chunk);
  }
}
