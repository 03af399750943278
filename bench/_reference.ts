// Shared set-up of the benchmarks that compare with the `openai-harmony` npm package (a WASM build
// of the reference). It fetches its vocabulary `o200k_base.tiktoken` over HTTP; we write that file
// from our own vocabulary (lines `base64(bytes) rank`, byte-identical to OpenAI's file, whose hash
// the package checks) and serve it from 127.0.0.1 for the duration of the load.
import { load_harmony_encoding } from "openai-harmony";
import type { JsHarmonyEncoding } from "openai-harmony";
import { loadTokenizer } from "../src/tokenizer/mod.ts";

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

/** The o200k_base vocabulary file in tiktoken's format. */
export async function tiktokenVocabFile(): Promise<string> {
  const tok = await loadTokenizer();
  const lines: string[] = [];
  for (let id = 0; id < 199998; id++) lines.push(`${base64(tok.tokenBytes(id))} ${id}\n`);
  return lines.join("");
}

interface Server {
  url: string;
  stop(): Promise<void> | void;
}

function serve(body: string): Server {
  const handler = (req: Request) =>
    new URL(req.url).pathname.endsWith("/o200k_base.tiktoken")
      ? new Response(body)
      : new Response("not found", { status: 404 });
  const g = globalThis as {
    Deno?: {
      serve(o: { hostname: string; port: number; onListen?: () => void }, h: typeof handler): {
        addr: { port: number };
        shutdown(): Promise<void>;
      };
    };
    Bun?: {
      serve(o: { hostname: string; port: number; fetch: typeof handler }): {
        port: number;
        stop(force?: boolean): void;
      };
    };
  };
  if (g.Deno) {
    const s = g.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
    return { url: `http://127.0.0.1:${s.addr.port}/`, stop: () => s.shutdown() };
  }
  if (g.Bun) {
    const s = g.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
    return { url: `http://127.0.0.1:${s.port}/`, stop: () => s.stop(true) };
  }
  throw new Error("Cannot serve the vocabulary: neither Deno nor Bun");
}

let cached: Promise<JsHarmonyEncoding> | undefined;

/** Loads the reference's WASM encoding (HarmonyGptOss) once. */
export function loadReferenceEncoding(): Promise<JsHarmonyEncoding> {
  return cached ??= (async () => {
    const server = serve(await tiktokenVocabFile());
    try {
      return await load_harmony_encoding("HarmonyGptOss", server.url);
    } finally {
      await server.stop();
    }
  })();
}
