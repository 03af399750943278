/**
 * Long pieces on the GPU: pieces over `MAX_GPU_PIECE_BYTES` (which one thread of `encode_pieces`
 * cannot hold) are merged by one workgroup each (`merge_long.wgsl`): per round, a parallel
 * reduction finds the lowest pair rank, leftmost on ties, and one thread merges it in a linked
 * list of parts — tiktoken's rule, one merge per round, so exact. {@link mergeLongCpu} is the
 * same algorithm on the CPU (its twin for tests; the reference it must equal is `encodePiece` of
 * `src/tokenizer/bpe.ts`).
 *
 * The GPU backend sends each chunk's pieces of 65 to `MAX_LONG_GPU_PIECE_BYTES` bytes here before
 * `encode_pieces` (as presets); longer ones are still encoded on the host while planning. A batch
 * on the one-submission path runs the same kernel in its listed mode inside its own command
 * buffer instead (`src/gpu/fused.ts`).
 *
 * @module
 */

import { KERNELS, LONG_WG } from "./kernels.ts";
import type { GpuPieceEncoder } from "./encoder.ts";
import type { Vocabulary } from "../tokenizer/vocabulary.ts";
import { GpuBatchError } from "./errors.ts";
import { NONE, vocabLookupParams } from "./tables.ts";

/** Long pieces of one text and their tokens. */
export interface LongPieces {
  /** Tokens of every piece, piece after piece. */
  tokens: Uint32Array;
  /** Token offset of each piece; length pieces + 1. */
  offsets: Uint32Array;
}

/** `(start, end)` byte pairs → piece count, checking that they are ascending and inside `text`. */
function checkPieces(text: Uint8Array, pieces: Uint32Array): number {
  if (pieces.length % 2 !== 0) {
    throw new TypeError("Cannot merge long pieces: pieces must be (start, end) pairs");
  }
  let prev = 0;
  for (let i = 0; i < pieces.length; i += 2) {
    const s = pieces[i], e = pieces[i + 1];
    if (s < prev || e <= s || e > text.length) {
      throw new RangeError(
        `Cannot merge long pieces: piece ${i / 2} [${s}, ${e}) is empty, overlaps or is outside ` +
          `the ${text.length}-byte text`,
      );
    }
    prev = e;
  }
  return pieces.length / 2;
}

/**
 * The CPU twin of `merge_long.wgsl`: per piece, the whole-token lookup, then rounds of "lowest
 * pair rank, leftmost on ties" over a linked list of parts (O(n) per round, as the kernel's
 * reduction over all parts). For tests; the tokenizer's own `encodePiece` is faster.
 *
 * @throws {RangeError} on pieces that are empty, overlap or leave the text.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { mergeLongCpu } from "./long_pieces.ts";
 * import { loadVocabulary } from "../tokenizer/vocabulary.ts";
 * const text = new TextEncoder().encode(" tokenization");
 * const r = mergeLongCpu(await loadVocabulary(), text, new Uint32Array([0, text.length]));
 * deepStrictEqual(r.tokens, new Uint32Array([6602, 2860]));
 * ```
 */
export function mergeLongCpu(vocab: Vocabulary, text: Uint8Array, pieces: Uint32Array): LongPieces {
  const np = checkPieces(text, pieces);
  const offsets = new Uint32Array(np + 1);
  const out: number[] = [];
  for (let i = 0; i < np; i++) {
    offsets[i] = out.length;
    const s = pieces[2 * i], n = pieces[2 * i + 1] - s;
    const whole = vocab.rankOf(text, s, s + n);
    if (whole >= 0) {
      out.push(whole);
      continue;
    }
    // Part k covers bytes [k, nxt[k]) of the piece; its token's bytes are those bytes.
    const tok = new Uint32Array(n), pr = new Uint32Array(n).fill(NONE);
    const nxt = new Uint32Array(n), prv = new Uint32Array(n);
    const rank = (a: number, b: number) => {
      const r = vocab.rankOf(text, s + a, s + b);
      return r >= 0 ? r : NONE;
    };
    for (let k = 0; k < n; k++) {
      tok[k] = vocab.rankOf(text, s + k, s + k + 1);
      nxt[k] = k + 1;
      prv[k] = k === 0 ? NONE : k - 1;
    }
    for (let k = 0; k + 1 < n; k++) pr[k] = rank(k, k + 2);
    for (;;) {
      let best = NONE, at = NONE;
      for (let k = 0; k < n; k++) if (pr[k] < best) best = pr[k], at = k;
      if (best === NONE) break;
      const q = nxt[at], q2 = q < n ? nxt[q] : n;
      tok[at] = best;
      nxt[at] = q2;
      pr[q] = NONE;
      pr[at] = q2 < n ? rank(at, nxt[q2]) : NONE;
      if (q2 < n) prv[q2] = at;
      const b = prv[at];
      if (b !== NONE) pr[b] = rank(b, q2);
    }
    for (let k = 0; k < n; k = nxt[k]) out.push(tok[k]);
  }
  offsets[np] = out.length;
  return { tokens: Uint32Array.from(out), offsets };
}

/**
 * Merges long pieces on the device of a {@link GpuPieceEncoder} (sharing its uploaded vocabulary
 * tables), one workgroup per piece, in one submission.
 *
 * @example
 * ```ts ignore
 * const long = new GpuLongPieceEncoder(encoder);
 * const r = await long.run(text, new Uint32Array([0, text.length]));
 * ```
 */
export class GpuLongPieceEncoder {
  readonly #encoder: GpuPieceEncoder;

  /** A long-piece encoder on `encoder`'s context and tables. */
  constructor(encoder: GpuPieceEncoder) {
    this.#encoder = encoder;
  }

  /**
   * Encodes the pieces `text[pieces[2i], pieces[2i+1])`: the same tokens as `encodePiece`.
   *
   * @throws {RangeError} on pieces that are empty, overlap or leave the text.
   * @throws {GpuBatchError} when the GPU fails.
   */
  async run(text: Uint8Array, pieces: Uint32Array): Promise<LongPieces> {
    const np = checkPieces(text, pieces);
    if (np === 0) return { tokens: new Uint32Array(0), offsets: new Uint32Array(1) };
    const ctx = this.#encoder.ctx, t = this.#encoder.tables;
    const words = Math.ceil(text.length / 4);
    const input = new Uint32Array(words + pieces.length);
    new Uint8Array(input.buffer, 0, text.length).set(text);
    input.set(pieces, words);
    const vocab = this.#encoder.vocabBuffer();
    const release: GPUBuffer[] = [];
    try {
      const { value: read, errors } = ctx.scoped("merge_long", () => {
        const inBuf = ctx.upload(input, "long pieces input");
        release.push(inBuf);
        const state = ctx.scratch(16 * text.length, "long pieces state");
        release.push(state);
        const out = ctx.scratch(4 * text.length, "long pieces tokens");
        release.push(out);
        const counts = ctx.scratch(4 * np, "long pieces counts");
        release.push(counts);
        const params = ctx.params(KERNELS.mergeLong, {
          n_pieces: np,
          ends_base: words,
          n_bytes: text.length,
          // Pairs mode (see the shader; listed mode is the fused path's).
          count_at: 0,
          index_base: NONE,
          n_ends: 0,
          max_len: NONE,
          ...vocabLookupParams(t),
        }, "long pieces params");
        release.push(params);
        ctx.submit("merge long pieces", (pass) => {
          ctx.dispatch(
            pass,
            KERNELS.mergeLong,
            [inBuf, vocab, state, out, counts, params],
            np * LONG_WG,
          );
        });
        return ctx.readBackMany([
          { buffer: counts, offset: 0, size: 4 * np },
          { buffer: out, offset: 0, size: 4 * text.length },
        ], "long pieces read");
      });
      const [countsData, outData] = await Promise.all([read, errors]).then(([r]) => r);
      const counts = new Uint32Array(countsData), all = new Uint32Array(outData);
      const offsets = new Uint32Array(np + 1);
      for (let i = 0; i < np; i++) offsets[i + 1] = offsets[i] + counts[i];
      const tokens = new Uint32Array(offsets[np]);
      for (let i = 0; i < np; i++) {
        const s = pieces[2 * i];
        if (counts[i] > pieces[2 * i + 1] - s) {
          throw new GpuBatchError(
            `Cannot run merge_long: piece ${i} came back with too many tokens`,
          );
        }
        tokens.set(all.subarray(s, s + counts[i]), offsets[i]);
      }
      return { tokens, offsets };
    } catch (e) {
      if (e instanceof GpuBatchError || e instanceof RangeError) throw e;
      throw new GpuBatchError(
        `Cannot run merge_long: ${ctx.lost ?? (e instanceof Error ? e.message : String(e))}`,
        { cause: e },
      );
    } finally {
      for (const b of release) ctx.pool.release(b);
    }
  }
}
