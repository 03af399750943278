/**
 * The host side of encoding a batch of texts on the GPU, as pure planning code with no device
 * code (as onnxruntime-web keeps program planning apart from its `ProgramManager`): what to
 * upload, how to split it under the binding limits and how to stitch the results. The kernels
 * are reached only through a {@link PlanExecutor}, so the same plan runs on every machine with
 * the CPU executor ({@link cpuExecutor}: `findSpecialsCpu`, `pretokenizeCpu` and
 * `encodePiecesCpu`), and tests
 * check it token for token against the tokenizer with tiny limits that force chunking.
 *
 * Steps (see {@link encodeWithPlan}):
 * 1. {@link packTexts}: the texts as one UTF-8 buffer with each text's byte start.
 * 2. Special-token literals, found in windows within the limit ({@link planSpecialWindows},
 *    overlapping by the longest literal) and resolved per text by tiktoken's rule
 *    (`src/tokenizer/special_rule.ts`): a text with a disallowed literal fails with the rule's
 *    error (UTF-16 offset, counted from the UTF-8 bytes) and becomes one empty preset piece.
 * 3. {@link planSegments}: each text, or its parts between allowed literals, is a segment the
 *    pattern sees; literals and failed texts are preset pieces. No per-byte work on the host.
 * 4. {@link planPretokenizeWindows}: the segments in windows within the limit (a segment too big
 *    is cut at a split point, see `src/gpu/pretokenize.ts`); the executor pre-tokenizes each
 *    window (on the GPU: `pretokenize.wgsl`, parallel over split points). {@link finishPieces}:
 *    pieces longer than the per-thread limit are encoded on the CPU right away and become
 *    presets.
 * 5. {@link planChunks}: consecutive pieces in chunks whose bindings fit the limit
 *    (`pieceBatchBindingBytes`); {@link chunkBatch} cuts one chunk's {@link PieceBatch}.
 * 6. The executor encodes each chunk; the chunks' tokens and the per-text mark offsets are
 *    stitched into one packed array (tokens, offsets, errors).
 *
 * @module
 */

import { encodePiece } from "../tokenizer/bpe.ts";
import { disallowedSpecialError, specialRule } from "../tokenizer/special_rule.ts";
import { TokenBuffer } from "../tokenizer/token_buffer.ts";
import type { EncodeOptions } from "../tokenizer/types.ts";
import type { Vocabulary } from "../tokenizer/vocabulary.ts";
import {
  encodePiecesCpu,
  type PieceBatch,
  pieceBatchBindingBytes,
  type PieceBatchResult,
} from "./encoder.ts";
import {
  encodeFusedCpu,
  FUSED_MATCHES,
  fusedBindingBytes,
  type FusedJob,
  type FusedResult,
} from "./fused.ts";
import { MAX_GPU_PIECE_BYTES } from "./kernels.ts";
import {
  isSplitPoint,
  pretokenizeBindingBytes,
  pretokenizeCpu,
  type PretokenizeInput,
  type PretokenizeResult,
} from "./pretokenize.ts";
import { findSpecialsCpu } from "./special_scan.ts";
import { NONE, type SpecialTables } from "./tables.ts";

/** The texts of a batch as one UTF-8 buffer. */
export interface PackedTexts {
  /** All texts' bytes, text after text. */
  text: Uint8Array;
  /** Byte start of each text; length texts + 1 (the last is the total). */
  starts: Uint32Array;
}

/**
 * Packs texts as UTF-8 (lone surrogates become U+FFFD, as `TextEncoder` does), into `into` when
 * it holds the worst case (3 bytes per UTF-16 unit), else into a new buffer; the result's `text`
 * is a view of that buffer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packTexts } from "./encode_plan.ts";
 * const p = packTexts(["hé", "", "x"]);
 * assert.deepEqual([...p.starts], [0, 3, 3, 4]);
 * const into = new Uint8Array(64);
 * assert.equal(packTexts(["hé"], into).text.buffer, into.buffer);
 * ```
 */
export function packTexts(texts: readonly string[], into?: Uint8Array): PackedTexts {
  const nt = texts.length;
  let cap = 0;
  for (let i = 0; i < nt; i++) cap += texts[i].length;
  cap *= 3;
  const packed = into !== undefined && into.length >= cap
    ? into
    : new Uint8Array(Math.max(16, cap));
  const starts = new Uint32Array(nt + 1);
  let at = 0;
  for (let i = 0; i < nt; i++) {
    starts[i] = at;
    at += UTF8.encodeInto(texts[i], packed.subarray(at)).written;
  }
  starts[nt] = at;
  return { text: packed.subarray(0, at), starts };
}

const UTF8 = new TextEncoder();
/** No special-literal matches. */
const NO_MATCHES = new Uint32Array(0);

/**
 * Packing buffers {@link encodeWithPlan} reuses: a batch takes one (or a new one when none is
 * big enough) and gives it back when it has finished, so batches in flight never share one and
 * a steady stream of batches allocates (and zeroes) no packing memory. Bounded: at most
 * {@link SPARE_PACK_BUFFERS} buffers of at most {@link MAX_SPARE_PACK_BYTES} bytes are kept.
 */
const sparePackBuffers: Uint8Array[] = [];
/** How many packing buffers are kept for reuse (the engine keeps up to 3 chunks in flight). */
const SPARE_PACK_BUFFERS = 3;
/**
 * The largest packing buffer kept for reuse (3 bytes per UTF-16 unit: batches of up to about
 * 11 M characters), so at most 96 MiB stay held.
 */
const MAX_SPARE_PACK_BYTES = 32 << 20;

/**
 * The largest spare packing buffer (of equal ones, the last given back: the spares are kept in
 * the order they came back), or undefined.
 */
function takePackBuffer(): Uint8Array | undefined {
  let best = -1;
  for (let i = 0; i < sparePackBuffers.length; i++) {
    if (best < 0 || sparePackBuffers[i].length >= sparePackBuffers[best].length) best = i;
  }
  return best < 0 ? undefined : sparePackBuffers.splice(best, 1)[0];
}

/** Gives a packing buffer back for reuse (dropped when too big or enough are kept). */
function givePackBuffer(b: Uint8Array): void {
  if (b.length > MAX_SPARE_PACK_BYTES) return;
  if (sparePackBuffers.length < SPARE_PACK_BUFFERS) sparePackBuffers.push(b);
  else {
    // Keep the bigger ones: replace the smallest if this one is bigger.
    let small = 0;
    for (let i = 1; i < sparePackBuffers.length; i++) {
      if (sparePackBuffers[i].length < sparePackBuffers[small].length) small = i;
    }
    if (sparePackBuffers[small].length < b.length) {
      sparePackBuffers.splice(small, 1);
      sparePackBuffers.push(b);
    }
  }
}

/** A window of the special-literal scan: matches starting in `[start, end)` of `text[start, viewEnd)`. */
export interface SpecialWindow {
  /** First byte of the window. */
  start: number;
  /** Matches starting at or after this byte belong to the next window. */
  end: number;
  /** End of the bytes scanned (overlaps the next window by the longest literal minus one). */
  viewEnd: number;
}

/**
 * Windows of the special-literal scan whose text (4 bytes a word in the kernel's binding) fits
 * `limit` bytes; each overlaps the next by `maxLiteral - 1` bytes so that a literal crossing a
 * window's end is found whole by the window it starts in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planSpecialWindows } from "./encode_plan.ts";
 * assert.deepEqual(planSpecialWindows(100, 10, 1 << 20), [{ start: 0, end: 100, viewEnd: 100 }]);
 * assert.equal(planSpecialWindows(100_000, 19, 16 * 1024).length, 25);
 * ```
 */
export function planSpecialWindows(
  length: number,
  maxLiteral: number,
  limit: number,
): SpecialWindow[] {
  const step = Math.max(maxLiteral * 2, Math.floor((limit - 64) / 4) - maxLiteral);
  const out: SpecialWindow[] = [];
  for (let a = 0; a < length; a += step) {
    const b = Math.min(length, a + step);
    out.push({ start: a, end: b, viewEnd: Math.min(length, b + maxLiteral - 1) });
  }
  return out;
}

/**
 * The segments of a batch: the texts the pattern sees (each text, or its parts between allowed
 * special literals) and the pieces fixed before pre-tokenization (allowed literals; a failed
 * text as one piece with no tokens). Segment k covers `[starts[k], starts[k + 1])`; together they
 * cover the packed text contiguously (empty texts have none).
 */
export interface SegmentPlan {
  /** Segment starts; length segments + 1 (the last is the packed length). */
  starts: Uint32Array;
  /** {@link NONE} (pre-tokenize) or the preset of the segment's one piece. */
  presets: Uint32Array;
  /** Offsets into `presetTokens`; one more than the number of presets. */
  presetOffsets: Uint32Array;
  /** Tokens of the presets. */
  presetTokens: Uint32Array;
  /** Index → error for texts that failed (disallowed special token). */
  errors: Map<number, Error>;
}

/** The pieces of a batch: piece p is `text[ends[p-1], ends[p])` (`ends[-1]` = 0). */
export interface PiecePlan {
  /** Exclusive end byte of each piece (ascending, contiguous over the whole text). */
  ends: Uint32Array;
  /** Preset index of each piece, or {@link NONE} (the GPU encodes it). */
  presets: Uint32Array;
  /** Offsets into `presetTokens`; one more than the number of presets. */
  presetOffsets: Uint32Array;
  /** Tokens of the presets (allowed special tokens, long pieces encoded on the CPU). */
  presetTokens: Uint32Array;
  /** First piece of each text; length texts + 1 (the last is the piece count). */
  textPieces: Uint32Array;
  /** Index → error for texts that failed (disallowed special token). */
  errors: Map<number, Error>;
  /**
   * The pieces left to the GPU's long-piece merge: no preset and longer than
   * {@link MAX_GPU_PIECE_BYTES} (at most `maxPieceBytes`), ascending.
   */
  long: Uint32Array;
  /** Pieces encoded on the CPU because they exceed `maxPieceBytes`. */
  cpuPieces: number;
  /** Milliseconds spent encoding them. */
  cpuPieceMs: number;
}

/** UTF-16 length of the UTF-8 bytes `b[s, e)` (encoded from a JS string by `TextEncoder`). */
function utf16Length(b: Uint8Array, s: number, e: number): number {
  let n = 0;
  for (let i = s; i < e; i++) {
    const c = b[i];
    if ((c & 0xc0) !== 0x80) n += c >= 0xf0 ? 2 : 1;
  }
  return n;
}

/** What `options` does with each special literal, by index: allowed, forbidden (1) or not (0). */
interface LiteralRules {
  allowed: Uint8Array;
  forbidden: Uint8Array;
  /** Whether some literal is allowed or forbidden (else literals are plain text). */
  any: boolean;
  /** Whether some literal is forbidden. */
  anyForbidden: boolean;
  /**
   * Per literal, its length in bytes when allowed, else 0, when the device may cut the allowed
   * ones out in the fused path (some is allowed and no two can overlap: `delimited`); else
   * undefined.
   */
  cut: Uint32Array | undefined;
}

/** {@link LiteralRules} of `options` for the special tables (the one home of that per-literal rule). */
function literalRules(specials: SpecialTables, options: EncodeOptions | undefined): LiteralRules {
  const rule = specialRule(options);
  const allowed = new Uint8Array(specials.count), forbidden = new Uint8Array(specials.count);
  const lens = new Uint32Array(specials.count);
  let anyAllowed = false, anyForbidden = false;
  for (let k = 0; k < specials.count; k++) {
    allowed[k] = rule.allows(specials.literals[k]) ? 1 : 0;
    forbidden[k] = rule.forbids(specials.literals[k]) ? 1 : 0;
    if (allowed[k]) lens[k] = specials.literalBytes[k].length, anyAllowed = true;
    anyForbidden ||= forbidden[k] === 1;
  }
  const cut = anyAllowed && specials.delimited ? lens : undefined;
  return { allowed, forbidden, any: anyAllowed || anyForbidden, anyForbidden, cut };
}

/**
 * Cuts packed texts into segments: allowed special literals (from `matches`, `(byte, special
 * index)` pairs sorted by byte, every occurrence in the packed text) become preset pieces; a
 * text holding a disallowed literal gets the rule's error and one empty preset piece over its
 * bytes. O(texts + matches): no per-byte work.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packTexts, planSegments } from "./encode_plan.ts";
 * import { buildSpecialTables } from "./tables.ts";
 * import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
 * const seg = planSegments(packTexts(["Hi<|end|>", "x"]), new Uint32Array([2, 9]),
 *   buildSpecialTables(harmonySpecialTokens()), { allowedSpecial: "all" });
 * assert.deepEqual([...seg.starts], [0, 2, 9, 10]);
 * assert.deepEqual([...seg.presetTokens], [200007]);
 * ```
 */
export function planSegments(
  packed: PackedTexts,
  matches: Uint32Array,
  specials: SpecialTables,
  options: EncodeOptions | undefined,
): SegmentPlan {
  const { text, starts } = packed;
  const nt = starts.length - 1;
  const { allowed, forbidden: disallowed } = literalRules(specials, options);
  const errors = new Map<number, Error>();
  // Sized for the most there can be (each literal a preset and the text after it a segment),
  // so the loop below only stores.
  const nm = matches.length >> 1;
  const segStarts = new Uint32Array(nt + 2 * nm + 1), segPresets = new Uint32Array(nt + 2 * nm);
  const presetOffsets = new Uint32Array(nt + nm + 1), presetTokens = new Uint32Array(nm);
  let ns = 0, np = 1, nTok = 0; // presetOffsets[0] = 0
  let mj = 0;
  for (let i = 0; i < nt; i++) {
    const s = starts[i], e = starts[i + 1];
    while (mj < matches.length && matches[mj] < s) mj += 2;
    const m0 = mj;
    while (mj < matches.length && matches[mj] < e) mj += 2;
    // The first disallowed literal in the text fails it (tiktoken checks before encoding).
    let failed = false;
    for (let k = m0; k < mj && !failed; k += 2) {
      const idx = matches[k + 1];
      if (matches[k] + specials.literalBytes[idx].length > e || !disallowed[idx]) continue;
      errors.set(
        i,
        disallowedSpecialError(specials.literals[idx], utf16Length(text, s, matches[k])),
      );
      failed = true;
    }
    if (failed) {
      // Pieces are contiguous: the failed text's bytes become one piece with no tokens.
      if (e > s) {
        segStarts[ns] = s, segPresets[ns++] = np - 1;
        presetOffsets[np++] = nTok;
      }
      continue;
    }
    let from = s;
    for (let k = m0; k < mj; k += 2) {
      const pos = matches[k], idx = matches[k + 1], len = specials.literalBytes[idx].length;
      if (!allowed[idx] || pos < from || pos + len > e) continue;
      if (pos > from) segStarts[ns] = from, segPresets[ns++] = NONE;
      segStarts[ns] = pos, segPresets[ns++] = np - 1;
      presetTokens[nTok++] = specials.firstId + idx;
      presetOffsets[np++] = nTok;
      from = pos + len;
    }
    if (e > from) segStarts[ns] = from, segPresets[ns++] = NONE;
  }
  segStarts[ns] = text.length;
  return {
    starts: segStarts.subarray(0, ns + 1),
    presets: segPresets.subarray(0, ns),
    presetOffsets: presetOffsets.subarray(0, np),
    presetTokens: presetTokens.subarray(0, nTok),
    errors,
  };
}

/**
 * A window of the pre-tokenization: bytes `[b0, b1)` of the packed text over segments
 * `[s0, s1)` (the first may start before `b0` and the last end after `b1` when a segment is cut
 * at a split point), with look-ahead up to `view`.
 */
export interface PretokenizeWindow {
  /** First byte covered. */
  b0: number;
  /** End of the bytes covered. */
  b1: number;
  /** End of the bytes the scan may read (`b1`, or up to 4 more past a cut). */
  view: number;
  /** First segment. */
  s0: number;
  /** Segment end (exclusive). */
  s1: number;
  /**
   * Whether the host pre-tokenizes it: a segment with no split point within one binding's
   * worth of bytes (e.g. a 100 KB run of letters under a tiny limit), or a preset piece longer
   * than that.
   */
  cpu: boolean;
}

/** Budgets already worked out, by binding limit ({@link windowBudget}). */
const budgets = new Map<number, number>();

/**
 * The most bytes one pre-tokenization window may cover under a binding limit of `limit` bytes
 * (its binding grows by 8 bytes a byte, and a word per MAX_GPU_PIECE_BYTES + 1 bytes for the
 * list of long pieces), at least 1; worked out once per limit.
 */
function windowBudget(limit: number): number {
  let budget = budgets.get(limit);
  if (budget === undefined) {
    budget = Math.floor((limit - 64 - 16) / (8 + 4 / (MAX_GPU_PIECE_BYTES + 1)));
    while (budget > 1 && pretokenizeBindingBytes(budget, budget + 4, 1) > limit) budget--;
    budget = Math.max(1, budget);
    budgets.set(limit, budget);
  }
  return budget;
}

/**
 * Splits the segments into windows whose bindings fit `limit` bytes
 * (`pretokenizeBindingBytes`), cutting a segment that does not fit at a split point (found by
 * `isSplitPoint`, searching back from the budget), with 4 bytes of look-ahead past the cut.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planPretokenizeWindows } from "./encode_plan.ts";
 * const text = new TextEncoder().encode("aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii");
 * const seg = { starts: new Uint32Array([0, text.length]), presets: new Uint32Array([0xffffffff]) };
 * assert.equal(planPretokenizeWindows(text, seg, 1 << 20).length, 1);
 * const w = planPretokenizeWindows(text, seg, 256);
 * assert.deepEqual(w.map((x) => x.b0), [0, 19, 39]);
 * ```
 */
export function planPretokenizeWindows(
  text: Uint8Array,
  seg: Pick<SegmentPlan, "starts" | "presets">,
  limit: number,
): PretokenizeWindow[] {
  const { starts, presets } = seg;
  const nSeg = presets.length;
  const out: PretokenizeWindow[] = [];
  const budget = windowBudget(limit);
  // All in one window (the common case; the loop below would find the same, one check per
  // segment): what fits is monotone in bytes and segments.
  const total = starts[nSeg];
  if (nSeg > 0 && total <= budget && pretokenizeBindingBytes(total, total, nSeg) <= limit) {
    return [{ b0: 0, b1: total, view: total, s0: 0, s1: nSeg, cpu: false }];
  }
  let k = 0, b0 = 0;
  while (k < nSeg) {
    let k1 = k;
    while (k1 < nSeg) {
      const b1 = starts[k1 + 1];
      if (b1 - b0 > budget || pretokenizeBindingBytes(b1 - b0, b1 - b0, k1 + 1 - k) > limit) break;
      k1++;
    }
    if (k1 > k) {
      out.push({ b0, b1: starts[k1], view: starts[k1], s0: k, s1: k1, cpu: false });
      k = k1, b0 = starts[k1];
      continue;
    }
    // Segment k does not fit from b0: cut it at a split point, else the host scans it.
    const segStart = starts[k], segEnd = starts[k + 1];
    let c = 0;
    if (presets[k] === NONE) {
      for (let i = Math.min(segEnd - 1, b0 + budget); i > b0; i--) {
        if (isSplitPoint(text, i, segStart)) {
          c = i;
          break;
        }
      }
    }
    let cpu = false;
    if (c === 0) {
      cpu = true;
      c = segEnd;
      if (presets[k] === NONE) {
        for (let i = b0 + budget + 1; i < segEnd; i++) {
          if (isSplitPoint(text, i, segStart)) {
            c = i;
            break;
          }
        }
      }
    }
    out.push({ b0, b1: c, view: Math.min(segEnd, c + 4), s0: k, s1: k + 1, cpu });
    b0 = c;
    if (c === segEnd) k++;
  }
  return out;
}

/**
 * The {@link PretokenizeInput} of window `w`, in the window's own byte offsets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planPretokenizeWindows, windowInput } from "./encode_plan.ts";
 * const text = new TextEncoder().encode("ab cd<|end|>");
 * const seg = { starts: new Uint32Array([0, 5, 12]), presets: new Uint32Array([0xffffffff, 0]) };
 * const [w] = planPretokenizeWindows(text, seg, 1 << 20);
 * assert.deepEqual([...windowInput(text, seg, w).starts], [0, 5, 12]);
 * ```
 */
export function windowInput(
  text: Uint8Array,
  seg: Pick<SegmentPlan, "starts" | "presets">,
  w: PretokenizeWindow,
): PretokenizeInput {
  const n = w.s1 - w.s0;
  const starts = new Uint32Array(n + 1), scanEnds = new Uint32Array(n);
  for (let j = 0; j < n; j++) {
    const k = w.s0 + j;
    starts[j] = Math.max(w.b0, seg.starts[k]) - w.b0;
    scanEnds[j] = Math.min(w.view, seg.starts[k + 1]) - w.b0;
  }
  starts[n] = w.b1 - w.b0;
  return {
    text: text.subarray(w.b0, w.view),
    starts,
    scanEnds,
    presets: seg.presets.subarray(w.s0, w.s1),
  };
}

/**
 * The piece plan from the segments and the pre-tokenized windows' pieces (in window order, in
 * window offsets): pieces longer than `maxPieceBytes` are encoded here, on the CPU, and become
 * presets; each text's first piece is found by binary search. O(pieces) typed-array work.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finishPieces, packTexts, planPretokenizeWindows, planSegments, windowInput } from "./encode_plan.ts";
 * import { pretokenizeCpu } from "./pretokenize.ts";
 * import { buildSpecialTables } from "./tables.ts";
 * import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
 * import { loadVocabulary } from "../tokenizer/vocabulary.ts";
 * const packed = packTexts(["Hello world", "x".repeat(70)]);
 * const seg = planSegments(packed, new Uint32Array(0), buildSpecialTables(harmonySpecialTokens()), {});
 * const windows = planPretokenizeWindows(packed.text, seg, 1 << 20);
 * const results = windows.map((w) => pretokenizeCpu(windowInput(packed.text, seg, w)));
 * const plan = finishPieces(packed, seg, windows, results, await loadVocabulary());
 * assert.deepEqual([...plan.ends], [5, 11, 81]);
 * assert.deepEqual([...plan.textPieces], [0, 2, 3]);
 * assert.equal(plan.cpuPieces, 1); // the 70-byte piece, over the 64-byte per-thread limit
 * ```
 */
export function finishPieces(
  packed: PackedTexts,
  seg: SegmentPlan,
  windows: readonly PretokenizeWindow[],
  results: readonly PretokenizeResult[],
  vocab: Vocabulary,
  maxPieceBytes: number = MAX_GPU_PIECE_BYTES,
): PiecePlan {
  let total = 0;
  for (const r of results) total += r.ends.length;
  // One window from byte 0 (the usual case): its arrays are the plan's, no copy.
  const whole = results.length === 1 && windows[0].b0 === 0;
  const ends = whole ? results[0].ends : new Uint32Array(total);
  const presets = whole ? results[0].presets : new Uint32Array(total);
  if (!whole) {
    let at = 0;
    for (let w = 0; w < results.length; w++) {
      const re = results[w].ends, b0 = windows[w].b0;
      presets.set(results[w].presets, at);
      for (let j = 0; j < re.length; j++) ends[at++] = re[j] + b0;
    }
  }
  const presetOffsets = new TokenBuffer(seg.presetOffsets.length + 16);
  const presetTokens = new TokenBuffer(seg.presetTokens.length + 16);
  presetOffsets.pushAll(seg.presetOffsets);
  presetTokens.pushAll(seg.presetTokens);
  const text = packed.text;
  const long = new TokenBuffer(16);
  // Long pieces are encoded here (over maxPieceBytes) or listed for the GPU's long-piece merge,
  // so no later step looks at every piece. The pre-tokenizer lists those over
  // MAX_GPU_PIECE_BYTES itself (`PretokenizeResult.long`): then only they are looked at; else
  // (a smaller per-thread limit, or an executor without the lists) every piece is.
  let cpuPieces = 0, cpuPieceMs = 0;
  const visit = (j: number) => {
    const s = j === 0 ? 0 : ends[j - 1], e = ends[j];
    if (e - s <= maxPieceBytes) return void long.push(j);
    const t0 = performance.now();
    encodePiece(vocab, text, s, e, presetTokens);
    cpuPieceMs += performance.now() - t0;
    presets[j] = presetOffsets.length - 1;
    presetOffsets.push(presetTokens.length);
    cpuPieces++;
  };
  if (maxPieceBytes >= MAX_GPU_PIECE_BYTES && results.every((r) => r.long !== undefined)) {
    let at = 0;
    for (const r of results) {
      for (const j of r.long!) visit(at + j);
      at += r.ends.length;
    }
  } else {
    const over = Math.min(maxPieceBytes, MAX_GPU_PIECE_BYTES);
    for (let j = 0, prev = 0; j < total; prev = ends[j++]) {
      if (ends[j] - prev > over && presets[j] === NONE) visit(j);
    }
  }
  const nt = packed.starts.length - 1;
  const textPieces = new Uint32Array(nt + 1);
  // Pieces before text i are those ending at or before its start. Starts ascend: each search
  // gallops from the previous text's answer (O(log pieces per text), near in memory).
  let lo = 0;
  for (let i = 0; i < nt; i++) {
    const s = packed.starts[i];
    let step = 1, hi = lo;
    while (hi < total && ends[hi] <= s) lo = hi + 1, hi += step, step *= 2;
    if (hi > total) hi = total;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid] <= s) lo = mid + 1;
      else hi = mid;
    }
    textPieces[i] = lo;
  }
  textPieces[nt] = total;
  return {
    ends,
    presets,
    presetOffsets: presetOffsets.view(),
    presetTokens: presetTokens.view(),
    textPieces,
    errors: seg.errors,
    long: long.view(),
    cpuPieces,
    cpuPieceMs,
  };
}

/**
 * The piece plan of packed texts on the CPU, synchronously: segments, windows, each window by
 * {@link pretokenizeCpu}, long pieces encoded (what {@link encodeWithPlan} does with the CPU
 * executor).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packTexts, planPieces } from "./encode_plan.ts";
 * import { buildSpecialTables } from "./tables.ts";
 * import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
 * import { loadVocabulary } from "../tokenizer/vocabulary.ts";
 * const plan = planPieces(packTexts(["Hello world"]), new Uint32Array(0),
 *   buildSpecialTables(harmonySpecialTokens()), await loadVocabulary(), {});
 * assert.deepEqual([...plan.ends], [5, 11]);
 * ```
 */
export function planPieces(
  packed: PackedTexts,
  matches: Uint32Array,
  specials: SpecialTables,
  vocab: Vocabulary,
  options: EncodeOptions | undefined,
  maxPieceBytes: number = MAX_GPU_PIECE_BYTES,
  limit = 1 << 30,
): PiecePlan {
  const seg = planSegments(packed, matches, specials, options);
  const windows = planPretokenizeWindows(packed.text, seg, limit);
  const results = windows.map((w) => pretokenizeCpu(windowInput(packed.text, seg, w)));
  return finishPieces(packed, seg, windows, results, vocab, maxPieceBytes);
}

/** A chunk of pieces within the limits: pieces `[p0, p1)` over bytes `[b0, b1)`. */
export interface Chunk {
  /** First piece. */
  p0: number;
  /** Piece end (exclusive). */
  p1: number;
  /** First byte. */
  b0: number;
  /** Byte end (exclusive). */
  b1: number;
}

/**
 * Splits the pieces into chunks whose largest binding (`pieceBatchBindingBytes`) fits `limit`
 * bytes; a chunk always takes at least one piece.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planChunks } from "./encode_plan.ts";
 * const plan = { ends: new Uint32Array([5, 11]), presets: new Uint32Array([0xffffffff, 0xffffffff]),
 *   presetOffsets: new Uint32Array([0]) };
 * assert.deepEqual(planChunks(plan, 1 << 20), [{ p0: 0, p1: 2, b0: 0, b1: 11 }]);
 * assert.equal(planChunks(plan, 0).length, 2);
 * ```
 */
export function planChunks(
  plan: Pick<PiecePlan, "ends" | "presets" | "presetOffsets">,
  limit: number,
): Chunk[] {
  const { ends, presets, presetOffsets } = plan;
  const chunks: Chunk[] = [];
  const n = ends.length;
  // The whole plan in one chunk when it fits (the usual case): no per-piece work.
  const nPresets = presetOffsets.length - 1;
  if (
    n > 0 &&
    pieceBatchBindingBytes(ends[n - 1], n, nPresets, presetOffsets[nPresets], n + 1) <= limit
  ) {
    return [{ p0: 0, p1: n, b0: 0, b1: ends[n - 1] }];
  }
  let p0 = 0, b0 = 0;
  while (p0 < n) {
    let p = p0, nPresets = 0, nPresetTokens = 0, prevEnd = b0;
    while (p < n) {
      const k = presets[p];
      const addP = k !== NONE ? 1 : 0;
      const addT = k !== NONE ? presetOffsets[k + 1] - presetOffsets[k] : 0;
      const need = pieceBatchBindingBytes(
        ends[p] - b0,
        p + 1 - p0,
        nPresets + addP,
        nPresetTokens + addT,
        p + 2 - p0,
      );
      if (need > limit && p > p0) break;
      nPresets += addP;
      nPresetTokens += addT;
      prevEnd = ends[p];
      p++;
    }
    chunks.push({ p0, p1: p, b0, b1: prevEnd });
    p0 = p;
    b0 = prevEnd;
  }
  return chunks;
}

/**
 * The {@link PieceBatch} of one chunk, with a mark at the first piece of every text starting in
 * it (`texts`, ascending) and one at its end.
 */
export function chunkBatch(
  plan: PiecePlan,
  text: Uint8Array,
  c: Chunk,
): { batch: PieceBatch; texts: number[] } {
  const { ends, presets, presetOffsets, presetTokens, textPieces } = plan;
  const n = c.p1 - c.p0;
  let localEnds: Uint32Array, localPresets: Uint32Array;
  let localOffsets: Uint32Array, localTokens: Uint32Array, localLong: Uint32Array;
  if (c.p0 === 0 && c.p1 === ends.length) {
    // The whole plan: its arrays as they are.
    localEnds = ends, localPresets = presets;
    localOffsets = presetOffsets, localTokens = presetTokens, localLong = plan.long;
  } else {
    const { long } = plan;
    let l0 = 0;
    while (l0 < long.length && long[l0] < c.p0) l0++;
    let l1 = l0;
    while (l1 < long.length && long[l1] < c.p1) l1++;
    localLong = long.slice(l0, l1);
    for (let j = 0; j < localLong.length; j++) localLong[j] -= c.p0;
    localEnds = new Uint32Array(n);
    localPresets = new Uint32Array(n);
    const offs: number[] = [0];
    const toks: number[] = [];
    for (let p = 0; p < n; p++) {
      localEnds[p] = ends[c.p0 + p] - c.b0;
      const k = presets[c.p0 + p];
      if (k === NONE) localPresets[p] = NONE;
      else {
        localPresets[p] = offs.length - 1;
        for (let j = presetOffsets[k]; j < presetOffsets[k + 1]; j++) toks.push(presetTokens[j]);
        offs.push(toks.length);
      }
    }
    localOffsets = Uint32Array.from(offs), localTokens = Uint32Array.from(toks);
  }
  // textPieces is non-decreasing: binary-search the first text starting at or after p0.
  const texts: number[] = [], marks: number[] = [];
  let lo = 0, hi = textPieces.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (textPieces[mid] < c.p0) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < textPieces.length && textPieces[i] < c.p1; i++) {
    texts.push(i);
    marks.push(textPieces[i] - c.p0);
  }
  marks.push(n);
  return {
    batch: {
      text: text.subarray(c.b0, c.b1),
      ends: localEnds,
      presets: localPresets,
      presetOffsets: localOffsets,
      presetTokens: localTokens,
      marks: Uint32Array.from(marks),
      long: localLong,
    },
    texts,
  };
}

/** How a plan's device steps run: on the GPU (with CPU fallback) or on the CPU. */
export interface PlanExecutor {
  /** `(position, special index)` pairs of every literal in `text`, sorted by position. */
  findSpecials(text: Uint8Array): Promise<Uint32Array> | Uint32Array;
  /**
   * Pre-tokenizes one window (the GPU kernel, or {@link pretokenizeCpu}). Default:
   * {@link pretokenizeCpu}.
   */
  pretokenize?(input: PretokenizeInput): Promise<PretokenizeResult> | PretokenizeResult;
  /** Encodes one chunk's pieces. */
  encodePieces(batch: PieceBatch): Promise<PieceBatchResult> | PieceBatchResult;
  /**
   * Scans, pre-tokenizes and encodes a batch that fits one chunk in one go (on the GPU: one
   * submission, one read-back; `src/gpu/fused.ts`). Absent: the plan runs the steps one by one.
   */
  encodeFused?(job: FusedJob): Promise<FusedResult> | FusedResult;
}

/**
 * The CPU executor: the kernels' CPU references (what tests and the GPU fallback run).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cpuExecutor, encodeWithPlan } from "./encode_plan.ts";
 * import { buildSpecialTables } from "./tables.ts";
 * import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
 * import { loadVocabulary } from "../tokenizer/vocabulary.ts";
 * const vocab = await loadVocabulary(), specials = buildSpecialTables(harmonySpecialTokens());
 * const r = await encodeWithPlan(["hello world"], undefined,
 *   { vocab, specials, limit: 1 << 20 }, cpuExecutor(vocab, specials));
 * assert.deepEqual([...r.tokens], [24912, 2375]);
 * ```
 */
export function cpuExecutor(vocab: Vocabulary, specials: SpecialTables): PlanExecutor {
  return {
    findSpecials: (text) => findSpecialsCpu(specials, text),
    pretokenize: (input) => pretokenizeCpu(input),
    encodePieces: (batch) => encodePiecesCpu(vocab, batch),
    encodeFused: (job) => encodeFusedCpu(vocab, specials, job),
  };
}

/** What a plan needs besides the texts. */
export interface PlanEnvironment {
  /** The ordinary vocabulary (long pieces are encoded with it on the CPU). */
  vocab: Vocabulary;
  /** The special-token tables. */
  specials: SpecialTables;
  /** Storage-binding budget of one chunk, in bytes. */
  limit: number;
  /** Pieces longer than this are encoded on the CPU. Default: {@link MAX_GPU_PIECE_BYTES}. */
  maxPieceBytes?: number;
}

/** The result of {@link encodeWithPlan}: the packed batch plus what the plan did. */
export interface PlannedBatch {
  /** All tokens, text after text. */
  tokens: Uint32Array;
  /** Token offset of each text; length texts + 1. */
  offsets: Uint32Array;
  /** Index → error for texts that could not be encoded. */
  errors: Map<number, Error>;
  /** UTF-8 bytes of the batch. */
  inputBytes: number;
  /** Chunks (piece-encoding submissions). */
  chunks: number;
  /** Special-scan windows run (0 when no literal is allowed or disallowed). */
  specialWindows: number;
  /** Pieces encoded on the CPU (longer than the per-thread limit). */
  cpuPieces: number;
  /** Pre-tokenization windows. */
  pretokenizeWindows: number;
  /** Windows the host pre-tokenized (no split point within a binding's worth of bytes). */
  hostPretokenizeWindows: number;
  /**
   * How the fused path ({@link PlanExecutor.encodeFused}) went: `done` (the whole batch in one
   * executor call: on the GPU one submission and one read-back), `partly redone` (the texts
   * holding a literal allowed or forbidden, or a piece over {@link MAX_GPU_PIECE_BYTES}, were
   * encoded again the ordinary way, the others kept), `fell back` (every text was, or there were
   * too many literals to read back: the ordinary steps followed), `off` (no such executor
   * method, or the batch does not fit one window and one chunk).
   */
  fused: "done" | "partly redone" | "fell back" | "off";
  /** Texts the fused path left to the ordinary steps (all of them when it fell back). */
  redoneTexts: number;
  /** Milliseconds the JS thread spent in the plan itself (not awaiting the executor). */
  hostMs: number;
  /** `hostMs` split by phase (they add up to it). */
  hostPhases: HostPhases;
}

/**
 * A {@link HostPhases} record with every phase at zero.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { noHostPhases } from "./encode_plan.ts";
 * strictEqual(Object.values(noHostPhases()).every((ms) => ms === 0), true);
 * ```
 */
export function noHostPhases(): HostPhases {
  return {
    pack: 0,
    specials: 0,
    segments: 0,
    windows: 0,
    pieces: 0,
    longPieces: 0,
    chunks: 0,
    submit: 0,
    stitch: 0,
  };
}

/**
 * Where a plan's host milliseconds go ({@link PlannedBatch.hostPhases}): UTF-8 packing, the
 * special scan's windows and matches, segments, pre-tokenization windows (and the ones the host
 * scans itself), the piece plan (`finishPieces` without its CPU merges), the CPU merges of long
 * pieces, chunk cutting, handing work to the executor (the synchronous part of its calls:
 * uploads and command encoding on the GPU; the whole work of the CPU executor) and stitching.
 */
export interface HostPhases {
  /** {@link packTexts}. */
  pack: number;
  /** Special-scan windows and their matches merged. */
  specials: number;
  /** {@link planSegments}. */
  segments: number;
  /** Pre-tokenization windows planned and cut, and host-scanned windows. */
  windows: number;
  /** {@link finishPieces} apart from the CPU merges of long pieces. */
  pieces: number;
  /** Long pieces encoded on the CPU. */
  longPieces: number;
  /** {@link planChunks} and {@link chunkBatch}. */
  chunks: number;
  /**
   * The synchronous part of the executor's calls (on the GPU: packing the uploads and recording
   * the commands; for the CPU executor its whole work).
   */
  submit: number;
  /** Token offsets and the packed token array. */
  stitch: number;
}

const headsOf = new WeakMap<SpecialTables, string[]>();

/** The distinct first two characters of the special literals (`["<|"]` for harmony's). */
function literalHeads(specials: SpecialTables): string[] {
  let heads = headsOf.get(specials);
  if (heads === undefined) {
    heads = [...new Set(specials.literals.map((l) => l.slice(0, 2)))];
    headsOf.set(specials, heads);
  }
  return heads;
}

/**
 * About how many special literals `texts` hold, for the fused path ({@link
 * PlanExecutor.encodeFused}): whether the device should cut allowed literals out (some are there:
 * otherwise that costs a few dispatches and a longer segment search for nothing), and, when a
 * literal is forbidden, whether the fused call can succeed at all (its read-back holds at most
 * {@link FUSED_MATCHES} matches, and a batch with more falls back whole after it: harmony
 * outputs went from 5 submissions a batch to 6). Every literal starts with one of `heads` (the
 * first two characters of each, `<|` for harmony's), so their occurrences bound the literals from
 * above. Native `indexOf` over the texts from the first, until `FUSED_MATCHES + 1` hits (then
 * that) or {@link FUSED_SAMPLE_CHARS} characters looked at: a batch wholly within the sample is
 * counted exactly; a bigger one by the sample's rate of hits scaled to `totalBytes` (the packed
 * size, at least its characters: the estimate errs high). A wrong guess costs one submission or a
 * few dispatches, never a token: the fused call's own matches decide which texts keep its tokens.
 * Checking every text cost 0.2–0.3 ms per MB of chat text, a sixth of the whole host cost there.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { literalEstimate } from "./encode_plan.ts";
 * strictEqual(literalEstimate(["plain", "x<|end|>y"], ["<|"], 14), 1);
 * strictEqual(literalEstimate(["<|start|>user<|message|>hi<|end|>".repeat(30)], ["<|"], 1020), 65);
 * // Two literals in the first 8,207 characters of 1,056,783 bytes: about 258 in the batch.
 * const texts = ["<|end|> <|end|>", "x".repeat(8192), "y".repeat(1 << 20)];
 * strictEqual(Math.round(literalEstimate(texts, ["<|"], (1 << 20) + 8207)), 258);
 * ```
 */
export function literalEstimate(
  texts: readonly string[],
  heads: readonly string[],
  totalBytes: number,
): number {
  let hits = 0, seen = 0;
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i];
    for (let h = 0; h < heads.length; h++) {
      for (let at = t.indexOf(heads[h]); at >= 0; at = t.indexOf(heads[h], at + 1)) {
        if (++hits > FUSED_MATCHES) return hits;
      }
    }
    seen += t.length;
    if (seen >= FUSED_SAMPLE_CHARS && i + 1 < texts.length) return hits * (totalBytes / seen);
  }
  return hits;
}

/** Characters {@link literalEstimate} looks at before it estimates from them. */
export const FUSED_SAMPLE_CHARS = 8192;

/**
 * The texts (ascending indices) whose fused tokens are not valid: those holding a literal that
 * is forbidden, or allowed when the device did not cut it out (`cut`: it did) (`matches`,
 * sorted by position), or the end of a long piece (`longEnds`, any order). O(texts + matches +
 * long pieces).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packTexts, textsToRedo } from "./encode_plan.ts";
 * import { buildSpecialTables } from "./tables.ts";
 * import { harmonySpecialTokens } from "../tokenizer/special_tokens.ts";
 * const p = packTexts(["ab", "c<|end|>", "d"]);
 * const t = buildSpecialTables(harmonySpecialTokens());
 * const end = t.literals.indexOf("<|end|>");
 * assert.deepEqual(textsToRedo(p, new Uint32Array([3, end]), new Uint32Array([11]), t, {}), [1, 2]);
 * ```
 */
export function textsToRedo(
  packed: PackedTexts,
  matches: Uint32Array,
  longEnds: Uint32Array,
  specials: SpecialTables,
  options: EncodeOptions | undefined,
  cut = false,
): number[] {
  const { starts } = packed;
  const nt = starts.length - 1;
  // Texts holding a literal in play, ascending (the matches are sorted by position).
  const byLiteral: number[] = [];
  if (matches.length > 0) {
    const { allowed, forbidden } = literalRules(specials, options);
    let i = 0;
    for (let k = 0; k < matches.length; k += 2) {
      if (!forbidden[matches[k + 1]] && (cut || !allowed[matches[k + 1]])) continue;
      while (i + 1 < nt && starts[i + 1] <= matches[k]) i++;
      if (byLiteral.length === 0 || byLiteral[byLiteral.length - 1] !== i) byLiteral.push(i);
    }
  }
  // Texts holding the end of a long piece, ascending (a typed array sorts numerically).
  const byLong: number[] = [];
  const ends = longEnds.slice().sort();
  for (let k = 0, i = 0; k < ends.length; k++) {
    while (i + 1 < nt && starts[i + 1] <= ends[k] - 1) i++;
    if (byLong.length === 0 || byLong[byLong.length - 1] !== i) byLong.push(i);
  }
  if (byLong.length === 0) return byLiteral;
  if (byLiteral.length === 0) return byLong;
  // Both, merged without repeats.
  const out: number[] = [];
  let a = 0, b = 0;
  while (a < byLiteral.length || b < byLong.length) {
    const x = b >= byLong.length || (a < byLiteral.length && byLiteral[a] <= byLong[b])
      ? byLiteral[a++]
      : byLong[b++];
    if (out.length === 0 || out[out.length - 1] !== x) out.push(x);
  }
  return out;
}

/**
 * The fused batch `r` with the texts `redo` (ascending) replaced by `sub`'s (in that order):
 * tokens and offsets, one copy per run of kept texts.
 */
function mergeRedone(
  r: { tokens: Uint32Array; offsets: Uint32Array },
  redo: readonly number[],
  sub: { tokens: Uint32Array; offsets: Uint32Array },
): { tokens: Uint32Array; offsets: Uint32Array } {
  const nt = r.offsets.length - 1;
  let total = r.offsets[nt];
  for (let j = 0; j < redo.length; j++) {
    total += sub.offsets[j + 1] - sub.offsets[j] - (r.offsets[redo[j] + 1] - r.offsets[redo[j]]);
  }
  const tokens = new Uint32Array(total), offsets = new Uint32Array(nt + 1);
  let at = 0, from = 0;
  const keep = (to: number) => {
    // Texts [from, to) from the fused result.
    const a = r.offsets[from], b = r.offsets[to];
    tokens.set(r.tokens.subarray(a, b), at);
    for (let i = from; i < to; i++) offsets[i] = at + r.offsets[i] - a;
    at += b - a;
  };
  for (let j = 0; j < redo.length; j++) {
    const i = redo[j];
    keep(i);
    offsets[i] = at;
    tokens.set(sub.tokens.subarray(sub.offsets[j], sub.offsets[j + 1]), at);
    at += sub.offsets[j + 1] - sub.offsets[j];
    from = i + 1;
  }
  keep(nt);
  offsets[nt] = at;
  return { tokens, offsets };
}

/**
 * Encodes texts by the plan, running the device steps on `exec`; the result is what
 * `Tokenizer.encode` gives for each text (errors for texts with a disallowed literal).
 */
export function encodeWithPlan(
  texts: readonly string[],
  options: EncodeOptions | undefined,
  env: PlanEnvironment,
  exec: PlanExecutor,
): Promise<PlannedBatch> {
  return planBatch(texts, options, env, exec, undefined, undefined);
}

/**
 * The matches of `matches` (sorted, over `packed`) that lie wholly inside the texts `redo`
 * (ascending), moved to where those texts lie when packed alone, in that order (`starts`):
 * what the special scan of that smaller batch finds (a literal across a text boundary is never
 * a preset nor an error, so dropping those changes nothing).
 */
function matchesOf(
  packed: PackedTexts,
  matches: Uint32Array,
  redo: readonly number[],
  starts: ArrayLike<number>,
  specials: SpecialTables,
): Uint32Array {
  const out: number[] = [];
  let k = 0;
  for (let j = 0; j < redo.length; j++) {
    const s = packed.starts[redo[j]], e = packed.starts[redo[j] + 1];
    while (k < matches.length && matches[k] < s) k += 2;
    for (let q = k; q < matches.length && matches[q] < e; q += 2) {
      if (matches[q] + specials.literalBytes[matches[q + 1]].length > e) continue;
      out.push(matches[q] - s + starts[j], matches[q + 1]);
    }
  }
  return Uint32Array.from(out);
}

/** The texts `redo` of `packed`, packed alone by copying their bytes (no UTF-8 encoding again). */
function subPack(packed: PackedTexts, redo: readonly number[]): PackedTexts {
  const starts = new Uint32Array(redo.length + 1);
  for (let j = 0; j < redo.length; j++) {
    starts[j + 1] = starts[j] + packed.starts[redo[j] + 1] - packed.starts[redo[j]];
  }
  const text = new Uint8Array(Math.max(16, starts[redo.length]));
  for (let j = 0; j < redo.length; j++) {
    text.set(packed.text.subarray(packed.starts[redo[j]], packed.starts[redo[j] + 1]), starts[j]);
  }
  return { text: text.subarray(0, starts[redo.length]), starts };
}

/**
 * {@link encodeWithPlan}, with the texts already packed (`prepacked`: a buffer of its own) and
 * the special matches already known (`known`) when given.
 */
async function planBatch(
  texts: readonly string[],
  options: EncodeOptions | undefined,
  env: PlanEnvironment,
  exec: PlanExecutor,
  known: ((packed: PackedTexts) => Uint32Array) | undefined,
  prepacked: PackedTexts | undefined,
): Promise<PlannedBatch> {
  const phases = noHostPhases();
  // Host time in laps: `lap(phase)` books the time since the last lap (or resume) to `phase`;
  // awaits are between a lap and a `resume`, so they are never counted.
  let t0 = performance.now();
  const lap = (phase: keyof HostPhases) => {
    const t = performance.now();
    phases[phase] += t - t0;
    t0 = t;
  };
  const resume = () => (t0 = performance.now());
  const { vocab, specials, limit } = env;
  const packed = prepacked ?? packTexts(texts, takePackBuffer());
  lap("pack");
  const nt = texts.length;
  // Special literals are looked for only when some literal is allowed or disallowed.
  const rules = literalRules(specials, options), { any } = rules;
  let matches: Uint32Array = new Uint32Array(0), specialWindows = 0;
  let fused: PlannedBatch["fused"] = "off";
  let scanned = false;
  // One executor call for the whole batch when it fits one special window, one pre-tokenize
  // window and one chunk (the common case). The device cuts allowed literals out when the
  // batch's sample holds some; the matches it returns say which texts hold a literal it did not
  // cut out (forbidden, or allowed past the sample), and those go the ordinary way. A batch with
  // more literals than the fused read-back holds falls back whole when one is forbidden, so it
  // skips the fused call.
  const literals = exec.encodeFused && !known && any && packed.text.length > 0
    ? literalEstimate(texts, literalHeads(specials), packed.text.length)
    : 0;
  const cut = literals > 0 ? rules.cut : undefined;
  if (known) {
    matches = known(packed);
    scanned = true;
  } else if (
    exec.encodeFused && packed.text.length > 0 &&
    (!any || (cut && !rules.anyForbidden) || literals <= FUSED_MATCHES)
  ) {
    // No literal in play yet: each non-empty text is one segment. Long pieces of up to
    // maxPieceBytes are merged in the same submission.
    const longMax = env.maxPieceBytes ?? MAX_GPU_PIECE_BYTES;
    const textSeg = planSegments(packed, matches, specials, options);
    const pw = planPretokenizeWindows(packed.text, textSeg, limit);
    if (
      pw.length === 1 && !pw[0].cpu &&
      (!any || planSpecialWindows(packed.text.length, specials.maxLength, limit).length === 1) &&
      fusedBindingBytes(packed.text.length, textSeg.presets.length, nt, {
          longMax,
          specials: cut ? specials.count : 0,
        }) <= limit
    ) {
      const pre = windowInput(packed.text, textSeg, pw[0]);
      const job = {
        pre,
        textStarts: packed.starts,
        scanSpecials: any,
        longMax,
        literals: cut,
      };
      lap("windows");
      const pending = exec.encodeFused(job);
      lap("submit");
      const r = await pending;
      resume();
      fused = "fell back";
      // Without the matches (more than the read-back holds) the texts are known only when no
      // literal sends one back: the device cut the allowed ones out and none is forbidden.
      const cutAll = cut !== undefined && !rules.anyForbidden;
      const redo = r.matches || cutAll
        ? textsToRedo(packed, r.matches ?? NO_MATCHES, r.longEnds, specials, options, !!cut)
        : undefined;
      if (redo && redo.length < nt) {
        // The other texts keep the fused tokens; these go the ordinary way (a smaller batch).
        let sub: PlannedBatch | undefined;
        if (redo.length > 0) {
          lap("windows");
          const ordinary: PlanExecutor = { ...exec, encodeFused: undefined };
          // Their literals are known (when read back): the smaller batch needs no special scan
          // of its own.
          const found = r.matches;
          sub = await planBatch(
            redo.map((i) => texts[i]),
            options,
            env,
            ordinary,
            found && ((p) => matchesOf(packed, found, redo, p.starts, specials)),
            subPack(packed, redo),
          );
          resume();
          for (const k in sub.hostPhases) {
            phases[k as keyof HostPhases] += sub.hostPhases[k as keyof HostPhases];
          }
        }
        const merged = sub ? mergeRedone(r, redo, sub) : r;
        givePackBuffer(new Uint8Array(packed.text.buffer));
        lap("stitch");
        let hostMs = 0;
        for (const k in phases) hostMs += phases[k as keyof HostPhases];
        return {
          tokens: merged.tokens,
          offsets: merged.offsets,
          errors: sub ? new Map([...sub.errors].map(([j, e]) => [redo[j], e])) : new Map(),
          inputBytes: packed.text.length,
          chunks: 1 + (sub?.chunks ?? 0),
          specialWindows: (any ? 1 : 0) + (sub?.specialWindows ?? 0),
          cpuPieces: sub?.cpuPieces ?? 0,
          pretokenizeWindows: 1 + (sub?.pretokenizeWindows ?? 0),
          hostPretokenizeWindows: sub?.hostPretokenizeWindows ?? 0,
          fused: sub ? "partly redone" : "done",
          redoneTexts: redo.length,
          hostMs,
          hostPhases: phases,
        };
      }
      if (r.matches) {
        matches = r.matches;
        specialWindows = any ? 1 : 0;
        scanned = true;
      }
    }
  }
  lap("windows");
  if (any && !scanned) {
    const windows = planSpecialWindows(packed.text.length, specials.maxLength, limit);
    const parts: number[] = [];
    for (const w of windows) {
      lap("specials");
      const pending = exec.findSpecials(packed.text.subarray(w.start, w.viewEnd));
      lap("submit");
      const found = await pending;
      resume();
      // One window: its matches are all of them, sorted (no copy).
      if (windows.length === 1) matches = found;
      else {
        for (let k = 0; k < found.length; k += 2) {
          if (w.start + found[k] < w.end) parts.push(w.start + found[k], found[k + 1]);
        }
      }
    }
    if (windows.length > 1) matches = Uint32Array.from(parts);
    specialWindows = windows.length;
  }
  lap("specials");
  const seg = planSegments(packed, matches, specials, options);
  lap("segments");
  const windows = planPretokenizeWindows(packed.text, seg, limit);
  const results: PretokenizeResult[] = [];
  let hostWindows = 0;
  for (const w of windows) {
    const input = windowInput(packed.text, seg, w);
    if (w.cpu || !exec.pretokenize) {
      results.push(pretokenizeCpu(input));
      if (w.cpu) hostWindows++;
      continue;
    }
    lap("windows");
    const pending = exec.pretokenize(input);
    lap("submit");
    const r = await pending;
    resume();
    results.push(r);
  }
  lap("windows");
  const plan = finishPieces(packed, seg, windows, results, vocab, env.maxPieceBytes);
  lap("pieces");
  phases.pieces -= plan.cpuPieceMs;
  phases.longPieces += plan.cpuPieceMs;
  const chunks = planChunks(plan, limit);
  const tokenParts: Uint32Array[] = [];
  const offsets = new Uint32Array(nt + 1);
  let base = 0;
  // One chunk ahead: chunk c+1 is cut and handed to the executor before chunk c is awaited, so
  // the device has the next chunk queued while the host reads the current one back.
  const start = (c: Chunk) => {
    lap("stitch");
    const { batch, texts } = chunkBatch(plan, packed.text, c);
    lap("chunks");
    const result = exec.encodePieces(batch);
    lap("submit");
    if (result instanceof Promise) result.catch(() => {}); // awaited below, in order
    return { texts, result };
  };
  lap("chunks");
  let next = chunks.length > 0 ? start(chunks[0]) : undefined;
  for (let ci = 0; ci < chunks.length; ci++) {
    const { texts: starting, result } = next!;
    next = ci + 1 < chunks.length ? start(chunks[ci + 1]) : undefined;
    lap("stitch");
    const r = await result;
    resume();
    for (let j = 0; j < starting.length; j++) offsets[starting[j]] = base + r.markOffsets[j];
    const total = r.markOffsets[r.markOffsets.length - 1];
    base += total;
    tokenParts.push(r.tokens.subarray(0, total));
  }
  // Texts whose pieces start after the last chunk (no pieces at all) end at the total.
  for (let i = 0; i <= nt; i++) if (plan.textPieces[i] >= plan.ends.length) offsets[i] = base;
  // One chunk (the usual case): its tokens as they are, no copy.
  let tokens = tokenParts.length === 1 ? tokenParts[0] : new Uint32Array(base);
  if (tokenParts.length > 1) {
    let o = 0;
    for (const part of tokenParts) {
      tokens.set(part, o);
      o += part.length;
    }
  }
  if (tokenParts.length === 0) tokens = new Uint32Array(0);
  // Nothing of the result points into the packed text: its buffer serves the next batch.
  givePackBuffer(new Uint8Array(packed.text.buffer));
  lap("stitch");
  let hostMs = 0;
  for (const k in phases) hostMs += phases[k as keyof HostPhases];
  return {
    tokens,
    offsets,
    errors: plan.errors,
    inputBytes: packed.text.length,
    chunks: chunks.length,
    specialWindows,
    cpuPieces: plan.cpuPieces,
    pretokenizeWindows: windows.length,
    hostPretokenizeWindows: hostWindows,
    fused,
    redoneTexts: fused === "fell back" ? nt : 0,
    hostMs,
    hostPhases: phases,
  };
}
