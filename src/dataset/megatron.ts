/**
 * Megatron-LM indexed datasets (`PREFIX.bin` + `PREFIX.idx`), as `IndexedDataset` in Megatron-LM's
 * `megatron/core/datasets/indexed_dataset.py` reads them:
 *
 * ```text
 * .idx: "MMIDIDX\0\0" (9 bytes) · u64 version = 1 · u8 dtype code · u64 sequence count N
 *       · u64 document count D+1 · i32 sequence lengths [N] · i64 byte pointers [N]
 *       · i64 document indices [D+1] (0, …, N: here every sequence is one document)
 * .bin: the sequences' elements back to back, little-endian, in the dtype of the code
 * ```
 *
 * DType codes (that file's `DType` enum): uint8 1, int8 2, int16 3, int32 4, int64 5, float64 6,
 * float32 7, uint16 8. Tokens are written as int32 (the o200k_harmony vocabulary exceeds
 * uint16); loss masks as uint8.
 *
 * @module
 */

import { closeSync, openSync, readSync, statSync, writeSync } from "node:fs";

/** The magic bytes at the start of a Megatron `.idx` file. */
export const MEGATRON_INDEX_HEADER: Uint8Array = new Uint8Array([
  0x4d,
  0x4d,
  0x49,
  0x44,
  0x49,
  0x44,
  0x58,
  0x00,
  0x00,
]);

/** Megatron's `DType` codes for the dtypes this module writes and reads. */
export const MegatronDType = {
  uint8: 1,
  int8: 2,
  int16: 3,
  int32: 4,
  int64: 5,
  uint16: 8,
} as const;

/** One of the supported dtype codes. */
export type MegatronDType = typeof MegatronDType[keyof typeof MegatronDType];

/**
 * Bytes per element of each supported dtype code.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { megatronItemSize, MegatronDType } from "./megatron.ts";
 * strictEqual(megatronItemSize(MegatronDType.int32), 4);
 * ```
 */
export function megatronItemSize(code: number): number {
  switch (code) {
    case 1:
    case 2:
      return 1;
    case 3:
    case 8:
      return 2;
    case 4:
      return 4;
    case 5:
      return 8;
    default:
      throw new RangeError(`Cannot use Megatron dtype: unsupported code ${code}`);
  }
}

/** Byte length of the fixed part of a `.idx` file (before the arrays). */
export const MEGATRON_INDEX_PREFIX_BYTES = 9 + 8 + 1 + 8 + 8;

/** The contents of a `.idx` file. */
export interface MegatronIndex {
  /** The dtype code of the `.bin` elements. */
  dtype: number;
  /** Elements per sequence. */
  sequenceLengths: Int32Array;
  /** Byte offset of each sequence in the `.bin` file. */
  sequencePointers: BigInt64Array;
  /** Document boundaries as sequence indices, `[0, …, N]` (length D+1). */
  documentIndices: BigInt64Array;
}

/**
 * Encodes the fixed header of a `.idx` file.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { encodeMegatronIndexPrefix, MegatronDType } from "./megatron.ts";
 * strictEqual(encodeMegatronIndexPrefix(MegatronDType.int32, 2, 3).length, 34);
 * ```
 */
export function encodeMegatronIndexPrefix(
  dtype: number,
  sequenceCount: number,
  documentIndexCount: number,
): Uint8Array {
  const out = new Uint8Array(MEGATRON_INDEX_PREFIX_BYTES);
  const view = new DataView(out.buffer);
  out.set(MEGATRON_INDEX_HEADER, 0);
  view.setBigUint64(9, 1n, true);
  view.setUint8(17, dtype);
  view.setBigUint64(18, BigInt(sequenceCount), true);
  view.setBigUint64(26, BigInt(documentIndexCount), true);
  return out;
}

/** The fixed header of a `.idx` file. */
export interface MegatronIndexHeader {
  /** The dtype code. */
  dtype: number;
  /** Number of sequences N. */
  sequenceCount: number;
  /** Number of document indices (documents + 1). */
  documentCount: number;
}

/**
 * Decodes the fixed header of a `.idx` file (its first {@link MEGATRON_INDEX_PREFIX_BYTES}).
 *
 * @throws {SyntaxError} on a bad magic, version or dtype.
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { decodeMegatronIndexHeader, encodeMegatronIndexPrefix } from "./megatron.ts";
 * strictEqual(decodeMegatronIndexHeader(encodeMegatronIndexPrefix(4, 2, 3)).sequenceCount, 2);
 * ```
 */
export function decodeMegatronIndexHeader(bytes: Uint8Array): MegatronIndexHeader {
  if (bytes.length < MEGATRON_INDEX_PREFIX_BYTES) {
    throw new SyntaxError(`Cannot read Megatron index: ${bytes.length} bytes is too short`);
  }
  for (let i = 0; i < MEGATRON_INDEX_HEADER.length; i++) {
    if (bytes[i] !== MEGATRON_INDEX_HEADER[i]) {
      throw new SyntaxError("Cannot read Megatron index: bad magic (expected MMIDIDX)");
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getBigUint64(9, true);
  if (version !== 1n) {
    throw new SyntaxError(`Cannot read Megatron index: unsupported version ${version}`);
  }
  const dtype = view.getUint8(17);
  try {
    megatronItemSize(dtype);
  } catch (e) {
    throw new SyntaxError(`Cannot read Megatron index: unknown dtype code ${dtype}`, { cause: e });
  }
  return {
    dtype,
    sequenceCount: Number(view.getBigUint64(18, true)),
    documentCount: Number(view.getBigUint64(26, true)),
  };
}

/**
 * Decodes a whole `.idx` file.
 *
 * @throws {SyntaxError} when the magic, version or sizes are wrong.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { decodeMegatronIndex, encodeMegatronIndex } from "./megatron.ts";
 * const idx = decodeMegatronIndex(encodeMegatronIndex(4, Int32Array.of(3, 2)));
 * deepStrictEqual(idx.sequencePointers, new BigInt64Array([0n, 12n]));
 * ```
 */
export function decodeMegatronIndex(bytes: Uint8Array): MegatronIndex {
  const { dtype, sequenceCount: n, documentCount: d } = decodeMegatronIndexHeader(bytes);
  const need = MEGATRON_INDEX_PREFIX_BYTES + n * 4 + n * 8 + d * 8;
  if (bytes.length < need) {
    throw new SyntaxError(
      `Cannot read Megatron index: ${bytes.length} bytes, ${need} needed for ${n} sequences`,
    );
  }
  let at = MEGATRON_INDEX_PREFIX_BYTES;
  const copy = (len: number) => {
    const b = bytes.slice(at, at + len);
    at += len;
    return b.buffer;
  };
  const sequenceLengths = new Int32Array(copy(n * 4));
  const sequencePointers = new BigInt64Array(copy(n * 8));
  const documentIndices = new BigInt64Array(copy(d * 8));
  return { dtype, sequenceLengths, sequencePointers, documentIndices };
}

/**
 * Encodes a whole `.idx` file for sequences of the given lengths, one document each.
 *
 * @example
 * ```ts
 * import { encodeMegatronIndex, MegatronDType } from "./megatron.ts";
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(encodeMegatronIndex(MegatronDType.int32, Int32Array.of(5)).length, 34 + 4 + 8 + 16);
 * ```
 */
export function encodeMegatronIndex(dtype: number, lengths: Int32Array): Uint8Array {
  const n = lengths.length;
  const out = new Uint8Array(MEGATRON_INDEX_PREFIX_BYTES + n * 4 + n * 8 + (n + 1) * 8);
  out.set(encodeMegatronIndexPrefix(dtype, n, n + 1), 0);
  const size = BigInt(megatronItemSize(dtype));
  const pointers = new BigInt64Array(n);
  let p = 0n;
  for (let i = 0; i < n; i++) {
    pointers[i] = p;
    p += BigInt(lengths[i]) * size;
  }
  let at = MEGATRON_INDEX_PREFIX_BYTES;
  out.set(new Uint8Array(lengths.buffer, lengths.byteOffset, n * 4), at);
  at += n * 4;
  out.set(new Uint8Array(pointers.buffer), at);
  at += n * 8;
  const docs = new BigInt64Array(n + 1);
  for (let i = 0; i <= n; i++) docs[i] = BigInt(i);
  out.set(new Uint8Array(docs.buffer), at);
  return out;
}

const CHUNK = 1 << 16;

/**
 * Writes a `.idx` file from a file of little-endian u32 sequence lengths (one per sequence, one
 * document per sequence), streaming in 64 Ki-entry chunks so memory stays bounded.
 *
 * @example
 * ```ts ignore
 * import { writeMegatronIndexFromLengths } from "./megatron.ts";
 * writeMegatronIndexFromLengths("out.idx", 4, "out.lengths.tmp");
 * ```
 */
export function writeMegatronIndexFromLengths(
  idxPath: string,
  dtype: number,
  lengthsPath: string,
): number {
  const n = statSync(lengthsPath).size / 4;
  if (!Number.isInteger(n)) {
    throw new RangeError(`Cannot write Megatron index: ${lengthsPath} is not a u32 array`);
  }
  const out = openSync(idxPath, "w");
  const src = openSync(lengthsPath, "r");
  try {
    let pos = 0;
    const put = (b: Uint8Array) => {
      let done = 0;
      while (done < b.length) done += writeSync(out, b, done, b.length - done, pos + done);
      pos += b.length;
    };
    put(encodeMegatronIndexPrefix(dtype, n, n + 1));
    const buf = new Uint32Array(CHUNK);
    const bytes = new Uint8Array(buf.buffer);
    const readChunk = (first: number, count: number) => {
      let done = 0;
      const want = count * 4;
      while (done < want) {
        const r = readSync(src, bytes, done, want - done, first * 4 + done);
        if (r === 0) throw new RangeError(`Cannot read ${lengthsPath}: file ended early`);
        done += r;
      }
      return buf.subarray(0, count);
    };
    // Pass 1: lengths (u32 → i32, same bytes for lengths < 2^31).
    for (let i = 0; i < n; i += CHUNK) {
      const c = readChunk(i, Math.min(CHUNK, n - i));
      put(new Uint8Array(c.buffer, 0, c.length * 4));
    }
    // Pass 2: byte pointers, as (lo, hi) u32 pairs: Number arithmetic is exact below 2^53 bytes
    // and avoids a BigInt per sequence.
    const size = megatronItemSize(dtype);
    const pair = new Uint32Array(CHUNK * 2);
    const pairBytes = new Uint8Array(pair.buffer);
    let p = 0;
    for (let i = 0; i < n; i += CHUNK) {
      const c = readChunk(i, Math.min(CHUNK, n - i));
      for (let j = 0; j < c.length; j++) {
        pair[2 * j] = p % 0x100000000;
        pair[2 * j + 1] = Math.floor(p / 0x100000000);
        p += c[j] * size;
      }
      put(pairBytes.subarray(0, c.length * 8));
    }
    // Document indices 0..n.
    for (let i = 0; i <= n; i += CHUNK) {
      const count = Math.min(CHUNK, n + 1 - i);
      for (let j = 0; j < count; j++) {
        pair[2 * j] = (i + j) % 0x100000000;
        pair[2 * j + 1] = Math.floor((i + j) / 0x100000000);
      }
      put(pairBytes.subarray(0, count * 8));
    }
    return n;
  } finally {
    closeSync(src);
    closeSync(out);
  }
}

/** Random access to one Megatron indexed dataset on disk. */
export interface MegatronDataset {
  /** The decoded index. */
  index: MegatronIndex;
  /** Number of sequences. */
  length: number;
  /** Reads sequence `i` (tokens as Int32Array for int32, Uint8Array for uint8, …). */
  get(i: number): Int32Array | Uint8Array | Int8Array | Int16Array | Uint16Array;
  /** Closes the `.bin` file. */
  close(): void;
}

/**
 * Opens `PREFIX.idx` + `PREFIX.bin` for reading (the index is read whole; sequences on demand).
 *
 * @throws {SyntaxError} on a malformed index; {RangeError} on an out-of-range sequence.
 * @example
 * ```ts ignore
 * import { openMegatronDataset } from "./megatron.ts";
 * const ds = openMegatronDataset("out/train");
 * const first = ds.get(0);
 * ds.close();
 * ```
 */
export function openMegatronDataset(prefix: string): MegatronDataset {
  const idxBytes = readWhole(`${prefix}.idx`);
  const index = decodeMegatronIndex(idxBytes);
  const fd = openSync(`${prefix}.bin`, "r");
  const size = megatronItemSize(index.dtype);
  if (index.dtype === MegatronDType.int64) {
    closeSync(fd);
    throw new RangeError(`Cannot open ${prefix}: int64 datasets are not supported`);
  }
  return {
    index,
    length: index.sequenceLengths.length,
    get(i) {
      if (!(i >= 0 && i < index.sequenceLengths.length)) {
        throw new RangeError(`Cannot read sequence ${i}: dataset has ${this.length}`);
      }
      const len = index.sequenceLengths[i];
      const bytes = new Uint8Array(len * size);
      const pos = Number(index.sequencePointers[i]);
      let done = 0;
      while (done < bytes.length) {
        const r = readSync(fd, bytes, done, bytes.length - done, pos + done);
        if (r === 0) throw new RangeError(`Cannot read sequence ${i}: ${prefix}.bin is short`);
        done += r;
      }
      switch (index.dtype) {
        case 1:
          return bytes;
        case 2:
          return new Int8Array(bytes.buffer);
        case 3:
          return new Int16Array(bytes.buffer);
        case 8:
          return new Uint16Array(bytes.buffer);
        default:
          return new Int32Array(bytes.buffer);
      }
    },
    close: () => closeSync(fd),
  };
}

/**
 * Reads a whole (small) file synchronously.
 *
 * @example
 * ```ts ignore
 * import { readWhole } from "./megatron.ts";
 * const idx = readWhole("out/train.idx");
 * ```
 */
export function readWhole(path: string): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const size = statSync(path).size;
    const out = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const r = readSync(fd, out, done, size - done, done);
      if (r === 0) break;
      done += r;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
