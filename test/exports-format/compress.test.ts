import { unzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { compressorFor } from "../../src/exports/compress";
import { zipCompressor } from "../../src/exports/compress/zip";
import { body, compress, concat, produce } from "./run";
import { COLUMNS, rows } from "./samples";

async function decompress(format: "gzip" | "deflate-raw", data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}


/** Pseudo-random bytes (incompressible) and repetitive text (very compressible). */
function sampleParts(): Uint8Array[] {
  let x = 12345;
  const noise = Uint8Array.from({ length: 200_000 }, () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x >>> 24;
  });
  const text = new TextEncoder().encode("id,name\n".repeat(50_000) + "ünïcödé 🦀\n");
  return [text.slice(0, 1000), new Uint8Array(0), noise, text, new Uint8Array([0]), text.slice(7, 70_000)];
}

const whole = (parts: Uint8Array[]) => concat(parts);

describe("gzip", () => {
  const make = () => compressorFor(body({ compression: "gzip" }), "orders.csv");

  it("decompresses with DecompressionStream to the input, across resumed pushes", async () => {
    const parts = sampleParts();
    const gz = compress(make, parts);
    expect(await decompress("gzip", gz)).toEqual(whole(parts));
    expect(gz.length).toBeLessThan(whole(parts).length);
  });

  it("keeps every push self-contained, also for data full of zero runs (no reference before a push's start)", async () => {
    // The split that made fflate 0.8's streaming deflate reference bytes before the segment start.
    let x = 7;
    const rnd = () => {
      x = (x * 1103515245 + 12345) >>> 0;
      return x >>> 8;
    };
    for (const n of [24_896, 90_001]) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i % 1000 < 500 ? 65 : rnd() & 3));
      const c = n >> 2;
      const parts = [data.slice(0, c), data.slice(c, 3 * c), data.slice(3 * c)];
      expect(await decompress("gzip", compress(make, parts))).toEqual(data);
    }
  });

  it("gives the same bytes for the same pushes", () => {
    const parts = sampleParts();
    expect(compress(make, parts)).toEqual(compress(make, parts));
  });

  it("handles an empty file", async () => {
    expect(await decompress("gzip", compress(make, []))).toEqual(new Uint8Array(0));
  });

  it("wraps a formatted export whose rows arrive in many calls", async () => {
    const def = body({ compression: "gzip", format: { type: "csv" } });
    const plain = produce(body({ format: { type: "csv" } }), COLUMNS, rows(500), 1);
    expect(await decompress("gzip", produce(def, COLUMNS, rows(500), 37))).toEqual(plain);
    expect(make().extension).toBe("gz");
    expect(make().contentType).toBe("application/gzip");
  });

  it("has a header without time or name and a trailer with CRC-32 and size", () => {
    const gz = compress(make, [new TextEncoder().encode("hello")]);
    expect(Array.from(gz.slice(0, 10))).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    const tail = new DataView(gz.buffer, gz.byteOffset + gz.length - 8);
    expect(tail.getUint32(0, true)).toBe(0x3610a686); // CRC-32 of "hello"
    expect(tail.getUint32(4, true)).toBe(5);
  });
});

describe("zip", () => {
  const make = () => compressorFor(body({ compression: "zip" }), "orders ünï.csv", new Date(Date.UTC(2026, 10, 25, 13, 45, 30)));

  it("opens with an independent unzip to one file with the input, across resumed pushes", () => {
    const parts = sampleParts();
    const zip = compress(make, parts);
    const files = unzipSync(zip);
    expect(Object.keys(files)).toEqual(["orders ünï.csv"]);
    expect(files["orders ünï.csv"]).toEqual(whole(parts));
  });

  it("stores the deflated data between the local header and the data descriptor", async () => {
    const parts = sampleParts();
    const zip = compress(make, parts);
    const v = new DataView(zip.buffer, zip.byteOffset);
    expect(v.getUint32(0, true)).toBe(0x04034b50);
    expect(v.getUint16(6, true) & 0x0808).toBe(0x0808); // data descriptor + UTF-8 name
    const start = 30 + v.getUint16(26, true);
    // the central directory says how long the compressed data is
    const eocd = zip.length - 22;
    expect(v.getUint32(eocd, true)).toBe(0x06054b50);
    const cd = v.getUint32(eocd + 16, true);
    const csize = v.getUint32(cd + 20, true);
    expect(v.getUint32(start + csize, true)).toBe(0x08074b50);
    expect(await decompress("deflate-raw", zip.slice(start, start + csize))).toEqual(whole(parts));
  });

  it("writes ZIP64 records when asked, still readable", () => {
    const parts = sampleParts();
    const zip = compress(() => zipCompressor("big.csv", { forceZip64: true }), parts);
    const v = new DataView(zip.buffer, zip.byteOffset);
    expect(v.getUint32(zip.length - 22 - 20, true)).toBe(0x07064b50);
    expect(unzipSync(zip)["big.csv"]).toEqual(whole(parts));
  });

  it("handles an empty file and reports extension and content type", () => {
    expect(unzipSync(compress(make, []))["orders ünï.csv"]).toEqual(new Uint8Array(0));
    expect([make().extension, make().contentType]).toEqual(["zip", "application/zip"]);
  });
});

describe("none", () => {
  it("passes bytes through", () => {
    const parts = sampleParts();
    const make = () => compressorFor(body(), "x.csv");
    expect(compress(make, parts)).toEqual(whole(parts));
    expect([make().extension, make().contentType]).toEqual(["", null]);
  });
});
