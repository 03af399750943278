/**
 * One submission per batch: the special-literal scan, pre-tokenization and piece encoding of a
 * batch that fits one chunk, recorded in one command buffer with no read-back between the
 * kernels, and read back with one `mapAsync`.
 *
 * The host cannot know the pieces before the device has cut them, so the device consumes its
 * own pre-tokenize output: the encode input is sized by bytes (a text of `n` bytes has at most
 * `n` pieces), `pretokenize.wgsl` (with `fill_tail`) writes piece ends and presets for all `n`
 * slots (the slots past the piece count are empty pieces at the text's end, which encode to no
 * tokens), a buffer copy moves them into the encode input, and `mark_offsets` gathers each
 * text's first piece from the pre-tokenizer's prefix sum at the text's start byte (the number
 * of piece ends at or before it: texts start at piece boundaries). The special scan runs in the
 * same submission. With {@link FusedJob.literals} (allowed literals, for tables whose literals
 * cannot overlap) the device cuts the allowed literals out itself: `literal_segments.wgsl` marks
 * each text's start and each allowed literal's start and end, a prefix sum numbers the segments,
 * and a scatter writes them in the pre-tokenize input's layout (a literal's preset is its special
 * index, which the encode input's side table maps to its token), so literal-dense batches (harmony
 * conversations) stay one submission. Without it the pieces assume that no literal splits a text.
 * Either way the host checks with the matches it reads back (`src/gpu/encode_plan.ts`): the texts
 * holding a literal that is forbidden (or allowed, without `literals`), or a piece that got no
 * tokens here (their end bytes are read back too), are encoded again the ordinary way, and the
 * other texts keep the fused tokens.
 *
 * Long pieces: `encode_pieces` gives the pieces over `MAX_GPU_PIECE_BYTES` no tokens. With
 * {@link FusedJob.longMax} above that (hardware adapters), the same submission then merges those
 * of up to `longMax` bytes with `merge_long.wgsl` in its listed mode: the pre-tokenizer's list of
 * long piece ends is copied into the encode input, `long_dispatch.wgsl` turns its length into
 * the grid (an indirect dispatch: one workgroup per long piece, no read-back), and each
 * workgroup finds its piece's start and index by binary search in the piece ends and writes its
 * tokens and count where `encode_pieces` would have; the prefix sum and compaction that follow
 * take them like any other piece's. Only pieces over `longMax` still send their texts back to
 * the host.
 *
 * The CPU twin ({@link encodeFusedCpu}) gives the same result from `findSpecialsCpu`,
 * `pretokenizeCpu` and `encodePiecesCpu`.
 *
 * @module
 */

import { BufferUsage, MapMode } from "./_flags.ts";
import type { GpuContext } from "./context.ts";
import { encodePiecesCpu, type GpuPieceEncoder, NONE, pieceBatchBindingBytes } from "./encoder.ts";
import { GpuBatchError } from "./errors.ts";
import { KERNELS, MAX_GPU_PIECE_BYTES, recordScan } from "./kernels.ts";
import {
  type GpuPretokenizer,
  longCapacity,
  pretokenizeBindingBytes,
  pretokenizeCpu,
  type PretokenizeInput,
} from "./pretokenize.ts";
import { findSpecialsCpu, type GpuSpecialScanner, sortPairs } from "./special_scan.ts";
import { type SpecialTables, vocabLookupParams } from "./tables.ts";
import type { Vocabulary } from "../tokenizer/vocabulary.ts";

/**
 * Most special-literal matches read back with the tokens; with more, {@link FusedResult.matches}
 * is undefined (the plan then scans again the ordinary way: such a batch's literals would make
 * the speculation fail anyway unless none is allowed or forbidden).
 */
export const FUSED_MATCHES = 64;

/** One batch for {@link GpuFusedEncoder.run} / {@link encodeFusedCpu}. */
export interface FusedJob {
  /** The whole packed text as one pre-tokenization window, each non-empty text a segment. */
  pre: PretokenizeInput;
  /** Byte start of each text; length texts + 1 (the last is the text length). */
  textStarts: Uint32Array;
  /** Whether to look for special-token literals (else `matches` is empty). */
  scanSpecials: boolean;
  /**
   * Pieces of `MAX_GPU_PIECE_BYTES` + 1 to `longMax` bytes are merged in the same submission
   * (`merge_long`). Default (and any value up to `MAX_GPU_PIECE_BYTES`): none are; every piece
   * over `MAX_GPU_PIECE_BYTES` gets no tokens.
   */
  longMax?: number;
  /**
   * Per special index, its length in bytes when the literal is allowed (cut out on the device as
   * its token), else 0; needs `scanSpecials` and literals that cannot overlap
   * (`SpecialTables.delimited`). Absent: literals are left in the text.
   */
  literals?: Uint32Array;
}

/** What one fused batch gives. */
export interface FusedResult {
  /**
   * `(position, special index)` pairs of every literal, sorted by position; undefined when
   * there were more than {@link FUSED_MATCHES}.
   */
  matches: Uint32Array | undefined;
  /**
   * End bytes of the pre-tokenized pieces that have no tokens here (over `longMax` bytes, or
   * over `MAX_GPU_PIECE_BYTES` when long pieces are not merged), in no order: the texts holding
   * them are not valid.
   */
  longEnds: Uint32Array;
  /** All tokens, text after text (a long piece has none). */
  tokens: Uint32Array;
  /** Token offset of each text; length texts + 1. */
  offsets: Uint32Array;
}

/**
 * Bytes of the largest storage binding of a fused batch of `bytes` bytes, `segments` segments
 * and `texts` texts, merging pieces of up to `longMax` bytes (the plan uses the fused path only
 * when it fits the limit).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fusedBindingBytes } from "./fused.ts";
 * assert.ok(fusedBindingBytes(1000, 10, 10) > 8 * 1000);
 * ```
 */
export function fusedBindingBytes(
  bytes: number,
  segments: number,
  texts: number,
  options: { longMax?: number; specials?: number } = {},
): number {
  const { longMax = MAX_GPU_PIECE_BYTES, specials = 0 } = options;
  const merged = longMax > MAX_GPU_PIECE_BYTES ? longCapacity(bytes) : -1;
  const cut = specials > 0 ? literalSegmentCapacity(bytes, segments) : 0;
  return Math.max(
    pretokenizeBindingBytes(bytes, bytes, Math.max(segments, cut)),
    // encode input: text, n ends, n presets, the side table, marks, text starts (and the
    // long-piece count and list).
    pieceBatchBindingBytes(bytes, bytes, specials, specials, 2 * (texts + 1) + 1 + merged),
    // literal_segments' bounds and literal marks.
    specials > 0 ? 4 * (2 * bytes + 1) : 0,
    4 * (1 + 2 * specialCapacity(bytes)) + 64,
    // merge_long's state: 4 words per byte, then what it leaves to the host.
    merged < 0 ? 0 : 4 * (4 * bytes + merged),
  );
}

/** Slots of the special scan's match list for `bytes` bytes (as `GpuSpecialScanner.run`). */
function specialCapacity(bytes: number): number {
  return Math.floor(bytes / 4) + 16;
}

/** Most segments once the literals are cut out: each match adds at most two. */
function literalSegmentCapacity(bytes: number, segments: number): number {
  return segments + 2 * specialCapacity(bytes);
}

/**
 * The CPU twin of `literal_segments.wgsl`: `pre`'s segments (one per non-empty text) with each
 * literal of `matches` (sorted pairs) that `lens` allows and that lies inside one segment cut out
 * as a segment of its own whose preset is its special index.
 */
function literalSegmentsCpu(
  pre: PretokenizeInput,
  matches: Uint32Array,
  lens: Uint32Array,
): PretokenizeInput {
  const { starts } = pre, nHost = pre.presets.length;
  const segs: number[] = [], presets: number[] = [];
  for (let k = 0, m = 0; k < nHost; k++) {
    const s = starts[k], e = starts[k + 1];
    let from = s;
    for (; m < matches.length && matches[m] < e; m += 2) {
      const pos = matches[m], len = lens[matches[m + 1]];
      if (len === 0 || pos < s || pos + len > e) continue;
      if (pos > from) segs.push(from), presets.push(NONE);
      segs.push(pos), presets.push(matches[m + 1]);
      from = pos + len;
    }
    if (e > from) segs.push(from), presets.push(NONE);
  }
  segs.push(starts[nHost]);
  const out = Uint32Array.from(segs);
  return {
    text: pre.text,
    starts: out,
    scanEnds: out.subarray(1),
    presets: Uint32Array.from(presets),
  };
}

/**
 * The CPU twin of {@link GpuFusedEncoder.run}: the same result from the kernels' CPU references.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFusedCpu } from "./fused.ts";
 * import { buildSpecialTables } from "./tables.ts";
 * import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
 * import { loadVocabulary } from "../tokenizer/vocabulary.ts";
 * const text = new TextEncoder().encode("hello world");
 * const r = encodeFusedCpu(await loadVocabulary(), buildSpecialTables(harmonySpecialTokens()), {
 *   pre: { text, starts: new Uint32Array([0, 11]), scanEnds: new Uint32Array([11]),
 *     presets: new Uint32Array([0xffffffff]) },
 *   textStarts: new Uint32Array([0, 11]),
 *   scanSpecials: true,
 * });
 * assert.deepEqual([...r.tokens], [24912, 2375]);
 * assert.deepEqual([...r.offsets], [0, 2]);
 * ```
 */
export function encodeFusedCpu(
  vocab: Vocabulary,
  specials: SpecialTables,
  job: FusedJob,
): FusedResult {
  const { pre, textStarts, scanSpecials } = job;
  const longMax = Math.max(job.longMax ?? MAX_GPU_PIECE_BYTES, MAX_GPU_PIECE_BYTES);
  const found = scanSpecials ? findSpecialsCpu(specials, pre.text) : new Uint32Array(0);
  const matches = found.length > 2 * FUSED_MATCHES ? undefined : found;
  const r = pretokenizeCpu(job.literals ? literalSegmentsCpu(pre, found, job.literals) : pre);
  // The side table: special index k is preset k; the last preset has no tokens.
  const side = sideTable(specials, job.literals !== undefined);
  const empty = side.offsets.length - 2;
  const nt = textStarts.length - 1;
  // Pieces over longMax get the preset with no tokens (what encode_pieces and merge_long give
  // them); the other long pieces are encoded (as merge_long does).
  const left: number[] = [];
  let presets = r.presets;
  for (const j of r.long ?? []) {
    if (r.ends[j] - (j > 0 ? r.ends[j - 1] : 0) <= longMax) continue;
    if (presets === r.presets) presets = presets.slice();
    presets[j] = empty;
    left.push(r.ends[j]);
  }
  const longEnds = Uint32Array.from(left);
  // Each text's first piece: the number of piece ends at or before its start.
  const marks = new Uint32Array(nt + 1);
  for (let i = 0, p = 0; i <= nt; i++) {
    while (p < r.ends.length && r.ends[p] <= textStarts[i]) p++;
    marks[i] = p;
  }
  const e = encodePiecesCpu(vocab, {
    text: pre.text,
    ends: r.ends,
    presets,
    presetOffsets: side.offsets,
    presetTokens: side.tokens,
    marks,
  });
  return { matches, longEnds, tokens: e.tokens, offsets: e.markOffsets };
}

/**
 * The encode input's side table: with `literals`, preset k (special index k) is the special's
 * token; then one preset with no tokens.
 */
function sideTable(
  specials: SpecialTables,
  literals: boolean,
): { offsets: Uint32Array; tokens: Uint32Array } {
  const count = literals ? specials.count : 0;
  const offsets = new Uint32Array(count + 2), tokens = new Uint32Array(count);
  for (let k = 0; k < count; k++) offsets[k + 1] = k + 1, tokens[k] = specials.firstId + k;
  offsets[count + 1] = count;
  return { offsets, tokens };
}

/**
 * The fused batch on the GPU: one command buffer (special scan, pre-tokenization, first pieces;
 * copies into the encode input; piece encoding, prefix sum, compaction, mark offsets; copies
 * into one mappable buffer), one submission, one read-back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GpuFusedEncoder } from "./fused.ts";
 * import { GpuContext } from "./context.ts";
 * import { GpuPieceEncoder } from "./encoder.ts";
 * import { GpuPretokenizer } from "./pretokenize.ts";
 * import { GpuSpecialScanner } from "./special_scan.ts";
 * import { buildSpecialTables } from "./tables.ts";
 * import { findGpu } from "./runtime.ts";
 * import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
 * import { loadVocabulary } from "../tokenizer/vocabulary.ts";
 * const gpu = await findGpu();
 * if (gpu) {
 *   const ctx = await GpuContext.create(gpu);
 *   const fused = new GpuFusedEncoder(new GpuPieceEncoder(ctx, await loadVocabulary()),
 *     new GpuPretokenizer(ctx), new GpuSpecialScanner(ctx, buildSpecialTables(harmonySpecialTokens())));
 *   const text = new TextEncoder().encode("hello world");
 *   const r = await fused.run({
 *     pre: { text, starts: new Uint32Array([0, 11]), scanEnds: new Uint32Array([11]),
 *       presets: new Uint32Array([0xffffffff]) },
 *     textStarts: new Uint32Array([0, 11]),
 *     scanSpecials: true,
 *   });
 *   assert.deepEqual([...r.tokens], [24912, 2375]);
 *   ctx.destroy();
 * }
 * ```
 */
export class GpuFusedEncoder {
  /** The context it runs on. */
  readonly ctx: GpuContext;
  readonly #encoder: GpuPieceEncoder;
  readonly #pre: GpuPretokenizer;
  readonly #specials: GpuSpecialScanner;

  /** The encode input's side tables (without and with the literals' tokens), built once. */
  readonly #sides: Array<{ offsets: Uint32Array; tokens: Uint32Array } | undefined> = [];

  /** A fused encoder over the three kernels' owners (their tables are shared). */
  constructor(encoder: GpuPieceEncoder, pre: GpuPretokenizer, specials: GpuSpecialScanner) {
    this.ctx = encoder.ctx;
    this.#encoder = encoder;
    this.#pre = pre;
    this.#specials = specials;
  }

  /**
   * Runs one fused batch (its bindings within the limit: {@link fusedBindingBytes}). Records and
   * submits synchronously, inside its own error scopes, so batches may overlap.
   *
   * @throws {GpuBatchError} when the GPU fails or a piece crossed a split point.
   */
  async run(job: FusedJob): Promise<FusedResult> {
    const ctx = this.ctx;
    if (ctx.lost) throw new GpuBatchError(`Cannot run the fused batch: ${ctx.lost}`);
    const release: GPUBuffer[] = [];
    try {
      const { value: rec, errors } = ctx.scoped("fused batch", () => this.#record(job, release));
      errors.catch(() => {});
      ctx.stats.readBacks++;
      await Promise.all([rec.read.mapAsync(MapMode.READ, 0, rec.readSize), errors, rec.timed]);
      const words = new Uint32Array(rec.read.getMappedRange(0, rec.readSize));
      ctx.stats.bytesDownloaded += rec.readSize;
      const nt = job.textStarts.length - 1;
      const count = words[0];
      const matches = !job.scanSpecials
        ? new Uint32Array(0)
        : count > FUSED_MATCHES
        ? undefined
        : sortPairs(words.slice(1, 1 + 2 * count));
      const h = rec.headerAt;
      const splitErrors = words[h], nLong = words[h + 1];
      const offsets = words.slice(h + 2, h + 3 + nt);
      const total = offsets[nt];
      const tokens = words.slice(rec.tokensAt, rec.tokensAt + total);
      let longEnds = words.slice(rec.longAt, rec.longAt + Math.min(nLong, rec.longCap));
      if (rec.merge) longEnds = longEnds.filter((e) => e !== NONE);
      rec.read.unmap();
      if (splitErrors !== 0 || nLong > rec.longCap || total > rec.maxTokens) {
        throw new GpuBatchError(
          `Cannot pre-tokenize on the GPU: ${splitErrors} pieces crossed a split point`,
        );
      }
      return { matches, longEnds, tokens, offsets };
    } catch (e) {
      if (e instanceof GpuBatchError) throw e;
      throw new GpuBatchError(
        `Cannot run the fused batch: ${ctx.lost ?? (e instanceof Error ? e.message : String(e))}`,
        { cause: e },
      );
    } finally {
      ctx.releaseBuffers(release);
    }
  }

  #side(literals: boolean): { offsets: Uint32Array; tokens: Uint32Array } {
    const k = literals ? 1 : 0;
    return this.#sides[k] ??= sideTable(this.#specials.tables, literals);
  }

  /** Records the whole batch and submits it (synchronous). */
  #record(job: FusedJob, release: GPUBuffer[]): FusedRecorded {
    const ctx = this.ctx, t = this.#encoder.tables, device = ctx.device;
    const { text, starts, scanEnds, presets } = job.pre;
    const nSeg = presets.length, n = starts[nSeg], nt = job.textStarts.length - 1;
    const longMax = job.longMax ?? MAX_GPU_PIECE_BYTES, merge = longMax > MAX_GPU_PIECE_BYTES;
    if (n === 0 || text.length !== n) {
      throw new RangeError("Cannot run a fused batch: it needs the whole, non-empty text");
    }
    // Pre-tokenize input (its text words are also the special scan's and the encoder's text),
    // and the allowed literals' lengths when the device cuts them out.
    const lits = job.literals, nSpecial = lits ? this.#specials.tables.count : 0;
    const textWords = Math.ceil(n / 4);
    const segBase = textWords, scanBase = segBase + nSeg + 1, presetBase = scanBase + nSeg;
    const lenBase = presetBase + nSeg;
    const words = new Uint32Array(lenBase + nSpecial);
    new Uint8Array(words.buffer, 0, n).set(text);
    words.set(starts.subarray(0, nSeg + 1), segBase);
    words.set(scanEnds.subarray(0, nSeg), scanBase);
    words.set(presets, presetBase);
    if (lits) words.set(lits.subarray(0, nSpecial), lenBase);
    const preIn = ctx.upload(words, "fused pretokenize input", BufferUsage.COPY_SRC);
    release.push(preIn);
    const flags = ctx.scratch(4 * (n + 1), "chunk starts");
    const endMarks = ctx.scratch(4 * (n + 1), "piece end marks");
    const longCap = longCapacity(n);
    const preOut = ctx.scratch(4 * (2 + 2 * n + longCap), "piece ends");
    release.push(flags, endMarks, preOut);
    ctx.write(preOut, new Uint32Array(2));
    const sCap = specialCapacity(n);
    const matches = ctx.scratch(4 * (1 + 2 * sCap), "special matches");
    release.push(matches);
    ctx.write(matches, new Uint32Array(1));
    // Encode input: text | ends (n) | presets (n) | side table (preset offsets, tokens) | marks
    // | text starts (| long-piece count | long-piece ends, when they are merged here).
    const side = this.#side(lits !== undefined);
    const endsBase = textWords, metaBase = endsBase + n, sideOffBase = metaBase + n;
    const sideTokBase = sideOffBase + side.offsets.length;
    const marksBase = sideTokBase + side.tokens.length, startsBase = marksBase + nt + 1;
    const countAt = startsBase + nt + 1, longBase = countAt + 1;
    const encIn = ctx.scratch(4 * (merge ? longBase + longCap : countAt), "fused pieces input");
    release.push(encIn);
    const tail = new Uint32Array(startsBase + nt + 1 - sideOffBase);
    tail.set(side.offsets);
    tail.set(side.tokens, sideTokBase - sideOffBase);
    tail.set(job.textStarts, startsBase - sideOffBase);
    device.queue.writeBuffer(encIn, 4 * sideOffBase, tail.buffer, 0, tail.byteLength);
    ctx.stats.bytesUploaded += tail.byteLength;
    const firstPieces = ctx.scratch(4 * (nt + 1), "text first pieces");
    const slots = ctx.scratch(4 * n, "token slots");
    const counts = ctx.scratch(4 * (n + 1), "piece counts");
    const tokens = ctx.scratch(4 * n, "tokens");
    const offsets = ctx.scratch(4 * (nt + 1), "text offsets");
    release.push(firstPieces, slots, counts, tokens, offsets);
    const sp = ctx.params(KERNELS.findSpecial, {
      n_bytes: n,
      st_mask: this.#specials.tables.stMask,
      off_base: this.#specials.tables.offBase,
      bytes_base: this.#specials.tables.bytesBase,
      max_len: this.#specials.tables.maxLength,
      capacity: sCap,
    }, "special scan params");
    // With literals cut out on the device, pretokenize reads the segments literal_segments
    // writes (cap slots, the unused ones empty) into a copy of the text.
    let cut: { preIn: GPUBuffer; bounds: GPUBuffer; params: GPUBuffer[]; cap: number } | undefined;
    if (lits) {
      const cap = literalSegmentCapacity(n, nSeg);
      const seg2 = textWords, scan2 = seg2 + cap + 1, preset2 = scan2 + cap;
      cut = {
        cap,
        preIn: ctx.scratch(4 * (preset2 + cap), "fused literal segments"),
        bounds: ctx.scratch(4 * (2 * n + 1), "literal bounds"),
        params: [0, 1, 2].map((phase) =>
          ctx.params(KERNELS.literalSegments, {
            phase,
            n_bytes: n,
            n_host: nSeg,
            host_base: segBase,
            len_base: lenBase,
            match_cap: sCap,
            seg_base: seg2,
            scan_base: scan2,
            preset_base: preset2,
            cap,
          }, "literal segments params")
        ),
      };
      release.push(cut.preIn, cut.bounds, ...cut.params);
    }
    const pp = cut
      ? this.#pre.phaseParams({
        n,
        nSeg: cut.cap,
        segBase: textWords,
        scanBase: textWords + cut.cap + 1,
        presetBase: textWords + 2 * cut.cap + 1,
        longCap,
      }, true)
      : this.#pre.phaseParams({ n, nSeg, segBase, scanBase, presetBase, longCap }, true);
    const gp = ctx.params(
      KERNELS.markOffsets,
      { n_marks: nt + 1, marks_base: startsBase },
      "first piece params",
    );
    const ep = ctx.params(KERNELS.encodePieces, {
      n_pieces: n,
      ends_base: endsBase,
      meta_base: metaBase,
      side_off_base: sideOffBase,
      side_tok_base: sideTokBase,
      ...vocabLookupParams(t),
    }, "encode params");
    const cp = ctx.params(
      KERNELS.compactTokens,
      { n_pieces: n, ends_base: endsBase },
      "compact params",
    );
    const mp = ctx.params(
      KERNELS.markOffsets,
      { n_marks: nt + 1, marks_base: marksBase },
      "mark params",
    );
    release.push(sp, ...pp, gp, ep, cp, mp);
    let long: { state: GPUBuffer; grid: GPUBuffer; dp: GPUBuffer; lp: GPUBuffer } | undefined;
    if (merge) {
      long = {
        // merge_long's parts (4 words per byte), then the ends it leaves to the host.
        state: ctx.scratch(4 * (4 * n + longCap), "long pieces state"),
        grid: ctx.indirectArgs("long pieces grid"),
        dp: ctx.params(KERNELS.longDispatch, {
          count_at: countAt,
          cap: longCap,
          max_x: ctx.limits.maxComputeWorkgroupsPerDimension,
        }, "long pieces grid params"),
        lp: ctx.params(KERNELS.mergeLong, {
          n_pieces: longCap,
          ends_base: longBase,
          n_bytes: n,
          count_at: countAt,
          index_base: endsBase,
          n_ends: n,
          max_len: longMax,
          ...vocabLookupParams(t),
        }, "long pieces params"),
      };
      release.push(long.state, long.grid, long.dp, long.lp);
    }
    // The read-back: match count and the first FUSED_MATCHES pairs | split errors, long
    // pieces | text offsets | long-piece ends | tokens (at most one per byte).
    const matchBytes = 4 * (1 + 2 * Math.min(sCap, FUSED_MATCHES));
    const headerAt = matchBytes / 4, longAt = headerAt + 2 + nt + 1, tokensAt = longAt + longCap;
    const readSize = 4 * (tokensAt + n);
    const read = ctx.pool.acquire(readSize, BufferUsage.MAP_READ | BufferUsage.COPY_DST, "read");
    release.push(read);
    const classes = this.#pre.classBuffer(), vocab = this.#encoder.vocabBuffer();
    const specialTables = this.#specials.buffer();
    const encoder = device.createCommandEncoder({ label: "fused batch" });
    if (cut) {
      encoder.copyBufferToBuffer(preIn, 0, cut.preIn, 0, 4 * textWords);
      encoder.clearBuffer(cut.bounds);
    }
    const pass1 = encoder.beginComputePass({
      label: "specials and pieces",
      ...ctx.passTimestamps("begin"),
    });
    if (job.scanSpecials) {
      ctx.dispatch(pass1, KERNELS.findSpecial, [preIn, specialTables, matches, sp], n);
    }
    if (cut) {
      const lb = (k: number) => [matches, preIn, cut.bounds, cut.preIn, cut.params[k]];
      ctx.dispatch(pass1, KERNELS.literalSegments, lb(0), nSeg + sCap);
      recordScan(ctx, pass1, cut.bounds, n + 1, release);
      ctx.dispatch(pass1, KERNELS.literalSegments, lb(1), n);
      ctx.dispatch(pass1, KERNELS.literalSegments, lb(2), cut.cap + 1);
    }
    const segIn = cut?.preIn ?? preIn;
    const bind = (k: number) => [segIn, classes, flags, endMarks, preOut, pp[k]];
    ctx.dispatch(pass1, KERNELS.pretokenize, bind(0), n + 1);
    ctx.dispatch(pass1, KERNELS.pretokenize, bind(1), n);
    recordScan(ctx, pass1, endMarks, n + 1, release);
    ctx.dispatch(pass1, KERNELS.pretokenize, bind(2), n);
    pass1.end();
    // The encode input's text, starts (written above) feed the first-piece gather.
    encoder.copyBufferToBuffer(preIn, 0, encIn, 0, 4 * textWords);
    const pass2 = encoder.beginComputePass({ label: "first pieces" });
    ctx.dispatch(pass2, KERNELS.markOffsets, [encIn, endMarks, firstPieces, gp], nt + 1);
    pass2.end();
    encoder.copyBufferToBuffer(preOut, 8, encIn, 4 * endsBase, 8 * n);
    encoder.copyBufferToBuffer(firstPieces, 0, encIn, 4 * marksBase, 4 * (nt + 1));
    if (long) {
      encoder.copyBufferToBuffer(preOut, 4, encIn, 4 * countAt, 4);
      encoder.copyBufferToBuffer(preOut, 4 * (2 + 2 * n), encIn, 4 * longBase, 4 * longCap);
    }
    const pass3 = encoder.beginComputePass({
      label: "encode pieces",
      ...ctx.passTimestamps("end"),
    });
    ctx.dispatch(pass3, KERNELS.encodePieces, [encIn, vocab, slots, counts, ep], n + 1);
    if (long) {
      ctx.dispatch(pass3, KERNELS.longDispatch, [encIn, long.grid, long.dp], 1);
      ctx.dispatchIndirect(
        pass3,
        KERNELS.mergeLong,
        [encIn, vocab, long.state, slots, counts, long.lp],
        long.grid,
      );
    }
    recordScan(ctx, pass3, counts, n + 1, release);
    ctx.dispatch(pass3, KERNELS.compactTokens, [encIn, counts, slots, tokens, cp], n);
    ctx.dispatch(pass3, KERNELS.markOffsets, [encIn, counts, offsets, mp], nt + 1);
    pass3.end();
    const timing = ctx.resolveTimestamps(encoder);
    encoder.copyBufferToBuffer(matches, 0, read, 0, matchBytes);
    encoder.copyBufferToBuffer(preOut, 0, read, 4 * headerAt, 8);
    encoder.copyBufferToBuffer(offsets, 0, read, 4 * (headerAt + 2), 4 * (nt + 1));
    // The long pieces left without tokens: merge_long's list (NONE where it merged), else all.
    if (long) encoder.copyBufferToBuffer(long.state, 16 * n, read, 4 * longAt, 4 * longCap);
    else encoder.copyBufferToBuffer(preOut, 4 * (2 + 2 * n), read, 4 * longAt, 4 * longCap);
    encoder.copyBufferToBuffer(tokens, 0, read, 4 * tokensAt, 4 * n);
    device.queue.submit([encoder.finish()]);
    ctx.stats.submits++;
    const timed = timing?.();
    return { read, readSize, headerAt, longAt, longCap, merge, tokensAt, maxTokens: n, timed };
  }
}

/** Where a recorded fused batch's results will be in its read buffer (in words). */
interface FusedRecorded {
  read: GPUBuffer;
  readSize: number;
  headerAt: number;
  longAt: number;
  longCap: number;
  /** Whether long pieces were merged (the long list then holds NONE for those merged). */
  merge: boolean;
  tokensAt: number;
  maxTokens: number;
  /** Settles when the submission's timestamps are booked (undefined without timestamps). */
  timed: Promise<void> | undefined;
}

export { NONE };
