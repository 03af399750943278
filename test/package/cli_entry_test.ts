// `harmony --version` / `-V` and the "did you mean" hint for a mistyped command (issue #13).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { main, suggestCommand } from "../../src/cli/main.ts";
import { memoryHost } from "../../src/cli/host.ts";
import { COMMANDS } from "../../src/cli/commands.ts";
import { VERSION } from "../../src/version.ts";

const root = new URL("../../", import.meta.url);
const json = (name: string) => JSON.parse(readFileSync(new URL(name, root), "utf8"));

test("VERSION equals the version in package.json and deno.json", () => {
  assert.equal(VERSION, json("package.json").version);
  assert.equal(VERSION, json("deno.json").version);
});

for (const flag of ["--version", "-V"]) {
  test(`harmony ${flag} prints the package version and exits 0`, async () => {
    const host = memoryHost();
    assert.equal(await main([flag], host), 0);
    assert.equal(host.out(), `harmony-engine ${VERSION}\n`);
    assert.equal(host.err(), "");
  });
}

test("an unknown command exits 2 and names the closest command", async () => {
  const host = memoryHost();
  assert.equal(await main(["rendr"], host), 2);
  assert.match(host.err(), /^harmony: unknown command "rendr"; did you mean "render"\?\n/);
});

test("an unknown command far from every command gets no suggestion", async () => {
  const host = memoryHost();
  assert.equal(await main(["frobnicate"], host), 2);
  assert.match(host.err(), /^harmony: unknown command "frobnicate"\n\nharmony — /);
});

const cases: [string, string | undefined][] = [
  ["rendr", "render"],
  ["RENDER", "render"],
  ["pasre", "parse"],
  ["encdoe", "encode"],
  ["render-datset", "render-dataset"],
  ["parse-datasets", "parse-dataset"],
  ["rend", "render"],
  ["ben", "bench"],
  ["merg", "merge"],
  ["x", undefined],
  ["zzz", undefined],
  ["renderer-of-things", undefined],
];
for (const [typed, want] of cases) {
  test(`suggestCommand("${typed}") is ${want === undefined ? "undefined" : `"${want}"`}`, () => {
    assert.equal(suggestCommand(typed, Object.keys(COMMANDS)), want);
  });
}
