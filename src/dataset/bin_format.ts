/**
 * The flat `bin` output (nanoGPT / llm.c style): every token of every record back to back, with a
 * small header, plus a loss-mask file and an index of record boundaries.
 *
 * ```text
 * PREFIX.bin            header: 256 little-endian i32 (1024 bytes)
 *                         [0] 20240801 (llm.c's magic for uint32 tokens)  [1] 7 (llm.c's version)
 *                         [2] token count, capped at 2^31-1 (llm.c's field)
 *                         [3] 0  [4],[5] token count as u64 (lo, hi)  [6],[7] record count as u64
 *                       then the tokens as little-endian u32
 * PREFIX.loss_mask.bin  the same header with [0] 20240802 and [1] 1, then one u8 (0/1) per token
 * PREFIX.idx            "HRMBIDX\0" · u64 record count D · (D+1) little-endian u64 token
 *                       offsets: record i is tokens [off[i], off[i+1])
 * ```
 *
 * llm.c's loader reads `PREFIX.bin` directly (it checks [0], [1] and reads [2] tokens).
 *
 * @module
 */

import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { readWhole } from "./megatron.ts";

/** Bytes of the header of `PREFIX.bin` and `PREFIX.loss_mask.bin`. */
export const BIN_HEADER_BYTES = 1024;
/** Magic of `PREFIX.bin` (header word 0). */
export const BIN_TOKENS_MAGIC = 20240801;
/** Version of `PREFIX.bin` (header word 1). */
export const BIN_TOKENS_VERSION = 7;
/** Magic of `PREFIX.loss_mask.bin`. */
export const BIN_MASK_MAGIC = 20240802;
/** Version of `PREFIX.loss_mask.bin`. */
export const BIN_MASK_VERSION = 1;
/** Magic of `PREFIX.idx` in the `bin` format. */
export const BIN_INDEX_MAGIC: Uint8Array = new TextEncoder().encode("HRMBIDX\0");

/**
 * Encodes a 1024-byte header.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { BIN_TOKENS_MAGIC, encodeBinHeader } from "./bin_format.ts";
 * strictEqual(new Int32Array(encodeBinHeader(BIN_TOKENS_MAGIC, 7, 10, 2).buffer)[2], 10);
 * ```
 */
export function encodeBinHeader(
  magic: number,
  version: number,
  tokens: number,
  records: number,
): Uint8Array {
  const out = new Uint8Array(BIN_HEADER_BYTES);
  const v = new DataView(out.buffer);
  v.setInt32(0, magic, true);
  v.setInt32(4, version, true);
  v.setInt32(8, Math.min(tokens, 0x7fffffff), true);
  v.setBigUint64(16, BigInt(tokens), true);
  v.setBigUint64(24, BigInt(records), true);
  return out;
}

/**
 * Encodes the 16-byte header of a `bin` `.idx` file.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { encodeBinIndexHeader } from "./bin_format.ts";
 * strictEqual(encodeBinIndexHeader(3).length, 16);
 * ```
 */
export function encodeBinIndexHeader(records: number): Uint8Array {
  const out = new Uint8Array(16);
  out.set(BIN_INDEX_MAGIC, 0);
  new DataView(out.buffer).setBigUint64(8, BigInt(records), true);
  return out;
}

/**
 * Overwrites bytes at `position` of an existing file.
 *
 * @example
 * ```ts ignore
 * import { patchFile } from "./bin_format.ts";
 * patchFile("out/train.idx", 8, new Uint8Array(8));
 * ```
 */
export function patchFile(path: string, position: number, bytes: Uint8Array): void {
  const fd = openSync(path, "r+");
  try {
    let done = 0;
    while (done < bytes.length) {
      done += writeSync(fd, bytes, done, bytes.length - done, position + done);
    }
  } finally {
    closeSync(fd);
  }
}

/** A `bin` dataset read back. */
export interface BinDataset {
  /** Number of records. */
  length: number;
  /** Token offsets of the records (length + 1 entries). */
  offsets: BigUint64Array;
  /** Reads record `i`: its tokens and loss mask. */
  get(i: number): { tokens: Uint32Array; mask: Uint8Array };
  /** Closes the files. */
  close(): void;
}

/**
 * Opens a `bin` dataset (`PREFIX.bin`, `PREFIX.loss_mask.bin`, `PREFIX.idx`) for reading.
 *
 * @throws {SyntaxError} on a bad magic or inconsistent counts.
 * @example
 * ```ts ignore
 * import { openBinDataset } from "./bin_format.ts";
 * const ds = openBinDataset("out/train");
 * ds.get(0).tokens;
 * ds.close();
 * ```
 */
export function openBinDataset(prefix: string): BinDataset {
  const idx = readWhole(`${prefix}.idx`);
  for (let i = 0; i < 8; i++) {
    if (idx[i] !== BIN_INDEX_MAGIC[i]) {
      throw new SyntaxError(`Cannot read ${prefix}.idx: bad magic (expected HRMBIDX)`);
    }
  }
  const records = Number(new DataView(idx.buffer).getBigUint64(8, true));
  if (idx.length !== 16 + (records + 1) * 8) {
    throw new SyntaxError(
      `Cannot read ${prefix}.idx: ${idx.length} bytes for ${records} records`,
    );
  }
  const offsets = new BigUint64Array(idx.slice(16).buffer);
  const tok = openSync(`${prefix}.bin`, "r");
  const mask = openSync(`${prefix}.loss_mask.bin`, "r");
  const head = new Uint8Array(BIN_HEADER_BYTES);
  readExact(tok, head, 0);
  const hv = new DataView(head.buffer);
  if (hv.getInt32(0, true) !== BIN_TOKENS_MAGIC || hv.getInt32(4, true) !== BIN_TOKENS_VERSION) {
    closeSync(tok);
    closeSync(mask);
    throw new SyntaxError(`Cannot read ${prefix}.bin: bad header`);
  }
  if (hv.getBigUint64(16, true) !== offsets[records]) {
    closeSync(tok);
    closeSync(mask);
    throw new SyntaxError(
      `Cannot read ${prefix}.bin: header says ${hv.getBigUint64(16, true)} tokens, index ${
        offsets[records]
      }`,
    );
  }
  return {
    length: records,
    offsets,
    get(i) {
      if (!(i >= 0 && i < records)) {
        throw new RangeError(`Cannot read record ${i}: dataset has ${records}`);
      }
      const a = Number(offsets[i]);
      const n = Number(offsets[i + 1]) - a;
      const tokens = new Uint32Array(n);
      readExact(tok, new Uint8Array(tokens.buffer), BIN_HEADER_BYTES + a * 4);
      const m = new Uint8Array(n);
      readExact(mask, m, BIN_HEADER_BYTES + a);
      return { tokens, mask: m };
    },
    close() {
      closeSync(tok);
      closeSync(mask);
    },
  };
}

function readExact(fd: number, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.length) {
    const r = readSync(fd, into, done, into.length - done, position + done);
    if (r === 0) throw new RangeError("Cannot read dataset: file ended early");
    done += r;
  }
}
