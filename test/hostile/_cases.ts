// The hostile-input matrix (issue #11): for every JSONL command, the same kinds of broken input.
// Each case is one stdin text; the expected output is pinned in hostile_test.ts, so Deno and Bun
// must print exactly the same bytes.

/** A JSONL command and how to wrap a value in one of its records. */
export interface JsonlCommand {
  name: string;
  args: string[];
  /** A valid record. */
  ok: string;
  /** A record with `ids` as its token ids (decode/parse) or its text (encode/render). */
  withIds: (ids: string) => string;
}

export const COMMANDS: JsonlCommand[] = [
  {
    name: "encode",
    args: ["encode", "--jsonl"],
    ok: '{"text":"hi"}',
    withIds: (v) => `{"text":${v}}`,
  },
  {
    name: "decode",
    args: ["decode", "--jsonl"],
    ok: '{"tokens":[3686]}',
    withIds: (v) => `{"tokens":[${v}]}`,
  },
  {
    name: "render",
    args: ["render"],
    ok: '{"messages":[{"role":"user","content":"hi"}]}',
    withIds: (v) => `{"messages":[{"role":"user","content":${v}}]}`,
  },
  {
    name: "parse",
    args: ["parse"],
    ok: '{"tokens":[200006,1428,200008,3686,200007]}',
    withIds: (v) => `{"tokens":[200006,1428,200008,${v},200007]}`,
  },
];

const enc = new TextEncoder();
const bytes = (...parts: Array<string | number[]>): Uint8Array => {
  const out: number[] = [];
  for (const p of parts) out.push(...(typeof p === "string" ? enc.encode(p) : p));
  return Uint8Array.from(out);
};

/** The matrix cases for one command: name → stdin. */
export function matrix(c: JsonlCommand): Array<[string, Uint8Array]> {
  const ids = ["-1", "1.5", '"1"', "null", "4294967296", "9007199254740992", "201089", "1e99999"];
  return [
    ["malformed JSON", bytes(`${c.ok}\n{"x":\n${c.ok}\n`)],
    ["truncated last line", bytes(`${c.ok}\n${c.ok.slice(0, 9)}`)],
    ["CRLF line ends", bytes(`${c.ok}\r\n${c.ok}\r\n`)],
    ["BOM at the start, BOM later", bytes(`\ufeff${c.ok}\n\ufeff${c.ok}\n`)],
    [
      "raw NUL in a string, escaped NUL",
      bytes(c.withIds('"a'), [0], '"', "\n", c.withIds('"a\\u0000"'), "\n"),
    ],
    ["NUL line", bytes([0], "\n", c.ok, "\n")],
    ["blank and whitespace-only lines", bytes(`\n${c.ok}\n  \t\n\r\n${c.ok}`)],
    [
      "invalid UTF-8",
      bytes(c.withIds('"H'), [0xc3, 0x28], 'i"', "\n", c.ok, "\n", '{"text":"caf', [0xe9], '"}\n'),
    ],
    [
      "overlong and surrogate UTF-8",
      bytes([0xc0, 0xaf], "\n", [0xed, 0xa0, 0x80], "\n", c.ok, "\n"),
    ],
    ["odd ids", bytes(ids.map((v) => c.withIds(v)).join("\n") + "\n")],
    ["duplicate keys", bytes(`${c.ok.slice(0, -1)},${c.ok.slice(1)}\n`)],
    ["not an object", bytes('[]\n5\n"x"\nnull\n')],
    [
      "__proto__ key",
      bytes(`{"__proto__":${c.ok},"1":1}\n${c.ok.slice(0, -1)},"__proto__":{"text":5}}\n`),
    ],
    ["deep nesting", bytes(c.withIds("[".repeat(1200) + "]".repeat(1200)) + "\n" + c.ok + "\n")],
  ];
}
