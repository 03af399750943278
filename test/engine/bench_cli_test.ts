import { test } from "node:test";
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";

test("bench --backend cpu --json prints encode, render and parse rows for the CPU", async () => {
  const host = memoryHost();
  assert.equal(await main(["bench", "--backend", "cpu", "--json"], host), 0);
  const rows = host.out().trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => [r.backend, r.task]), [
    ["cpu", "encode"],
    ["cpu", "render"],
    ["cpu", "parse"],
  ]);
  assert.ok(rows.every((r) => r.tokens > 10000 && r.tokensPerSecond > 0));
});

test("bench rejects an unknown backend as a usage error", async () => {
  const host = memoryHost();
  assert.equal(await main(["bench", "--backend", "tpu"], host), 2);
  assert.match(host.err(), /--backend must be one of cpu\|gpu\|both/);
});
