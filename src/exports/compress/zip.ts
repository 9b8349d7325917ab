import type { Compressor, FormatterState } from "../types";
import { LeWriter, concatBytes } from "./bytes";
import { crc32 } from "./crc32";
import { FINAL_EMPTY_BLOCK, deflateSegment } from "./deflate";

/**
 * A zip archive holding one deflated file, written front to back without seeking:
 * the local header carries no sizes (general purpose bit 3), a data descriptor follows the
 * data, and the central directory is written by finish(). ZIP64 records are added when a
 * size or offset does not fit in 32 bits.
 * https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT (4.3.9 data descriptor, 4.5.3 ZIP64)
 */
export interface ZipOptions {
  /** Modification time stored for the file (MS-DOS time, 2-second precision, read as local time). */
  modifiedAt?: Date;
  /** Write ZIP64 records even when the sizes fit in 32 bits (to test ZIP64 readers). */
  forceZip64?: boolean;
}

interface ZipState extends FormatterState {
  crc: number;
  size: number;
  compressed: number;
  /** Bytes of the local file header (the data starts after it). */
  header: number;
}

const MAX32 = 0xffffffff;
const FLAGS = 0x0008 | 0x0800; // bit 3: sizes in data descriptor; bit 11: name is UTF-8
const DEFLATE = 8;
const VERSION_20 = 20;
const VERSION_45 = 45; // ZIP64
const MADE_BY_UNIX = 3 << 8;

/** 1980-01-01 00:00:00, the earliest MS-DOS date, used when no time is given. */
const DOS_EPOCH = new Date(Date.UTC(1980, 0, 1));

function dosDateTime(d: Date): { time: number; date: number } {
  const y = Math.min(Math.max(d.getUTCFullYear(), 1980), 2107);
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
    date: ((y - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

export function zipCompressor(innerFileName: string, opts: ZipOptions = {}): Compressor {
  const name = new TextEncoder().encode(innerFileName);
  const { time, date } = dosDateTime(opts.modifiedAt ?? DOS_EPOCH);

  return {
    extension: "zip",
    contentType: "application/zip",
    start(state: FormatterState) {
      const h = new LeWriter(30 + name.length)
        .u32(0x04034b50)
        .u16(VERSION_20)
        .u16(FLAGS)
        .u16(DEFLATE)
        .u16(time)
        .u16(date)
        .u32(0) // crc-32, in the data descriptor
        .u32(0) // compressed size, in the data descriptor
        .u32(0) // uncompressed size, in the data descriptor
        .u16(name.length)
        .u16(0)
        .raw(name).bytes;
      Object.assign(state, { crc: 0, size: 0, compressed: 0, header: h.length } satisfies ZipState);
      return h;
    },
    push(data: Uint8Array, state: FormatterState) {
      const s = state as ZipState;
      s.crc = crc32(data, s.crc);
      s.size += data.length;
      const out = deflateSegment(data);
      s.compressed += out.length;
      return out;
    },
    finish(state: FormatterState) {
      const s = state as ZipState;
      const compressed = s.compressed + FINAL_EMPTY_BLOCK.length;
      const zip64 = opts.forceZip64 === true || s.size >= MAX32 || compressed >= MAX32;

      // Data descriptor; 8-byte sizes in ZIP64 (APPNOTE 4.3.9.2).
      const dd = new LeWriter(zip64 ? 24 : 16).u32(0x08074b50).u32(s.crc);
      if (zip64) dd.u64(compressed).u64(s.size);
      else dd.u32(compressed).u32(s.size);

      const cdOffset = s.header + compressed + dd.bytes.length;
      // ZIP64 extended information extra field: uncompressed then compressed size (4.5.3).
      const extra = zip64 ? new LeWriter(20).u16(0x0001).u16(16).u64(s.size).u64(compressed).bytes : new Uint8Array(0);
      const cd = new LeWriter(46 + name.length + extra.length)
        .u32(0x02014b50)
        .u16(MADE_BY_UNIX | (zip64 ? VERSION_45 : VERSION_20))
        .u16(zip64 ? VERSION_45 : VERSION_20)
        .u16(FLAGS)
        .u16(DEFLATE)
        .u16(time)
        .u16(date)
        .u32(s.crc)
        .u32(zip64 ? MAX32 : compressed)
        .u32(zip64 ? MAX32 : s.size)
        .u16(name.length)
        .u16(extra.length)
        .u16(0) // comment length
        .u16(0) // disk number start
        .u16(0) // internal attributes
        .u32((0o100644 << 16) >>> 0) // external attributes: regular file, rw-r--r--
        .u32(0) // local header offset: the only file starts the archive
        .raw(name)
        .raw(extra).bytes;

      const cdEnd = cdOffset + cd.length;
      const tail: Uint8Array[] = [];
      const zip64End = zip64 || cdOffset >= MAX32;
      if (zip64End) {
        tail.push(
          new LeWriter(56)
            .u32(0x06064b50)
            .u64(44) // size of the rest of this record
            .u16(MADE_BY_UNIX | VERSION_45)
            .u16(VERSION_45)
            .u32(0)
            .u32(0)
            .u64(1)
            .u64(1)
            .u64(cd.length)
            .u64(cdOffset).bytes,
          new LeWriter(20).u32(0x07064b50).u32(0).u64(cdEnd).u32(1).bytes,
        );
      }
      tail.push(
        new LeWriter(22)
          .u32(0x06054b50)
          .u16(0)
          .u16(0)
          .u16(1)
          .u16(1)
          .u32(cd.length)
          .u32(cdOffset >= MAX32 ? MAX32 : cdOffset)
          .u16(0).bytes,
      );
      return concatBytes([FINAL_EMPTY_BLOCK, dd.bytes, cd, ...tail]);
    },
  };
}
