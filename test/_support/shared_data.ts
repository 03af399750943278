// Where the shared test data is: `../shared` beside the checkout (CI has it; a user's clone does
// not). One rule for every test helper: a helper that finds `SHARED` undefined reads the excerpts
// bundled in `test/fixtures/` (each folder's README.md names their origins and licenses) instead,
// so a clone without ../shared runs the same tests on smaller data — never skips them, never
// passes them on nothing. `HARMONY_TEST_NO_SHARED=1` runs the suite as in such a clone.
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../shared/", import.meta.url));

/**
 * `../shared/` (with its trailing slash) when it holds the corpus and the golden files and
 * `HARMONY_TEST_NO_SHARED` is not `1`; else undefined.
 */
export const SHARED: string | undefined = process.env.HARMONY_TEST_NO_SHARED !== "1" &&
    existsSync(`${ROOT}corpus/README.md`) && existsSync(`${ROOT}harmony-golden`)
  ? ROOT
  : undefined;

/** `test/fixtures/` (with its trailing slash). */
export const FIXTURES: string = fileURLToPath(new URL("../fixtures/", import.meta.url));
