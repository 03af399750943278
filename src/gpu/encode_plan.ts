/**
 * The host side of encoding a batch of texts on the GPU, as pure planning code with no device
 * code (as onnxruntime-web keeps program planning apart from its `ProgramManager`): what to
 * upload, how to split it under the binding limits and how to stitch the results. The kernels
 * are reached only through a {@link PlanExecutor}, so the same plan runs on every machine with
 * the CPU executor ({@link cpuExecutor}: `findSpecialsCpu` and `encodePiecesCpu`), and tests
 * check it token for token against the tokenizer with tiny limits that force chunking.
 *
 * Steps (see {@link encodeWithPlan}):
 * 1. {@link packTexts}: the texts as one UTF-8 buffer with each text's byte start.
 * 2. Special-token literals, found in windows within the limit ({@link planSpecialWindows},
 *    overlapping by the longest literal) and resolved per text by tiktoken's rule
 *    (`src/tokenizer/special_rule.ts`): a text with a disallowed literal fails with the rule's
 *    error (UTF-16 offset, counted from the UTF-8 bytes) and becomes one empty preset piece.
 * 3. {@link planPieces}: the CPU pre-tokenizer splits the rest; allowed literals and pieces
 *    longer than the per-thread limit (encoded on the CPU right away) become presets.
 * 4. {@link planChunks}: consecutive pieces in chunks whose bindings fit the limit
 *    (`pieceBatchBindingBytes`); {@link chunkBatch} cuts one chunk's {@link PieceBatch}.
 * 5. The executor encodes each chunk; the chunks' tokens and the per-text mark offsets are
 *    stitched into one packed array (tokens, offsets, errors).
 *
 * @module
 */

import { encodePiece } from "../tokenizer/bpe.ts";
import { splitPieces } from "../tokenizer/pieces.ts";
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
import { MAX_GPU_PIECE_BYTES } from "./kernels.ts";
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
 * Packs texts as UTF-8 (lone surrogates become U+FFFD, as `TextEncoder` does).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packTexts } from "./encode_plan.ts";
 * const p = packTexts(["hé", "", "x"]);
 * assert.deepEqual([...p.starts], [0, 3, 3, 4]);
 * ```
 */
export function packTexts(texts: readonly string[]): PackedTexts {
  const nt = texts.length;
  let cap = 0;
  for (let i = 0; i < nt; i++) cap += texts[i].length * 3;
  const packed = new Uint8Array(Math.max(16, cap));
  const starts = new Uint32Array(nt + 1);
  const te = new TextEncoder();
  let at = 0;
  for (let i = 0; i < nt; i++) {
    starts[i] = at;
    at += te.encodeInto(texts[i], packed.subarray(at)).written;
  }
  starts[nt] = at;
  return { text: packed.subarray(0, at), starts };
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
  /** Pieces encoded on the CPU because they exceed `maxPieceBytes`. */
  cpuPieces: number;
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

/**
 * Splits packed texts into pieces: allowed special literals (from `matches`, `(byte, special
 * index)` pairs sorted by byte, every occurrence in the packed text) and pieces longer than
 * `maxPieceBytes` (encoded here, on the CPU) become presets; a text holding a disallowed literal
 * gets the rule's error and one empty preset piece over its bytes.
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
): PiecePlan {
  const { text, starts } = packed;
  const nt = starts.length - 1, at = text.length;
  const rule = specialRule(options);
  const allowed = new Uint8Array(specials.count), disallowed = new Uint8Array(specials.count);
  if (matches.length > 0) {
    for (let k = 0; k < specials.count; k++) {
      allowed[k] = rule.allows(specials.literals[k]) ? 1 : 0;
      disallowed[k] = rule.forbids(specials.literals[k]) ? 1 : 0;
    }
  }
  const errors = new Map<number, Error>();
  const ends = new TokenBuffer(Math.max(16, at >> 2));
  const presets = new TokenBuffer(Math.max(16, at >> 2));
  const presetOffsets = new TokenBuffer(64);
  const presetTokens = new TokenBuffer(64);
  presetOffsets.push(0);
  const textPieces = new Uint32Array(nt + 1);
  let cpuPieces = 0;
  const addRange = (s: number, e: number) => {
    if (e <= s) return;
    const first = ends.length;
    splitPieces(text, s, e, ends);
    let prev = s;
    for (let p = first; p < ends.length; p++) {
      const pe = ends.data[p];
      if (pe - prev > maxPieceBytes) {
        presets.push(presetOffsets.length - 1);
        encodePiece(vocab, text, prev, pe, presetTokens);
        presetOffsets.push(presetTokens.length);
        cpuPieces++;
      } else presets.push(NONE);
      prev = pe;
    }
  };
  let mj = 0;
  for (let i = 0; i < nt; i++) {
    textPieces[i] = ends.length;
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
        ends.push(e);
        presets.push(presetOffsets.length - 1);
        presetOffsets.push(presetTokens.length);
      }
      continue;
    }
    let from = s;
    for (let k = m0; k < mj; k += 2) {
      const pos = matches[k], idx = matches[k + 1], len = specials.literalBytes[idx].length;
      if (!allowed[idx] || pos < from || pos + len > e) continue;
      addRange(from, pos);
      ends.push(pos + len);
      presets.push(presetOffsets.length - 1);
      presetTokens.push(specials.firstId + idx);
      presetOffsets.push(presetTokens.length);
      from = pos + len;
    }
    addRange(from, e);
  }
  textPieces[nt] = ends.length;
  return {
    ends: ends.view(),
    presets: presets.view(),
    presetOffsets: presetOffsets.view(),
    presetTokens: presetTokens.view(),
    textPieces,
    errors,
    cpuPieces,
  };
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
  const localEnds = new Uint32Array(n);
  const localPresets = new Uint32Array(n);
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
      presetOffsets: Uint32Array.from(offs),
      presetTokens: Uint32Array.from(toks),
      marks: Uint32Array.from(marks),
    },
    texts,
  };
}

/** How a plan's device steps run: on the GPU (with CPU fallback) or on the CPU. */
export interface PlanExecutor {
  /** `(position, special index)` pairs of every literal in `text`, sorted by position. */
  findSpecials(text: Uint8Array): Promise<Uint32Array> | Uint32Array;
  /** Encodes one chunk's pieces. */
  encodePieces(batch: PieceBatch): Promise<PieceBatchResult> | PieceBatchResult;
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
    encodePieces: (batch) => encodePiecesCpu(vocab, batch),
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
  /** Milliseconds the JS thread spent in the plan itself (not awaiting the executor). */
  hostMs: number;
}

/**
 * Encodes texts by the plan, running the device steps on `exec`; the result is what
 * `Tokenizer.encode` gives for each text (errors for texts with a disallowed literal).
 */
export async function encodeWithPlan(
  texts: readonly string[],
  options: EncodeOptions | undefined,
  env: PlanEnvironment,
  exec: PlanExecutor,
): Promise<PlannedBatch> {
  let hostMs = 0, t0 = performance.now();
  const pause = () => (hostMs += performance.now() - t0);
  const resume = () => (t0 = performance.now());
  const { vocab, specials, limit } = env;
  const packed = packTexts(texts);
  const nt = texts.length;
  // Special literals are looked for only when some literal is allowed or disallowed.
  const rule = specialRule(options);
  let any = false;
  for (let k = 0; k < specials.count && !any; k++) {
    any = rule.allows(specials.literals[k]) || rule.forbids(specials.literals[k]);
  }
  let matches = new Uint32Array(0), specialWindows = 0;
  if (any) {
    const windows = planSpecialWindows(packed.text.length, specials.maxLength, limit);
    const parts: number[] = [];
    for (const w of windows) {
      pause();
      const found = await exec.findSpecials(packed.text.subarray(w.start, w.viewEnd));
      resume();
      for (let k = 0; k < found.length; k += 2) {
        if (w.start + found[k] < w.end) parts.push(w.start + found[k], found[k + 1]);
      }
    }
    matches = Uint32Array.from(parts);
    specialWindows = windows.length;
  }
  const plan = planPieces(packed, matches, specials, vocab, options, env.maxPieceBytes);
  const chunks = planChunks(plan, limit);
  const tokenParts: Uint32Array[] = [];
  const offsets = new Uint32Array(nt + 1);
  let base = 0;
  // One chunk ahead: chunk c+1 is cut and handed to the executor before chunk c is awaited, so
  // the device has the next chunk queued while the host reads the current one back.
  const start = (c: Chunk) => {
    const { batch, texts } = chunkBatch(plan, packed.text, c);
    const result = exec.encodePieces(batch);
    if (result instanceof Promise) result.catch(() => {}); // awaited below, in order
    return { texts, result };
  };
  let next = chunks.length > 0 ? start(chunks[0]) : undefined;
  for (let ci = 0; ci < chunks.length; ci++) {
    const { texts: starting, result } = next!;
    next = ci + 1 < chunks.length ? start(chunks[ci + 1]) : undefined;
    pause();
    const r = await result;
    resume();
    for (let j = 0; j < starting.length; j++) offsets[starting[j]] = base + r.markOffsets[j];
    const total = r.markOffsets[r.markOffsets.length - 1];
    base += total;
    tokenParts.push(r.tokens.subarray(0, total));
  }
  // Texts whose pieces start after the last chunk (no pieces at all) end at the total.
  for (let i = 0; i <= nt; i++) if (plan.textPieces[i] >= plan.ends.length) offsets[i] = base;
  const tokens = new Uint32Array(base);
  let o = 0;
  for (const part of tokenParts) {
    tokens.set(part, o);
    o += part.length;
  }
  pause();
  return {
    tokens,
    offsets,
    errors: plan.errors,
    inputBytes: packed.text.length,
    chunks: chunks.length,
    specialWindows,
    cpuPieces: plan.cpuPieces,
    hostMs,
  };
}
