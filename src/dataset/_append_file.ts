/**
 * A buffered, append-only output file with synchronous `node:fs` calls (the same in Deno and
 * Bun): bytes are gathered in a 1 MiB buffer, `length` counts what was appended (flushed or
 * not), and a file can be reopened truncated to a checkpointed length for `--resume`.
 *
 * @module
 */

import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";

const BUFFER_SIZE = 1 << 20;

/**
 * An append-only file with a write buffer.
 *
 * @example
 * ```ts ignore
 * import { AppendFile } from "./_append_file.ts";
 * const f = new AppendFile("/tmp/append-example.bin");
 * f.writeText("hello");
 * f.close(); // f.length === 5
 * ```
 */
export class AppendFile {
  /** The file's path. */
  readonly path: string;
  #fd: number;
  #buf = new Uint8Array(BUFFER_SIZE);
  #used = 0;
  #length: number;

  /**
   * Opens `path` for appending. Without `truncateTo` the file is created empty; with it, the
   * file must exist and is cut to that many bytes (the bytes after a checkpoint are dropped).
   */
  constructor(path: string, truncateTo?: number) {
    this.path = path;
    if (truncateTo === undefined) {
      this.#fd = openSync(path, "w");
      this.#length = 0;
    } else {
      this.#fd = openSync(path, "r+");
      ftruncateSync(this.#fd, truncateTo);
      this.#length = truncateTo;
    }
  }

  /** Bytes in the file once everything buffered is flushed. */
  get length(): number {
    return this.#length;
  }

  /** Appends bytes. */
  write(bytes: Uint8Array): void {
    if (bytes.length > this.#buf.length - this.#used) {
      this.flush();
      if (bytes.length >= this.#buf.length) {
        writeAll(this.#fd, bytes, this.#length);
        this.#length += bytes.length;
        return;
      }
    }
    this.#buf.set(bytes, this.#used);
    this.#used += bytes.length;
    this.#length += bytes.length;
  }

  /** Appends the bytes of a typed array (little-endian on every platform this runs on). */
  writeArray(array: ArrayBufferView): void {
    this.write(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  }

  /** Appends UTF-8 text. */
  writeText(text: string): void {
    this.write(ENCODER.encode(text));
  }

  /** Writes out the buffer. */
  flush(): void {
    if (this.#used === 0) return;
    writeAll(this.#fd, this.#buf.subarray(0, this.#used), this.#length - this.#used);
    this.#used = 0;
  }

  /** Flushes and closes the file. */
  close(): void {
    if (this.#fd < 0) return;
    this.flush();
    closeSync(this.#fd);
    this.#fd = -1;
  }
}

const ENCODER = new TextEncoder();

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}
