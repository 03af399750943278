/**
 * The reference, `openai/harmony` compiled to WASM (the `openai-harmony` npm package), as a peer
 * for benchmarks and side-by-side checks. It fetches its vocabulary `o200k_base.tiktoken` over
 * HTTP from a base URL (file:// does not work), so {@link loadHarmonyWasm} writes that file from
 * our own vocabulary (lines `base64(bytes) rank`), checks it against OpenAI's published SHA-256 —
 * which also proves our vocabulary is byte-identical to the reference's — and serves it from
 * 127.0.0.1 while the package loads it. Deno and Bun only (they have a built-in HTTP server).
 *
 * @module
 */

import { loadTokenizer } from "../tokenizer/mod.ts";

/** SHA-256 of OpenAI's o200k_base.tiktoken (openai/harmony src/tiktoken_ext/public_encodings.rs). */
export const O200K_BASE_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d";

/** The part of the WASM encoding's API the benchmarks use. */
export interface HarmonyWasmEncoding {
  /** Renders a conversation (harmony JSON) for completion; returns token ids. */
  renderConversationForCompletion(
    conversation: unknown,
    role: string,
    config?: { auto_drop_analysis?: boolean },
  ): ArrayLike<number>;
  /** Parses completion tokens; returns the messages as a JSON string. */
  parseMessagesFromCompletionTokens(tokens: ArrayLike<number>, role: string | null): string;
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

/**
 * The o200k_base vocabulary file in tiktoken's format, built from our vocabulary.
 *
 * @throws {Error} when its SHA-256 is not OpenAI's (our vocabulary would differ).
 */
export async function tiktokenVocabFile(): Promise<Uint8Array> {
  const tok = await loadTokenizer();
  const lines: string[] = [];
  for (let id = 0; id < 199998; id++) lines.push(`${base64(tok.tokenBytes(id))} ${id}\n`);
  const bytes = new TextEncoder().encode(lines.join(""));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== O200K_BASE_SHA256) {
    throw new Error(`Cannot rebuild o200k_base.tiktoken: SHA-256 ${hex} is not OpenAI's`);
  }
  return bytes;
}

interface Served {
  url: string;
  close(): Promise<void> | void;
}

function serve(body: Uint8Array): Served {
  const handler = (req: Request): Response =>
    new URL(req.url).pathname.endsWith("/o200k_base.tiktoken")
      ? new Response(body as BodyInit)
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
  if (g.Bun) {
    const s = g.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
    return { url: `http://127.0.0.1:${s.port}/`, close: () => s.stop(true) };
  }
  if (g.Deno) {
    const s = g.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
    return { url: `http://127.0.0.1:${s.addr.port}/`, close: () => s.shutdown() };
  }
  throw new Error("Cannot serve the vocabulary to the WASM reference: neither Deno nor Bun");
}

let cached: Promise<HarmonyWasmEncoding> | undefined;

/**
 * The reference's WASM encoding (HarmonyGptOss), loaded once per process.
 *
 * @throws {Error} when `openai-harmony` is not installed or the runtime is neither Deno nor Bun.
 */
export function loadHarmonyWasm(): Promise<HarmonyWasmEncoding> {
  return cached ??= (async () => {
    const name = "openai-harmony";
    const mod = await import(name) as {
      load_harmony_encoding(name: string, base: string): Promise<HarmonyWasmEncoding>;
    };
    const served = serve(await tiktokenVocabFile());
    try {
      return await mod.load_harmony_encoding("HarmonyGptOss", served.url);
    } finally {
      await served.close();
    }
  })();
}
