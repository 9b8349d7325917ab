import type { Compressor, FormatterState } from "../types";
import { LeWriter, concatBytes } from "./bytes";
import { crc32 } from "./crc32";
import { FINAL_EMPTY_BLOCK, deflateSegment } from "./deflate";

interface GzipState extends FormatterState {
  /** CRC-32 of the uncompressed bytes so far. */
  crc: number;
  /** Uncompressed bytes so far (the trailer stores it modulo 2^32). */
  size: number;
}

/**
 * gzip (RFC 1952): one member holding one DEFLATE stream. Each push is deflated on its own
 * and sync-flushed (see deflateSegment), so the only state carried between queue messages is
 * the running CRC-32 and size for the trailer. MTIME is 0 and no file name is stored, so the
 * same input always gives the same bytes.
 * https://www.rfc-editor.org/rfc/rfc1952#section-2.3
 */
export const gzipCompressor: Compressor = {
  extension: "gz",
  contentType: "application/gzip",
  start(state: FormatterState) {
    Object.assign(state, { crc: 0, size: 0 } satisfies GzipState);
    // ID1 ID2 CM=8 (deflate) FLG=0 MTIME=0 XFL=0 OS=255 (unknown)
    return new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
  },
  push(data: Uint8Array, state: FormatterState) {
    const s = state as GzipState;
    s.crc = crc32(data, s.crc);
    s.size += data.length;
    return deflateSegment(data);
  },
  finish(state: FormatterState) {
    const s = state as GzipState;
    const trailer = new LeWriter(8).u32(s.crc).u32(s.size % 2 ** 32).bytes;
    return concatBytes([FINAL_EMPTY_BLOCK, trailer]);
  },
};
