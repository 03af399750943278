/**
 * The backend conformance suite, written once and run against every backend (CPU and GPU test
 * files call it): each backend's batch results must equal the CPU tokenizer's and the streaming
 * parser's, text by text and completion by completion.
 *
 * @module
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import type { Backend } from "../../src/engine/backend.ts";
import { parseBatchCpu } from "../../src/engine/cpu_backend.ts";
import { loadTokenizer } from "../../src/tokenizer/mod.ts";
import type { EncodeOptions } from "../../src/tokenizer/types.ts";
import {
  ADVERSARIAL,
  conversationSamples,
  harmonySamples,
  textSamples,
  toolSamples,
} from "./samples.ts";

/** Asserts that `backend` encodes `texts` like the CPU tokenizer (tokens and failing indices). */
export async function assertEncodesLikeCpu(
  backend: Backend,
  texts: readonly string[],
  options?: EncodeOptions,
): Promise<void> {
  const tok = await loadTokenizer();
  const batch = await backend.encodeBatch(texts, options);
  assert.equal(batch.length, texts.length);
  for (let i = 0; i < texts.length; i++) {
    let want: Uint32Array | Error;
    try {
      want = tok.encode(texts[i], options);
    } catch (e) {
      want = e as Error;
    }
    if (want instanceof Error) {
      const got = batch.errors.get(i);
      assert.ok(got, `text ${i} should fail: ${want.message}`);
      assert.equal(got.constructor, want.constructor);
      assert.equal(got.message, want.message);
      assert.equal(batch.get(i).length, 0);
    } else {
      assert.equal(
        batch.errors.get(i),
        undefined,
        `text ${i} failed: ${batch.errors.get(i)?.message}`,
      );
      const got = batch.get(i);
      if (got.length !== want.length || !got.every((t, k) => t === want[k])) {
        assert.deepEqual(
          [...got],
          [...want],
          `text ${i} (${JSON.stringify(texts[i].slice(0, 32))})`,
        );
      }
    }
  }
}

/**
 * Registers the conformance tests for a backend. `create` is called once (lazily) and the
 * backend destroyed by the last test. `skip`: a reason to skip everything, or false.
 */
export function runBackendConformance(
  name: string,
  create: () => Promise<Backend>,
  skip: string | false = false,
): void {
  let backend: Promise<Backend> | undefined;
  const get = () => backend ??= create();

  test(
    `${name}: encodeBatch matches the CPU tokenizer on the adversarial list`,
    { skip },
    async () => {
      await assertEncodesLikeCpu(await get(), ADVERSARIAL, { disallowedSpecial: [] });
      await assertEncodesLikeCpu(await get(), ADVERSARIAL, { allowedSpecial: "all" });
      await assertEncodesLikeCpu(await get(), ADVERSARIAL);
      await assertEncodesLikeCpu(await get(), ADVERSARIAL, {
        allowedSpecial: ["<|start|>", "<|end|>"],
        disallowedSpecial: ["<|call|>"],
      });
    },
  );

  test(
    `${name}: encodeBatch matches the CPU tokenizer on every text kind of the corpus`,
    { skip },
    async () => {
      const texts = [...textSamples(), ...conversationSamples(), ...toolSamples()];
      assert.ok(texts.length > 30);
      await assertEncodesLikeCpu(await get(), texts, { disallowedSpecial: [] });
    },
  );

  test(
    `${name}: encodeBatch matches on harmony text with special tokens allowed or not`,
    { skip },
    async () => {
      const texts = harmonySamples();
      assert.ok(texts.length > 10);
      await assertEncodesLikeCpu(await get(), texts, { allowedSpecial: "all" });
      await assertEncodesLikeCpu(await get(), texts);
    },
  );

  test(`${name}: batches of 0, 1, 2 and 1000 texts, with 0-byte texts`, { skip }, async () => {
    const b = await get();
    assert.equal((await b.encodeBatch([])).length, 0);
    await assertEncodesLikeCpu(b, ["single text"], { disallowedSpecial: [] });
    await assertEncodesLikeCpu(b, ["", "two"], { disallowedSpecial: [] });
    const many = Array.from(
      { length: 1000 },
      (_, i) => i % 7 === 0 ? "" : `item ${i}: ${"word ".repeat(i % 13)}`,
    );
    await assertEncodesLikeCpu(b, many, { disallowedSpecial: [] });
    await assertEncodesLikeCpu(b, ["", "", ""], { allowedSpecial: "all" });
  });

  test(
    `${name}: parseBatch matches the streaming parser on harmony outputs`,
    { skip },
    async () => {
      const tok = await loadTokenizer();
      const b = await get();
      const completions = harmonySamples().map((t) => tok.encode(t, { allowedSpecial: "all" }));
      completions.push(new Uint32Array(0), Uint32Array.from([200006]), Uint32Array.from([1, 2, 3]));
      for (const role of [undefined, "assistant" as const]) {
        const got = await b.parseBatch(completions, { role });
        const want = parseBatchCpu(tok, completions, { role });
        assert.equal(got.length, want.length);
        for (let i = 0; i < got.length; i++) {
          if (want[i].error) {
            assert.ok(got[i].error, `completion ${i} should fail`);
            assert.equal(got[i].error!.message, want[i].error!.message);
          } else assert.deepEqual(got[i].messages, want[i].messages, `completion ${i}`);
        }
      }
    },
  );

  test(`${name}: destroy() frees the backend`, { skip }, async () => {
    (await get()).destroy();
  });
}
