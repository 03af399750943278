/**
 * The package version the CLI reports (`harmony --version`). Kept equal to `version` in
 * package.json and deno.json by test/package/version_test.ts (JSR and dist/ ship no package.json
 * the CLI could read at run time).
 *
 * @module
 */

/** The harmony-engine version, e.g. `"0.1.0"`. */
export const VERSION: string = "0.1.0";
