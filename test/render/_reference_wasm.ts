// Loads the `openai-harmony` npm package (the reference compiled to WASM) for side-by-side
// checks and benchmarks. Its vocabulary `o200k_base.tiktoken` is fetched over HTTP from a base
// URL (file:// does not work), so this writes that file from js-tiktoken's ranks (checked
// against the published SHA-256) and serves it from a loopback server.
import { load_harmony_encoding } from "openai-harmony";
import type { JsHarmonyEncoding } from "openai-harmony";

const SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d";

/** The o200k_base.tiktoken file (`base64(bytes) rank` lines), rebuilt from js-tiktoken. */
async function tiktokenFile(): Promise<Uint8Array> {
  const ranks = (await import("js-tiktoken/ranks/o200k_base")).default as { bpe_ranks: string };
  const byRank: string[] = [];
  for (const line of ranks.bpe_ranks.split("\n")) {
    if (line === "") continue;
    const [, offsetStr, ...tokens] = line.split(" ");
    const offset = Number.parseInt(offsetStr, 10);
    for (let i = 0; i < tokens.length; i++) byRank[offset + i] = tokens[i];
  }
  let text = "";
  for (let r = 0; r < byRank.length; r++) text += `${byRank[r]} ${r}\n`;
  const bytes = new TextEncoder().encode(text);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== SHA256) throw new Error(`Cannot rebuild o200k_base.tiktoken: SHA-256 ${hex}`);
  return bytes;
}

interface Served {
  url: string;
  close(): Promise<void> | void;
}

function serve(body: Uint8Array): Served {
  const handler = (req: Request): Response => {
    const path = new URL(req.url).pathname;
    if (path.endsWith("/o200k_base.tiktoken")) return new Response(body as BodyInit);
    return new Response("not found", { status: 404 });
  };
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  if (g.Bun) {
    const server = g.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
    return { url: `http://127.0.0.1:${server.port}`, close: () => server.stop(true) };
  }
  const server = g.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

/** The WASM reference encoding; `close()` stops the loopback server. */
export async function loadReferenceWasm(): Promise<
  { enc: JsHarmonyEncoding; close(): Promise<void> }
> {
  const served = serve(await tiktokenFile());
  try {
    const enc = await load_harmony_encoding("HarmonyGptOss", served.url);
    return { enc, close: async () => await served.close() };
  } catch (e) {
    await served.close();
    throw e;
  }
}
