// Interleaved A/B of the CPU tokenizer's cold passes: this checkout against other checkouts of the
// project (`--base DIR`, repeatable; e.g. `git worktree add /tmp/base <rev>`, with node_modules
// linked in), all loaded into one process and run on the same texts, one pass each in turn, so that
// a shared, noisy machine slows every side alike. Same texts and kinds as the cold mode of
// bench/encode.bench.ts (bench/_inputs.ts). Prints per kind each side's MB/s and its time over the
// first side's: the median ratio, and the ratio of the fastest fifth (the 20th percentile), which
// moves less when another job takes the core for a while. A/A noise on a shared 2-core VM:
// ±2–5 %, and in Bun the first side (this checkout, loaded first) ran 1–6 % slower than an
// identical copy of itself: for small effects pass a copy of this tree as a `--base` too and
// compare the bases with each other.
//
// Modes (`--mode`):
// - fresh (default): a new tokenizer per pass (empty piece cache, memos and scratch), the
//   vocabulary's small cache of recent tokens emptied, the backtracking tables built: the cold
//   mode of encode.bench.ts.
// - reuse: one tokenizer per side that has encoded every kind once; before each pass only its
//   piece cache and the vocabulary's small cache are emptied (a long job's steady state on text
//   it has not seen: the pair memos are warm).
// - early: a fresh tokenizer over a fresh vocabulary object per pass, so the backtracking tables
//   do not exist (a process's first 8 MiB of long pieces); its one-time byte-pair tables are built
//   by an untimed warm-up encode.
// Each kind first gets untimed passes (at least 3, and 8 MB) on every side, for the JIT.
//
//   npx bun bench/encode_ab.ts --base /tmp/base [--mode fresh|reuse|early] [--reps 15]
//       [--kinds CJK,code]
//   npx deno run -A bench/encode_ab.ts --base /tmp/base
import process from "node:process";
import { parseArgs } from "node:util";
import { KINDS, textKinds } from "./_inputs.ts";

/** The parts of a checkout's tokenizer that the passes use (its own modules, not ours). */
interface Side {
  label: string;
  Tokenizer: new (vocab: unknown) => {
    encodeOrdinary(text: string): Uint32Array;
    clearCache(): void;
  };
  Vocabulary: new (bytes: Uint8Array, offsets: Uint32Array, built?: unknown) => unknown;
  vocab: { bytes: Uint8Array; offsets: Uint32Array; clearFront?: () => void };
  reused?: { encodeOrdinary(text: string): Uint32Array; clearCache(): void };
}

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    base: { type: "string", multiple: true, default: [] },
    mode: { type: "string", default: "fresh" },
    reps: { type: "string", default: "15" },
    kinds: { type: "string" },
  },
});
const mode = values.mode;
if (!["fresh", "reuse", "early"].includes(mode)) {
  throw new Error(`--mode ${mode}: fresh, reuse or early`);
}
const reps = Number(values.reps);
const kinds = values.kinds ? values.kinds.split(",") : [...KINDS];
for (const k of kinds) {
  if (!(KINDS as readonly string[]).includes(k)) {
    throw new Error(`--kinds: ${k} is not one of ${KINDS.join(", ")}`);
  }
}

const here = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const sides: Side[] = [];
for (const dir of [here, ...values.base]) {
  const root = dir.replace(/\/$/, "");
  const t = await import(`${root}/src/tokenizer/tokenizer.ts`);
  const v = await import(`${root}/src/tokenizer/vocabulary.ts`);
  const vocab = await v.loadVocabulary();
  try {
    const b = await import(`${root}/src/tokenizer/_backtrack.ts`);
    b.backtrackTables(vocab);
  } catch {
    // A checkout from before backtracking.
  }
  sides.push({
    label: root === here ? "this checkout" : root,
    Tokenizer: t.HarmonyTokenizer,
    Vocabulary: v.ByteVocabulary,
    vocab,
  });
}

const { kinds: texts } = textKinds();
const all = [...texts.values()].flat();
const utf8 = (xs: string[]) => xs.reduce((n, x) => n + new TextEncoder().encode(x).length, 0);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const at = (xs: number[], q: number) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length * q)];

/** A tokenizer of `side` ready for one timed pass in this mode. */
function tokenizerFor(side: Side) {
  side.vocab.clearFront?.();
  if (mode === "reuse") {
    side.reused ??= (() => {
      const t = new side.Tokenizer(side.vocab);
      for (const x of all) t.encodeOrdinary(x);
      return t;
    })();
    side.reused.clearCache();
    return side.reused;
  }
  if (mode === "early") {
    const fresh = new side.Vocabulary(side.vocab.bytes, side.vocab.offsets, side.vocab);
    new side.Tokenizer(fresh).encodeOrdinary("中文 日本語 한국어 and English, tokenization");
    return new side.Tokenizer(fresh);
  }
  return new side.Tokenizer(side.vocab);
}

console.log(
  `encode A/B, mode ${mode}, ${reps} passes per side and kind, CPU time; sides: ${
    sides.map((s, i) => `[${i}] ${s.label}`).join(", ")
  }`,
);
for (const kind of kinds) {
  const xs = texts.get(kind as typeof KINDS[number])!;
  const mb = utf8(xs) / 1e6;
  for (const side of sides) {
    for (let w = Math.max(3, Math.ceil(8 / mb)); w > 0; w--) {
      // In early mode on vocabulary copies too, so the JIT sees the objects the timed passes use.
      const t = mode === "early" ? tokenizerFor(side) : new side.Tokenizer(side.vocab);
      for (const x of xs) t.encodeOrdinary(x);
    }
  }
  const ms = sides.map(() => [] as number[]);
  const tokens = sides.map(() => 0);
  for (let r = 0; r < reps; r++) {
    for (let j = 0; j < sides.length; j++) {
      const i = (j + r) % sides.length; // rotate who goes first
      const t = tokenizerFor(sides[i]);
      let n = 0;
      const s = cpuMs();
      for (const x of xs) n += t.encodeOrdinary(x).length;
      ms[i].push(cpuMs() - s);
      tokens[i] = n;
    }
  }
  const cells = sides.map((_, i) => {
    const speed = `${(mb * 1000 / at(ms[i], 0.5)).toFixed(1)} MB/s`;
    if (i === 0) return speed;
    const ratio = (at(ms[i], 0.5) / at(ms[0], 0.5)).toFixed(3);
    const fifth = (at(ms[i], 0.2) / at(ms[0], 0.2)).toFixed(3);
    return `[${i}] ${speed}, time ×${ratio} (fastest fifth ×${fifth})` +
      (tokens[i] === tokens[0] ? "" : `, TOKEN COUNT ${tokens[i]} ≠ ${tokens[0]}`);
  });
  console.log(`${kind} (${mb.toFixed(2)} MB): [0] ${cells.join("; ")}`);
}
