import { Deflate, Z_SYNC_FLUSH } from "pako";
import { concatBytes } from "./bytes";

/**
 * Raw DEFLATE (RFC 1951) of `data` as non-final blocks ending in a sync flush (an empty
 * stored block, so the output ends on a byte boundary). Each call uses a fresh compressor,
 * so no back-reference reaches into earlier calls' data: outputs of successive calls
 * concatenate into one valid stream, and a call needs no state from the previous one.
 * https://www.rfc-editor.org/rfc/rfc1951#section-3.2.3 , https://zlib.net/manual.html (Z_SYNC_FLUSH)
 *
 * pako (a port of zlib) rather than fflate: fflate 0.8's streaming Deflate can emit distances
 * that reach before the start of the stream, which zlib rejects ("invalid distance too far back")
 * and which would read the previous segment's bytes once segments are concatenated.
 */
export function deflateSegment(data: Uint8Array): Uint8Array {
  if (data.length === 0) return new Uint8Array(0);
  const d = new Deflate({ level: 6, raw: true, chunkSize: 64 * 1024 });
  const out: Uint8Array[] = [];
  d.onData = (chunk) => out.push(chunk);
  if (!d.push(data, Z_SYNC_FLUSH)) throw new Error(`deflate failed: ${d.msg}`);
  return concatBytes(out);
}

/**
 * The last block of the stream: an empty fixed-Huffman block with BFINAL set
 * (bits 1, 01, then the 7-bit end-of-block code 0000000).
 */
export const FINAL_EMPTY_BLOCK = new Uint8Array([0x03, 0x00]);
