// Loads the project's Rust crypto, compiled to WebAssembly, once.
import init from "../pkg/porchlight_wasm.js";

export * from "../pkg/porchlight_wasm.js";

let ready: Promise<unknown> | null = null;

export function loadCrypto(): Promise<unknown> {
  ready ??= init({ module_or_path: "/porchlight_wasm_bg.wasm" });
  return ready;
}
