// Kernel descriptors and the shared WGSL prelude, checked without a GPU: each kernel's uniform
// block is declared once (field names in src/gpu/kernels.ts), and the WGSL uses exactly those.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { KERNELS } from "../../src/gpu/kernels.ts";
import { kernelSource, packUniforms } from "../../src/gpu/pipeline_cache.ts";

const SHADER_DIR = new URL("../../shaders/", import.meta.url);
const prelude = readFileSync(new URL("_prelude.wgsl", SHADER_DIR), "utf8");

test("every kernel's WGSL reads exactly the uniform fields its descriptor declares", () => {
  for (const k of Object.values(KERNELS)) {
    const used = new Set([...k.code.matchAll(/\bp\.(\w+)/g)].map((m) => m[1]));
    assert.deepEqual([...used].sort(), [...k.uniforms].sort(), k.name);
    const src = kernelSource(k);
    assert.equal(src.match(/^struct Params \{/gm)?.length, 1, k.name);
    assert.match(
      src,
      new RegExp(`@binding\\(${k.bindings.indexOf("uniform")}\\) var<uniform> p: Params;`),
    );
  }
});

test("kernels share the prelude and write no entry prologue, Params, WG, NONE or FNV of their own", () => {
  const files = readdirSync(SHADER_DIR).filter((f) => f.endsWith(".wgsl") && !f.startsWith("_"));
  assert.equal(files.length, Object.keys(KERNELS).length);
  for (const f of files) {
    const code = readFileSync(new URL(f, SHADER_DIR), "utf8");
    assert.doesNotMatch(
      code,
      /struct Params|override WG|@builtin|const NONE|0x811c9dc5|0x01000193/,
      f,
    );
    assert.match(code, /fn main\(inv: Thread\)/, f);
  }
  for (const k of Object.values(KERNELS)) {
    assert.ok(k.code.startsWith(prelude), k.name);
    assert.equal(k.code.split("override WG").length, 2, k.name);
  }
});

test("packUniforms() writes fields in declared order and rejects missing or non-u32 values", () => {
  const k = KERNELS.markOffsets;
  assert.deepEqual([...packUniforms(k, { marks_base: 9, n_marks: 2 })], [2, 9, 0, 0]);
  assert.throws(
    () => packUniforms(k, { n_marks: 2 } as unknown as { n_marks: number; marks_base: number }),
    {
      name: "RangeError",
      message: 'Cannot write uniform marks_base of "mark_offsets": undefined is not a u32',
    },
  );
  assert.throws(() => packUniforms(k, { n_marks: -1, marks_base: 0 }), RangeError);
});
