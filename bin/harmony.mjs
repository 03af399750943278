#!/usr/bin/env node
// The installed `harmony` command (`npx harmony …`, `bunx harmony …`, or
// `deno run -A npm:harmony-engine …`): runs the built CLI (dist/cli.js) in whichever runtime
// started this file — Node ≥ 20, Bun or Deno — without spawning another one.
// In a clone of the repository, `npm run build` makes dist/ (or run `bun src/cli.ts …`).
let cli;
try {
  cli = await import("../dist/cli.js");
} catch (e) {
  if (e?.code !== "ERR_MODULE_NOT_FOUND" || !String(e.message).includes("dist")) throw e;
  process.stderr.write(
    "harmony: Cannot start the CLI: dist/cli.js is missing (run `npm run build` in this checkout)\n",
  );
  process.exit(3);
}
await cli.run();
