// The bundled sample as a local file, from a checkout and from a URL (how JSR runs the module).
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { bundledSamplePath } from "../../src/bench/inputs.ts";

describe("bundledSamplePath", () => {
  test("in a checkout it is examples/sample.jsonl itself", async () => {
    const path = await bundledSamplePath();
    assert.match(path, /examples[\\/]sample\.jsonl$/);
  });

  test("from a non-file URL it is a downloaded copy, the same bytes, reused", async () => {
    const text = '{"messages":[{"role":"user","content":"hi"}]}\n';
    const url = new URL(`data:application/jsonl,${encodeURIComponent(text)}`);
    const first = await bundledSamplePath(url);
    assert.equal(readFileSync(first, "utf8"), text);
    assert.equal(await bundledSamplePath(url), first);
  });
});
