/** Bytes of a string once UTF-8 encoded, without encoding it. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 2; // surrogate pair: 2 units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Decodes UTF-8 strictly. Returns the text, or the offset of the first byte that is not part of
 * a well-formed sequence (overlong forms, surrogates and code points past U+10FFFF included).
 */
export function decodeUtf8(bytes: Uint8Array): { text: string } | { badByte: number } {
  try {
    return { text: strict.decode(bytes) };
  } catch {
    return { badByte: firstBadUtf8Byte(bytes) };
  }
}

/** Offset of the first byte of an ill-formed UTF-8 sequence (Unicode table 3-7), or -1. */
export function firstBadUtf8Byte(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    // [length, lowest and highest second byte]
    const seq: [number, number, number] | null =
      c >= 0xc2 && c <= 0xdf ? [2, 0x80, 0xbf]
      : c === 0xe0 ? [3, 0xa0, 0xbf]
      : (c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef ? [3, 0x80, 0xbf]
      : c === 0xed ? [3, 0x80, 0x9f]
      : c === 0xf0 ? [4, 0x90, 0xbf]
      : c >= 0xf1 && c <= 0xf3 ? [4, 0x80, 0xbf]
      : c === 0xf4 ? [4, 0x80, 0x8f]
      : null;
    if (!seq) return i;
    const [n, lo, hi] = seq;
    if (i + n > b.length) return i;
    const second = b[i + 1] as number;
    if (second < lo || second > hi) return i;
    for (let k = 2; k < n; k++) {
      const x = b[i + k] as number;
      if (x < 0x80 || x > 0xbf) return i;
    }
    i += n;
  }
  return -1;
}
