// Seeded random token streams with dense special tokens: the parser never throws anything but
// HarmonyParseError, always terminates, and its streaming and whole-array paths agree.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Role } from "../../src/chat/role.ts";
import {
  HarmonyParseError,
  parseMessagesFromCompletionTokens,
  StreamableParser,
} from "../../src/parse/mod.ts";
import { encoding, json, ord } from "./_helpers.ts";
import { mulberry32 } from "../_support/random.ts";

const SPECIAL = [
  199998,
  199999,
  200002,
  200003,
  200005,
  200006,
  200007,
  200008,
  200012,
  200014,
  201088,
];
const WORDS = [
  ...new Set([
    ...ord("assistant"),
    ...ord("user"),
    ...ord("tool"),
    ...ord(" to=functions.get_weather"),
    ...ord("to=assistant"),
    ...ord("analysis"),
    ...ord(" final"),
    ...ord(" json"),
    ...ord(" \t\n"),
    ...ord("\u00a0\u0085\ufeff"),
    ...ord("héllo 💖 门"),
    9552, // [20 F0 9F]
    20373, // [BE B3 E9 97 A8]
    52415, // [8C 93 EA B8 80]
    222, // [80]
    187, // [FF]
    158, // [E2]
  ]),
];
const INVALID = [201089, 300000, 0xffffffff];

function randomTokens(rand: () => number): number[] {
  const n = Math.floor(rand() * 48);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.45) out.push(SPECIAL[Math.floor(rand() * SPECIAL.length)]);
    else if (r < 0.9) out.push(WORDS[Math.floor(rand() * WORDS.length)]);
    else if (r < 0.98) out.push(Math.floor(rand() * 201089));
    else out.push(INVALID[Math.floor(rand() * INVALID.length)]);
  }
  return out;
}

function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof HarmonyParseError)) throw e;
    return `${e.reason}@${e.tokenIndex}`;
  }
}

test("4000 seeded random streams × 4 modes: only HarmonyParseError, streaming = whole-array", () => {
  const rand = mulberry32(0x5eed);
  const modes: [Role | null, boolean][] = [[null, true], [null, false], ["assistant", true], [
    "assistant",
    false,
  ]];
  let returned = 0;
  for (let run = 0; run < 4000; run++) {
    // Half the streams start like a real completion so that more of them reach content.
    const tokens = run % 2 === 0
      ? [200006, ...ord("assistant"), 200008, ...randomTokens(rand)]
      : randomTokens(rand);
    for (const [role, strict] of modes) {
      const whole = outcome(() =>
        json(parseMessagesFromCompletionTokens(encoding, tokens, role, { strict }))
      );
      const streamed = outcome(() => {
        const p = new StreamableParser(encoding, role, { strict });
        let deltas = "";
        let stuck = false;
        for (let i = 0; i < tokens.length; i++) {
          const before = p.messages.length;
          const wasContent = p.state === "Content";
          p.process(tokens[i]);
          if (tokens[i] > 201088 && wasContent) stuck = true;
          const d = p.lastContentDelta;
          if (p.state === "Content") {
            if (!wasContent) {
              deltas = "";
              stuck = false;
            }
            if (d !== undefined) deltas += d;
            assert.equal(p.currentContent, deltas, `content = joined deltas (${tokens})`);
            assert.equal(stuck && d !== undefined, false);
          } else {
            assert.equal(d, undefined);
            assert.equal(p.currentContent, "");
            assert.ok(p.messages.length >= before);
          }
        }
        p.processEos();
        return json(p.messages);
      });
      assert.deepEqual(streamed, whole, JSON.stringify({ tokens, role, strict }));
      if (Array.isArray(whole)) returned++;
    }
  }
  assert.ok(returned > 1200, `only ${returned} runs returned messages`);
});
