/**
 * The package version (`harmony --version`; part of the key of cached engine calibrations). Kept
 * equal to `version` in package.json and deno.json by test/package/cli_entry_test.ts (JSR and dist/
 * ship no package.json the code could read at run time).
 *
 * @module
 */

/** The harmony-engine version, e.g. `"0.1.0"`. */
export const VERSION: string = "0.1.0";
