const encoder = new TextEncoder();

/** UTF-8 bytes of `s`. Strings read from D1 are valid UTF-16, so this is lossless. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}
