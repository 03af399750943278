// Fails when a tracked text file still holds a merge conflict marker (`<<<<<<< ` or `>>>>>>> ` at
// the start of a line): one landed in docs/ once, formatted and linted as ordinary prose, and no
// other check noticed. Part of `npm run check`. Lists every hit as FILE:LINE.
//
//   node scripts/check_merge_markers.mjs
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const MARKER = /^(<{7}|>{7})( |$)/m;

let files;
try {
  files = execFileSync("git", ["ls-files", "-z"], { encoding: "utf8" }).split("\0").filter(Boolean);
} catch {
  console.log("check_merge_markers: not a git checkout; skipped");
  process.exit(0);
}
const hits = [];
for (const f of files) {
  let text;
  try {
    text = readFileSync(f);
  } catch {
    continue; // deleted in the work tree
  }
  if (text.includes(0)) continue; // binary
  const s = text.toString("utf8");
  if (!MARKER.test(s)) continue;
  s.split("\n").forEach((line, i) => {
    if (/^(<{7}|>{7})( |$)/.test(line)) hits.push(`${f}:${i + 1}: ${line.slice(0, 60)}`);
  });
}
if (hits.length) {
  console.error(`merge conflict markers left in ${hits.length} line(s):\n${hits.join("\n")}`);
  process.exit(1);
}
