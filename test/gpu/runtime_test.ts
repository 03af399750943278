// The runtime loader: Dawn's informational warnings are filtered, real stderr lines kept.

import { test } from "node:test";
import assert from "node:assert/strict";
import { filterDawnNoise } from "../../src/gpu/runtime.ts";

test("filterDawnNoise() drops Dawn's 'artificially reduced' limit warnings and keeps the rest", () => {
  const text = [
    "Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.",
    "Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.",
    "Error: something a user must see",
    "",
  ].join("\n");
  assert.equal(filterDawnNoise(text), "Error: something a user must see\n");
  assert.equal(filterDawnNoise(""), "");
});
