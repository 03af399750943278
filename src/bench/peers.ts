/**
 * The peers `harmony bench --peers` runs beside ours on the same input, each loaded only if it is
 * installed: tokenizers for `encode` (gpt-tokenizer, tiktoken's WASM build, js-tiktoken) and the
 * reference's WASM build (`openai-harmony`) for `render` and `parse`. A missing one is named with
 * the command that installs it.
 *
 * @module
 */

import { type HarmonyWasmEncoding, loadHarmonyWasm } from "./harmony_wasm.ts";

/** A tokenizer peer: encodes text as ordinary text (no special tokens). */
export interface EncodePeer {
  /** The package name. */
  name: string;
  /** Encodes one text. */
  encode(text: string): ArrayLike<number>;
}

/** A peer that could not be loaded, and how to install it. */
export interface MissingPeer {
  /** The package name. */
  name: string;
  /** The command that installs it. */
  install: string;
}

async function load<T>(name: string): Promise<T> {
  return await import(name) as T;
}

/** Loads the installed tokenizer peers; the others are returned in `missing`. */
export async function loadEncodePeers(): Promise<{ peers: EncodePeer[]; missing: MissingPeer[] }> {
  const peers: EncodePeer[] = [];
  const missing: MissingPeer[] = [];
  try {
    const gpt = await load<{
      encode(t: string, o: { disallowedSpecial: Set<string> }): number[];
    }>("gpt-tokenizer/encoding/o200k_base");
    const none = new Set<string>();
    peers.push({
      name: "gpt-tokenizer",
      encode: (t) => gpt.encode(t, { disallowedSpecial: none }),
    });
  } catch {
    missing.push({ name: "gpt-tokenizer", install: "npm install -D gpt-tokenizer" });
  }
  try {
    const tk = await load<{
      get_encoding(n: string): { encode_ordinary(t: string): Uint32Array };
    }>("tiktoken");
    const enc = tk.get_encoding("o200k_base");
    peers.push({ name: "tiktoken (WASM)", encode: (t) => enc.encode_ordinary(t) });
  } catch {
    missing.push({ name: "tiktoken", install: "npm install -D tiktoken" });
  }
  try {
    const lite = await load<{
      Tiktoken: new (ranks: unknown) => { encode(t: string, a: string[], d: string[]): number[] };
    }>("js-tiktoken/lite");
    const ranks = (await load<{ default: unknown }>("js-tiktoken/ranks/o200k_base")).default;
    const enc = new lite.Tiktoken(ranks);
    peers.push({ name: "js-tiktoken", encode: (t) => enc.encode(t, [], []) });
  } catch {
    missing.push({ name: "js-tiktoken", install: "npm install -D js-tiktoken" });
  }
  return { peers, missing };
}

/** Loads the reference's WASM build, or says how to install it. */
export async function loadHarmonyPeer(): Promise<
  { peer: HarmonyWasmEncoding; missing?: undefined } | { peer?: undefined; missing: MissingPeer }
> {
  try {
    return { peer: await loadHarmonyWasm() };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return {
      missing: {
        name: "openai-harmony",
        install: /neither Deno nor Bun/.test(why)
          ? "run the bench with bun or deno (the WASM peer needs their HTTP server)"
          : "npm install -D openai-harmony",
      },
    };
  }
}
