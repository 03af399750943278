/**
 * Scanning token streams (for bulk parsing of completions): every token's byte offset (prefix sum
 * over byte lengths), all tokens' bytes concatenated (special tokens as their literal text), and
 * the positions of special tokens and invalid ids — on the GPU (`token_lengths`, the prefix sum,
 * `gather_bytes`) and on the CPU (same output; the reference and fallback).
 *
 * @module
 */

import type { Vocabulary } from "../tokenizer/vocabulary.ts";
import type { GpuContext } from "./context.ts";
import { KERNELS, recordScan } from "./kernels.ts";
import type { SpecialTables, VocabTables } from "./tables.ts";

/** What a token-stream scan yields, for tokens `t[0..n)`. */
export interface TokenScan {
  /** `byteOffsets[i]` is where token i's bytes start in `bytes`; `byteOffsets[n]` = total. */
  byteOffsets: Uint32Array;
  /** Bytes of all tokens (invalid ids contribute none). */
  bytes: Uint8Array;
  /** Ascending positions of tokens with id >= the first special id (specials, invalid ids). */
  specialPositions: Uint32Array;
}

/**
 * The CPU version of {@link GpuTokenScanner.run}.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { scanTokensCpu } from "./token_scan.ts";
 * import { buildSpecialTables } from "./tables.ts";
 * import { loadVocabulary } from "../tokenizer/vocabulary.ts";
 * import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
 * const s = scanTokensCpu(await loadVocabulary(), buildSpecialTables(harmonySpecialTokens()), new Uint32Array([200006, 1428]));
 * deepStrictEqual(s.specialPositions, new Uint32Array([0]));
 * ```
 */
export function scanTokensCpu(
  vocab: Vocabulary,
  specials: SpecialTables,
  tokens: Uint32Array,
): TokenScan {
  const n = tokens.length, size = vocab.size, off = vocab.offsets;
  const byteOffsets = new Uint32Array(n + 1);
  const positions: number[] = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    byteOffsets[i] = total;
    const t = tokens[i];
    if (t < size) total += off[t + 1] - off[t];
    else if (t >= specials.firstId && t - specials.firstId < specials.count) {
      total += specials.literalBytes[t - specials.firstId].length;
    }
    if (t >= specials.firstId || t >= size) positions.push(i);
  }
  byteOffsets[n] = total;
  const bytes = new Uint8Array(total);
  for (let i = 0; i < n; i++) {
    const t = tokens[i];
    if (t < size) bytes.set(vocab.bytes.subarray(off[t], off[t + 1]), byteOffsets[i]);
    else if (t >= specials.firstId && t - specials.firstId < specials.count) {
      bytes.set(specials.literalBytes[t - specials.firstId], byteOffsets[i]);
    }
  }
  return { byteOffsets, bytes, specialPositions: Uint32Array.from(positions) };
}

/**
 * Scans token streams on the GPU, reading the vocabulary and special tables uploaded by the
 * encoder and the special scanner.
 *
 * @example
 * ```ts
 * import { GpuTokenScanner } from "./token_scan.ts";
 * declare const scanner: GpuTokenScanner;
 * const scan = await scanner.run(new Uint32Array([200006, 1428, 200008]));
 * ```
 */
export class GpuTokenScanner {
  /** The context it runs on. */
  readonly ctx: GpuContext;
  #vt: VocabTables;
  #st: SpecialTables;
  #vocab: () => GPUBuffer;
  #specials: () => GPUBuffer;

  /** Creates a scanner over tables and their (lazily uploaded) buffers. */
  constructor(
    ctx: GpuContext,
    vocab: { tables: VocabTables; vocabBuffer(): GPUBuffer },
    specials: { tables: SpecialTables; buffer(): GPUBuffer },
  ) {
    this.ctx = ctx;
    this.#vt = vocab.tables;
    this.#st = specials.tables;
    this.#vocab = () => vocab.vocabBuffer();
    this.#specials = () => specials.buffer();
  }

  /** Scans `tokens` (their byte total and `4 * (n + 1)` must fit a storage binding). */
  async run(tokens: Uint32Array): Promise<TokenScan> {
    const ctx = this.ctx, vt = this.#vt, st = this.#st, n = tokens.length;
    const release: GPUBuffer[] = [];
    try {
      const vocab = this.#vocab(), specials = this.#specials();
      const input = ctx.upload(tokens, "token streams");
      const lens = ctx.scratch(4 * (n + 1), "token byte offsets");
      const marks = ctx.scratch(4 * (n + 1), "special positions");
      const p1 = ctx.params(KERNELS.tokenLengths, {
        n,
        vocab_size: vt.size,
        off_base: vt.offBase,
        first_special: st.firstId,
        n_spec: st.count,
        spec_off_base: st.offBase,
        capacity: n,
      }, "token lengths params");
      release.push(input, lens, marks, p1);
      ctx.write(marks, new Uint32Array(1));
      const t1 = ctx.submit("token lengths", (pass) => {
        ctx.dispatch(pass, KERNELS.tokenLengths, [input, vocab, specials, lens, marks, p1], n + 1);
        recordScan(ctx, pass, lens, n + 1, release);
      });
      // One round trip: the offsets and the whole position list (count first).
      const [offData, markData] = await ctx.readBackMany([
        { buffer: lens, offset: 0, size: 4 * (n + 1) },
        { buffer: marks, offset: 0, size: 4 * (n + 1) },
      ], "token scan read");
      const byteOffsets = new Uint32Array(offData);
      const marksRead = new Uint32Array(markData);
      const count = Math.min(marksRead[0], n);
      const specialPositions = marksRead.slice(1, 1 + count).sort();
      await t1;
      const total = byteOffsets[n];
      let bytes = new Uint8Array(0);
      if (total > 0) {
        const out = ctx.scratch(total, "token bytes");
        const p2 = ctx.params(KERNELS.gatherBytes, {
          n,
          vocab_size: vt.size,
          off_base: vt.offBase,
          bytes_base: vt.bytesBase,
          first_special: st.firstId,
          spec_off_base: st.offBase,
          spec_bytes_base: st.bytesBase,
        }, "gather params");
        release.push(out, p2);
        const t2 = ctx.submit("gather bytes", (pass) => {
          ctx.dispatch(
            pass,
            KERNELS.gatherBytes,
            [input, vocab, specials, lens, out, p2],
            Math.ceil(total / 4),
          );
        });
        bytes = new Uint8Array(await ctx.readBack(out, 0, total, "bytes read"));
        await t2;
      }
      return { byteOffsets, bytes, specialPositions };
    } finally {
      for (const b of release) ctx.pool.release(b);
    }
  }
}
