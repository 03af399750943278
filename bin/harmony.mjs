#!/usr/bin/env node
// `npx harmony …`: runs src/cli.ts with Bun (a devDependency of this package, or `bun` on PATH),
// since Node cannot load the TypeScript sources directly.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const local = join(root, "node_modules", ".bin", process.platform === "win32" ? "bun.exe" : "bun");
const bun = existsSync(local) ? local : "bun";
const r = spawnSync(bun, [join(root, "src", "cli.ts"), ...process.argv.slice(2)], {
  stdio: "inherit",
});
if (r.error) {
  process.stderr.write(
    `harmony: cannot start bun (${r.error.message}); install it or run with deno\n`,
  );
  process.exit(3);
}
process.exit(r.status ?? 3);
