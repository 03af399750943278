/**
 * Durable output files, shared by the dataset and eval pipelines: the one temporary-name
 * convention ({@link tempName}: `FILE.tmp`), the one buffered append-only writer
 * ({@link AppendFile}), and the fsync / rename / content-hash helpers a checkpointed job needs
 * (write to a temporary name, fsync, rename, fsync the directory; a resume trusts nothing it
 * cannot verify). Synchronous `node:fs` calls, the same in Deno, Bun and Node.
 *
 * @module
 */

import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";

const BUFFER_SIZE = 1 << 20;

/** Bytes hashed at the end (or start) of a file to recognise its content on resume. */
export const HASH_BLOCK = 1 << 16;

/**
 * The temporary name a final output file is written under until its job completes.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { tempName } from "./durable_file.ts";
 * deepStrictEqual(tempName("out/train.bin"), "out/train.bin.tmp");
 * ```
 */
export function tempName(path: string): string {
  return `${path}.tmp`;
}

/**
 * The final name of a file written under {@link tempName} (other names are returned as they are).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { finalName } from "./durable_file.ts";
 * deepStrictEqual(finalName("out/train.bin.tmp"), "out/train.bin");
 * ```
 */
export function finalName(temp: string): string {
  return temp.endsWith(".tmp") ? temp.slice(0, -4) : temp;
}

/** Options of {@link AppendFile}. */
export interface AppendFileOptions {
  /**
   * Reopen the existing file cut to this many bytes (the bytes after a checkpoint are dropped)
   * instead of creating it empty. The file must be at least this long: a file is never extended
   * (extending would write a zero-filled gap).
   */
  truncateTo?: number;
  /** Write every flush as one gzip member (a multi-member gzip stream; default false). */
  gzip?: boolean;
}

/**
 * An append-only file with a 1 MiB write buffer. `length` counts the bytes the file holds once
 * everything buffered is flushed (for gzip files: the bytes flushed so far, so take it after
 * {@link AppendFile.flush}).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { AppendFile } from "./durable_file.ts";
 * import { tmpdir } from "node:os";
 * const f = new AppendFile(`${tmpdir()}/append-example.bin`);
 * f.writeText("hello");
 * f.close();
 * deepStrictEqual(f.length, 5);
 * ```
 */
export class AppendFile {
  /** The file's path. */
  readonly path: string;
  #fd: number;
  #buf = new Uint8Array(BUFFER_SIZE);
  #used = 0;
  #length: number;
  #gzip: boolean;

  /**
   * Opens `path` for appending (created empty unless `truncateTo` is given; a number is
   * `truncateTo`, as older callers pass it).
   *
   * @throws {RangeError} when `truncateTo` exceeds the file's size.
   */
  constructor(path: string, options: AppendFileOptions | number = {}) {
    const o = typeof options === "number" ? { truncateTo: options } : options;
    this.path = path;
    this.#gzip = o.gzip === true;
    if (o.truncateTo === undefined) {
      this.#fd = openSync(path, "w");
      this.#length = 0;
    } else {
      this.#fd = openSync(path, "r+");
      const size = fstatSync(this.#fd).size;
      if (size < o.truncateTo) {
        closeSync(this.#fd);
        throw new RangeError(
          `Cannot reopen ${path}: it has ${size} bytes, the checkpoint needs ${o.truncateTo}`,
        );
      }
      ftruncateSync(this.#fd, o.truncateTo);
      this.#length = o.truncateTo;
    }
  }

  /** Bytes in the file once everything buffered is flushed (gzip: bytes flushed so far). */
  get length(): number {
    return this.#length;
  }

  /** Appends bytes. */
  write(bytes: Uint8Array): void {
    if (bytes.length > this.#buf.length - this.#used) {
      this.flush();
      if (bytes.length >= this.#buf.length) {
        if (this.#gzip) {
          this.#append(gzipSync(bytes));
          return;
        }
        this.#append(bytes);
        return;
      }
    }
    this.#buf.set(bytes, this.#used);
    this.#used += bytes.length;
    if (!this.#gzip) this.#length += bytes.length;
  }

  /** Appends the bytes of a typed array (little-endian on every platform this runs on). */
  writeArray(array: ArrayBufferView): void {
    this.write(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  }

  /** Appends UTF-8 text. */
  writeText(text: string): void {
    this.write(ENCODER.encode(text));
  }

  /** Writes out the buffer (gzip files: as one gzip member). */
  flush(): void {
    if (this.#used === 0 || this.#fd < 0) return;
    const data = this.#buf.subarray(0, this.#used);
    this.#used = 0;
    if (this.#gzip) this.#append(gzipSync(data));
    else writeAll(this.#fd, data, this.#length - data.length);
  }

  /** Flushes and fsyncs: the bytes counted by `length` are on disk when this returns. */
  sync(): void {
    if (this.#fd < 0) return;
    this.flush();
    fsyncSync(this.#fd);
  }

  /** Flushes and closes the file (without fsync; call {@link AppendFile.sync} first for that). */
  close(): void {
    if (this.#fd < 0) return;
    try {
      this.flush();
    } finally {
      closeSync(this.#fd);
      this.#fd = -1;
    }
  }

  #append(bytes: Uint8Array): void {
    writeAll(this.#fd, bytes, this.#length);
    this.#length += bytes.length;
  }
}

const ENCODER = new TextEncoder();

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}

/**
 * fsyncs a file by path.
 *
 * @example
 * ```ts ignore
 * import { syncFile } from "./durable_file.ts";
 * syncFile("out/train.idx.tmp");
 * ```
 */
export function syncFile(path: string): void {
  const fd = openSync(path, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * fsyncs a directory, so that renames and removals in it are durable. Platforms that cannot
 * open a directory (Windows) are skipped: their renames are durable on return.
 *
 * @example
 * ```ts ignore
 * import { syncDir } from "./durable_file.ts";
 * syncDir("out");
 * ```
 */
export function syncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== "EINVAL" && code !== "EPERM" && code !== "EISDIR" && code !== "EBADF") throw e;
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a small file atomically and durably: temporary name, fsync, rename, fsync of the
 * directory. A reader sees the old content or the new, never a torn file.
 *
 * @example
 * ```ts ignore
 * import { writeFileDurably } from "./durable_file.ts";
 * writeFileDurably("out/train.checkpoint.json", JSON.stringify({ version: 2 }));
 * ```
 */
export function writeFileDurably(path: string, data: string | Uint8Array): void {
  const tmp = tempName(path);
  writeFileSync(tmp, data);
  syncFile(tmp);
  renameSync(tmp, path);
  syncDir(dirname(path));
}

/**
 * SHA-256 (hex) of the bytes `[start, end)` of a file; the range is clipped to the file.
 *
 * @example
 * ```ts ignore
 * import { hashRange } from "./durable_file.ts";
 * hashRange("out/train.bin.tmp", 0, 65536);
 * ```
 */
export function hashRange(path: string, start: number, end: number): string {
  const fd = openSync(path, "r");
  try {
    const h = createHash("sha256");
    const buf = new Uint8Array(Math.min(Math.max(end - start, 0), BUFFER_SIZE));
    let at = start;
    while (at < end) {
      const r = readSync(fd, buf, 0, Math.min(buf.length, end - at), at);
      if (r === 0) break;
      h.update(buf.subarray(0, r));
      at += r;
    }
    return h.digest("hex");
  } finally {
    closeSync(fd);
  }
}

/**
 * The hash of the last {@link HASH_BLOCK} bytes before `length` that are not before `from` (the
 * block a checkpoint records for a file it will resume appending to).
 *
 * @example
 * ```ts ignore
 * import { tailHash } from "./durable_file.ts";
 * tailHash("out/train.bin.tmp", 123456);
 * ```
 */
export function tailHash(path: string, length: number, from = 0): string {
  return hashRange(path, Math.max(from, length - HASH_BLOCK), length);
}
