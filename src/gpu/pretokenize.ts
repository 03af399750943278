/**
 * Pre-tokenization parallel over split points: the o200k pre-tokenizer (`splitPieces` of
 * src/tokenizer/pieces.ts, the reference) run as many independent scans, on the GPU
 * (`shaders/pretokenize.wgsl`) and, by the same algorithm, on the CPU ({@link pretokenizeCpu},
 * the reference of the kernel and the plan's CPU executor).
 *
 * ## The split rule
 * Write `J(a, b)` ({@link joins}) for "some string the pattern matches holds code point `a`
 * directly followed by code point `b`". Reading the seven alternatives (see pieces.ts), with
 * `LM` = `\p{L}` ∪ `\p{M}` (the union of the letter classes of alternatives 1/2), `P` =
 * `[^\r\n\p{L}\p{N}]` (their optional prefix) and `Q` = `[^\s\p{L}\p{N}]` (alternative 4), the
 * adjacent pairs inside a match are exactly:
 * - 1, 2 `P?[…]*[…]+C?`: (P, LM), (LM, LM), (LM, `'`), and inside a contraction `C` (`'` then a
 *   letter: (P, LM) again; `re`, `ve`, `ll`, `ſ`…: (LM, LM));
 * - 3 `\p{N}{1,3}`: (N, N);
 * - 4 ` ?Q+[\r\n/]*`: (` `, Q), (Q, Q), (Q, `\r\n`), (Q, `/`) ⊂ (Q, Q), (`\r\n`, `\r\n/`);
 * - 5–7 `\s*[\r\n]+`, `\s+(?!\S)`, `\s+`: (\s, \s).
 *
 * So a position between code points `a` and `b` of one segment (the text the pattern sees: a
 * text, or its part between two special literals) with `!J(a, b)` is a **split point**: no
 * match can hold both `a` and `b`, and since the full left-to-right scan's matches are
 * contiguous and cover the segment, one of them ends exactly there. Marks are in `LM`, `P` and
 * `Q` at once and need no special case (J tests class membership, not a partition); digit runs
 * and whitespace runs are never split (J holds inside them), nor is `'s` after a letter. Typical
 * split points: letter or digit → space, letter → digit, `\n` → letter, letter → punctuation.
 *
 * **Why a scan may start there.** The pattern has no lookbehind, and leftmost-first matching at
 * a position depends only on the text from that position to the segment's end; so the pieces a
 * scan started at a split point finds are the full scan's pieces from there on. Each chunk (a
 * split point or segment start up to the next) is scanned independently, with the segment's
 * real end as the pattern's end, by reading ahead past the chunk: a piece never crosses the next
 * split point, and finding the end of a piece that ends at split point `c` reads at most the
 * one code point at `c` (the class test that ends the run, `(?!\S)`, or the `'` test of a
 * contraction, which J rules out at `c`). That is also why a window of the packed text may be
 * cut at a split point `c` with only 4 bytes of look-ahead after it ({@link PretokenizeInput}).
 *
 * A segment with no split point at all (100 KB with no space) is one chunk: one thread scans it,
 * as the CPU would. Both implementations check the rule as they go: a piece crossing a chunk
 * start is an error, never silent output.
 *
 * @module
 */

import { BufferUsage } from "./_flags.ts";
import type { GpuContext } from "./context.ts";
import { GpuBatchError } from "./errors.ts";
import { KERNELS, MAX_GPU_PIECE_BYTES, recordScan } from "./kernels.ts";
import { buildClassTables, type ClassTables, NONE } from "./tables.ts";
import { CLASS_BITS, classTable } from "../tokenizer/_classes.ts";
import { nextPieceEnd, prepareScanner } from "../tokenizer/pieces.ts";

const { UPPER, LOWER, LETTER, NUMBER, SPACE, CRLF } = CLASS_BITS;
const UL = UPPER | LOWER;

/**
 * Whether a match of the o200k pattern can hold a code point of class bits `ca` whose UTF-8
 * starts with byte `a`, directly followed by one of class `cb` starting with byte `b` (the
 * relation J of the module doc; `shaders/pretokenize.wgsl` has the same function). Where it is
 * false, every scan has a piece boundary.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { joins } from "./pretokenize.ts";
 * import { classTable } from "../tokenizer/_classes.ts";
 * const t = classTable(), c = (s: string) => t[s.codePointAt(0)!];
 * strictEqual(joins(c("o"), 0x6f, c(" "), 0x20), false); // "hello| world"
 * strictEqual(joins(c(" "), 0x20, c("w"), 0x77), true); // " world" is one piece
 * strictEqual(joins(c("\n"), 0x0a, c("x"), 0x78), false);
 * ```
 */
export function joins(ca: number, a: number, cb: number, b: number): boolean {
  const aQ = (ca & (SPACE | LETTER | NUMBER)) === 0;
  const bQ = (cb & (SPACE | LETTER | NUMBER)) === 0;
  // 1, 2: the prefix or a letter, then a letter; a letter, then a contraction's apostrophe.
  if ((cb & UL) !== 0 && ((ca & (CRLF | LETTER | NUMBER)) === 0 || (ca & UL) !== 0)) return true;
  if ((ca & UL) !== 0 && b === 0x27) return true;
  // 3 and 5–7: digit runs, whitespace runs.
  if ((ca & cb & NUMBER) !== 0 || (ca & cb & SPACE) !== 0) return true;
  // 4: ` ?Q+[\r\n/]*`.
  if (bQ && (aQ || a === 0x20)) return true;
  if ((cb & CRLF) !== 0 && (aQ || (ca & CRLF) !== 0)) return true;
  return b === 0x2f && (ca & CRLF) !== 0;
}

/** Class bits of the code point whose UTF-8 starts at `b[i]` (valid UTF-8). */
function cls(t: Uint8Array, b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return t[c];
  if (c < 0xe0) return t[((c & 0x1f) << 6) | (b[i + 1] & 0x3f)];
  if (c < 0xf0) return t[((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f)];
  return t[
    ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f)
  ] | 0;
}

/**
 * Whether byte `i` of `text` (inside a segment starting at `segStart < i`) is a split point:
 * a code point start whose previous code point `a` and own code point `b` have `!joins(a, b)`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { isSplitPoint } from "./pretokenize.ts";
 * const t = new TextEncoder().encode("ab cd");
 * strictEqual(isSplitPoint(t, 2, 0), true);
 * strictEqual(isSplitPoint(t, 3, 0), false);
 * ```
 */
export function isSplitPoint(text: Uint8Array, i: number, segStart: number): boolean {
  const b = text[i];
  if ((b & 0xc0) === 0x80 || i <= segStart) return false;
  const t = classTable();
  let j = i - 1;
  while (j > segStart && (text[j] & 0xc0) === 0x80) j--;
  return !joins(cls(t, text, j), text[j], cls(t, text, i), b);
}

/**
 * One window of packed text to pre-tokenize: segments `k` covering bytes
 * `[starts[k], starts[k + 1])` contiguously from 0 to `starts[S]` (`S = presets.length`). A
 * segment with `presets[k] === NONE` is pre-tokenized with `scanEnds[k]` (≥ `starts[k + 1]`) as
 * the pattern's end; any other is one piece whose preset is `presets[k]`. `text` holds the covered
 * bytes plus the look-ahead up to the largest scan end (a window cut at a split point inside a
 * segment needs 4 bytes of it, see the module doc).
 */
export interface PretokenizeInput {
  /** The bytes: `starts[S]` covered, then look-ahead up to the largest scan end. */
  text: Uint8Array;
  /** Segment starts; length segments + 1, `starts[0] = 0`. */
  starts: Uint32Array;
  /** The end the pattern sees, per segment (ignored for presets). */
  scanEnds: Uint32Array;
  /** {@link NONE} (pre-tokenize) or the preset of the segment's one piece. */
  presets: Uint32Array;
}

/** The pieces of a {@link PretokenizeInput}: piece j is `[ends[j - 1], ends[j])`. */
export interface PretokenizeResult {
  /** Exclusive end of each piece (ascending; the last is `starts[S]`). */
  ends: Uint32Array;
  /** The preset of each piece ({@link NONE} for pre-tokenized pieces). */
  presets: Uint32Array;
  /**
   * The pre-tokenized pieces longer than {@link MAX_GPU_PIECE_BYTES} (indices, ascending): the
   * kernel lists them as it scans, so the host finds them without looking at every piece.
   */
  long?: Uint32Array;
}

/**
 * Pre-tokenizes a window on the CPU by the kernel's algorithm: chunk starts (segment starts and
 * split points, {@link joins}), then each chunk scanned on its own with the reference scanner
 * (`nextPieceEnd`) to the next chunk start. Gives `splitPieces` of every segment.
 *
 * @throws {RangeError} when a piece crosses a chunk start (the split rule would be wrong).
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { pretokenizeCpu } from "./pretokenize.ts";
 * const text = new TextEncoder().encode("Hello world!!\n<|end|>");
 * const r = pretokenizeCpu({ text, starts: new Uint32Array([0, 14, 21]),
 *   scanEnds: new Uint32Array([14, 21]), presets: new Uint32Array([0xffffffff, 0]) });
 * deepStrictEqual([...r.ends], [5, 11, 14, 21]);
 * deepStrictEqual([...r.presets], [0xffffffff, 0xffffffff, 0xffffffff, 0]);
 * ```
 */
export function pretokenizeCpu(input: PretokenizeInput): PretokenizeResult {
  const { text, starts, scanEnds, presets } = input;
  const nSeg = presets.length, n = nSeg > 0 ? starts[nSeg] : 0;
  prepareScanner();
  const t = classTable();
  // Phase 0: chunk starts.
  const flags = new Uint8Array(n + 1);
  flags[n] = 1;
  for (let k = 0; k < nSeg; k++) {
    const s = starts[k], e = starts[k + 1];
    if (e <= s) continue;
    flags[s] = 1;
    if (presets[k] !== NONE) continue;
    let j = s, cj = cls(t, text, s);
    for (let i = s + 1; i < e; i++) {
      const b = text[i];
      if ((b & 0xc0) === 0x80) continue;
      const ci = cls(t, text, i);
      if (!joins(cj, text[j], ci, b)) flags[i] = 1;
      j = i, cj = ci;
    }
  }
  // Phase 1: each chunk on its own (in order, so no prefix sum is needed here).
  const ends = new Uint32Array(n), out = new Uint32Array(n);
  const long: number[] = [];
  let m = 0;
  for (let k = 0; k < nSeg; k++) {
    const s = starts[k], e = starts[k + 1];
    if (e <= s) continue;
    if (presets[k] !== NONE) {
      ends[m] = e;
      out[m++] = presets[k];
      continue;
    }
    const end = scanEnds[k];
    for (let at = s; at < e;) {
      let next = at + 1;
      while (flags[next] === 0 && next < e) next++;
      while (at < next) {
        const pe = nextPieceEnd(text, at, end);
        if (pe > next) {
          throw new RangeError(
            `Cannot pre-tokenize: the piece at byte ${at} crosses the split point at byte ${next}`,
          );
        }
        if (pe - at > MAX_GPU_PIECE_BYTES) long.push(m);
        ends[m] = pe;
        out[m++] = NONE;
        at = pe;
      }
    }
  }
  return { ends: ends.slice(0, m), presets: out.slice(0, m), long: Uint32Array.from(long) };
}

/**
 * The indices (ascending) of the pieces ending at `longEnds` (the kernel's list, in no order):
 * a binary search in `ends` each, O(long log pieces), no pass over every piece.
 *
 * @throws {GpuBatchError} when an end is not a piece end (the kernel's list is wrong).
 */
function longPieceIndices(ends: Uint32Array, longEnds: Uint32Array): Uint32Array {
  const out = longEnds.slice().sort();
  for (let j = 0; j < out.length; j++) {
    const e = out[j];
    let lo = 0, hi = ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid] < e) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= ends.length || ends[lo] !== e) {
      throw new GpuBatchError(`Cannot pre-tokenize on the GPU: ${e} is not a piece end`);
    }
    out[j] = lo;
  }
  return out;
}

/** Capacity of the kernel's list of long pieces for a window of `bytes` bytes (see the shader). */
export function longCapacity(bytes: number): number {
  return Math.floor(bytes / (MAX_GPU_PIECE_BYTES + 1)) + 1;
}

/**
 * Bytes of the largest storage binding {@link GpuPretokenizer.run} needs for a window of
 * `bytes` covered bytes, `textBytes` bytes in all (look-ahead included) and `segments`
 * segments.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { pretokenizeBindingBytes } from "./pretokenize.ts";
 * strictEqual(pretokenizeBindingBytes(1000, 1000, 1), 8136);
 * ```
 */
export function pretokenizeBindingBytes(
  bytes: number,
  textBytes: number,
  segments: number,
): number {
  const input = 4 * (Math.ceil(textBytes / 4) + 3 * segments + 1);
  return Math.max(input, 4 * (bytes + 1), 4 * (2 + 2 * bytes + longCapacity(bytes))) + 64;
}

/** Windows whose pieces fit this many bytes are read back in one round trip. */
const SINGLE_READ_BYTES = 1 << 20;

/**
 * Pre-tokenizes windows on one GPU device (`pretokenize.wgsl`: chunk starts, chunk scans, a
 * prefix sum of piece ends and their compaction, in one submission). The class table is
 * uploaded once (about 53 KB) and kept until {@link GpuPretokenizer.destroy}.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { GpuPretokenizer } from "./pretokenize.ts";
 * import { GpuContext } from "./context.ts";
 * import { findGpu } from "./runtime.ts";
 * const gpu = await findGpu();
 * if (gpu) {
 *   const ctx = await GpuContext.create(gpu);
 *   const text = new TextEncoder().encode("Hello world");
 *   const r = await new GpuPretokenizer(ctx).run({ text, starts: new Uint32Array([0, 11]),
 *     scanEnds: new Uint32Array([11]), presets: new Uint32Array([0xffffffff]) });
 *   deepStrictEqual([...r.ends], [5, 11]);
 *   ctx.destroy();
 * }
 * ```
 */
export class GpuPretokenizer {
  /** The context it runs on. */
  readonly ctx: GpuContext;
  /** The class tables (CPU copy). */
  readonly tables: ClassTables;
  #classBuffer: GPUBuffer | undefined;

  /** Builds (or reuses) the class tables; they are uploaded on first use. */
  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    this.tables = buildClassTables();
  }

  /** The class-table buffer (uploaded on first use). */
  classBuffer(): GPUBuffer {
    if (!this.#classBuffer) {
      const w = this.tables.words;
      const b = this.ctx.device.createBuffer({
        label: "class tables",
        size: w.byteLength,
        usage: BufferUsage.STORAGE | BufferUsage.COPY_DST,
      });
      this.ctx.write(b, w);
      this.#classBuffer = b;
    }
    return this.#classBuffer;
  }

  /**
   * The uniform buffers of the kernel's three phases (chunk starts, scan, compaction) over a
   * window of `n` bytes and `nSeg` segments laid out at the given word offsets of its input, with
   * room for `longCap` long pieces; `fillTail` makes the output slots past the piece count empty
   * pieces (the fused path sizes its encode input by bytes). The caller destroys them.
   */
  phaseParams(
    w: {
      n: number;
      nSeg: number;
      segBase: number;
      scanBase: number;
      presetBase: number;
      longCap: number;
    },
    fillTail: boolean,
  ): GPUBuffer[] {
    return [0, 1, 2].map((phase) =>
      this.ctx.params(KERNELS.pretokenize, {
        phase,
        n_bytes: w.n,
        n_seg: w.nSeg,
        seg_base: w.segBase,
        scan_base: w.scanBase,
        preset_base: w.presetBase,
        blocks_base: this.tables.blocksBase,
        cap: w.n,
        long_min: MAX_GPU_PIECE_BYTES,
        long_cap: w.longCap,
        fill_tail: fillTail ? 1 : 0,
      }, "pretokenize params")
    );
  }

  /**
   * Pre-tokenizes one window (what {@link pretokenizeCpu} gives). The caller keeps the bindings
   * under the context's limit ({@link pretokenizeBindingBytes}).
   *
   * @throws {GpuBatchError} when the kernel reports a piece crossing a chunk start.
   */
  async run(input: PretokenizeInput): Promise<PretokenizeResult> {
    const ctx = this.ctx;
    const { text, starts, scanEnds, presets } = input;
    const nSeg = presets.length, n = nSeg > 0 ? starts[nSeg] : 0;
    if (n === 0) {
      return { ends: new Uint32Array(0), presets: new Uint32Array(0), long: new Uint32Array(0) };
    }
    const textWords = Math.ceil(text.length / 4);
    const segBase = textWords, scanBase = segBase + nSeg + 1, presetBase = scanBase + nSeg;
    const words = new Uint32Array(presetBase + nSeg);
    new Uint8Array(words.buffer, 0, text.length).set(text);
    words.set(starts.subarray(0, nSeg + 1), segBase);
    words.set(scanEnds.subarray(0, nSeg), scanBase);
    words.set(presets, presetBase);
    const classes = this.classBuffer();
    const release: GPUBuffer[] = [];
    try {
      const inBuf = ctx.upload(words, "pretokenize input");
      const flags = ctx.scratch(4 * (n + 1), "chunk starts");
      const marks = ctx.scratch(4 * (n + 1), "piece end marks");
      const longCap = longCapacity(n), outWords = 2 + 2 * n + longCap;
      const out = ctx.scratch(4 * outWords, "piece ends");
      release.push(inBuf, flags, marks, out);
      ctx.write(out, new Uint32Array(2));
      const params = this.phaseParams({ n, nSeg, segBase, scanBase, presetBase, longCap }, false);
      release.push(...params);
      const bind = (k: number) => [inBuf, classes, flags, marks, out, params[k]];
      const timing = ctx.submit("pretokenize", (pass) => {
        ctx.dispatch(pass, KERNELS.pretokenize, bind(0), n + 1);
        ctx.dispatch(pass, KERNELS.pretokenize, bind(1), n);
        recordScan(ctx, pass, marks, n + 1, release);
        ctx.dispatch(pass, KERNELS.pretokenize, bind(2), n);
      });
      // items[k] at word 2 + k: piece ends, then presets (from 2 + n), then the long list.
      let count: number, errors: number, nLong: number, items: Uint32Array;
      if (4 * outWords <= SINGLE_READ_BYTES) {
        const [c, o] = await ctx.readBackMany([
          { buffer: marks, offset: 4 * n, size: 4 },
          { buffer: out, offset: 0, size: 4 * outWords },
        ], "piece ends read");
        count = new Uint32Array(c)[0];
        items = new Uint32Array(o);
        errors = items[0];
        nLong = items[1];
      } else {
        const [c, e] = await ctx.readBackMany([
          { buffer: marks, offset: 4 * n, size: 4 },
          { buffer: out, offset: 0, size: 8 },
        ], "piece count read");
        count = new Uint32Array(c)[0];
        [errors, nLong] = new Uint32Array(e);
        items = new Uint32Array(outWords);
        if (errors === 0 && count > 0 && count <= n && nLong <= longCap) {
          const [a, b, l] = await ctx.readBackMany([
            { buffer: out, offset: 8, size: 4 * count },
            { buffer: out, offset: 4 * (2 + n), size: 4 * count },
            { buffer: out, offset: 4 * (2 + 2 * n), size: 4 * Math.max(1, nLong) },
          ], "piece ends read");
          items.set(new Uint32Array(a), 2);
          items.set(new Uint32Array(b), 2 + n);
          items.set(new Uint32Array(l).subarray(0, nLong), 2 + 2 * n);
        }
      }
      await timing;
      if (errors !== 0 || count === 0 || count > n || nLong > longCap) {
        throw new GpuBatchError(
          `Cannot pre-tokenize on the GPU: ${errors} pieces crossed a split point (${count} pieces)`,
        );
      }
      const ends = items.slice(2, 2 + count);
      return {
        ends,
        presets: items.slice(2 + n, 2 + n + count),
        long: longPieceIndices(ends, items.subarray(2 + 2 * n, 2 + 2 * n + nLong)),
      };
    } finally {
      for (const b of release) ctx.pool.release(b);
    }
  }

  /** Frees the class-table buffer (the context stays). */
  destroy(): void {
    this.#classBuffer?.destroy();
    this.#classBuffer = undefined;
  }
}
