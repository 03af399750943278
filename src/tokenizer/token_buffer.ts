/**
 * A growable buffer of token ids backed by a `Uint32Array` (doubling growth, no per-token
 * allocation).
 *
 * @module
 */

import type { TokenSink } from "./types.ts";

/**
 * A growable `Uint32Array` of token ids.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { TokenBuffer } from "./token_buffer.ts";
 * const buf = new TokenBuffer();
 * buf.push(200006);
 * deepStrictEqual(buf.toArray(), new Uint32Array([200006]));
 * ```
 */
export class TokenBuffer implements TokenSink {
  /** Backing store; only `[0, length)` is meaningful. */
  data: Uint32Array;
  /** Number of tokens held. */
  length = 0;

  /** Creates a buffer with room for `capacity` tokens. */
  constructor(capacity = 256) {
    this.data = new Uint32Array(Math.max(16, capacity));
  }

  /** Appends one token. */
  push(token: number): void {
    if (this.length === this.data.length) this.grow(this.length + 1);
    this.data[this.length++] = token;
  }

  /** Appends many tokens. */
  pushAll(tokens: ArrayLike<number>): void {
    const n = tokens.length;
    if (this.length + n > this.data.length) this.grow(this.length + n);
    const d = this.data;
    let at = this.length;
    for (let i = 0; i < n; i++) d[at++] = tokens[i];
    this.length = at;
  }

  /** Ensures room for at least `capacity` tokens in total. */
  grow(capacity: number): void {
    if (capacity <= this.data.length) return;
    let size = this.data.length * 2;
    while (size < capacity) size *= 2;
    const next = new Uint32Array(size);
    next.set(this.data.subarray(0, this.length));
    this.data = next;
  }

  /** A view of the held tokens (shares memory; invalidated by the next growth). */
  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }

  /** A copy of the held tokens. */
  toArray(): Uint32Array {
    return this.data.slice(0, this.length);
  }

  /** Empties the buffer, keeping its capacity. */
  clear(): void {
    this.length = 0;
  }
}
