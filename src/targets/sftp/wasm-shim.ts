/**
 * ssh2 computes Poly1305 (chacha20-poly1305@openssh.com) with a small emscripten
 * WebAssembly module that it compiles from embedded bytes when it loads. Workers do
 * not compile WebAssembly from bytes at run time, only modules shipped with the Worker,
 * and ssh2's client waits for that module before it starts any connection.
 * https://developers.cloudflare.com/workers/runtime-apis/webassembly/
 *
 * poly1305.wasm is those same bytes (ssh2 1.17.0, lib/protocol/crypto/poly1305.js),
 * shipped as a compiled module; this shim hands it to ssh2 when ssh2 asks to
 * instantiate exactly those bytes (checked by SHA-256). Import it before `ssh2`.
 */
import poly1305 from "./poly1305.wasm";

const POLY1305_SHA256 = "e43ac7cd96599ab0d877b65158ebba07f289dcbf3e4eb4592240c4bf27527bd9";

async function sha256(bytes: BufferSource): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

const wasm = WebAssembly as unknown as {
  instantiate(src: unknown, imports?: unknown): Promise<unknown>;
  __ferryPoly1305?: boolean;
};
if (!wasm.__ferryPoly1305) {
  const original = wasm.instantiate.bind(WebAssembly);
  wasm.instantiate = async (src: unknown, imports?: unknown) => {
    if ((src instanceof ArrayBuffer || ArrayBuffer.isView(src)) && (await sha256(src as BufferSource)) === POLY1305_SHA256) {
      const instance = await original(poly1305, imports);
      return { module: poly1305, instance };
    }
    return original(src, imports);
  };
  wasm.__ferryPoly1305 = true;
}
