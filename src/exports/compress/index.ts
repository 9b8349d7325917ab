import type { ExportBody } from "../definition";
import type { Compressor } from "../types";
import { gzipCompressor } from "./gzip";
import { zipCompressor } from "./zip";

const EMPTY = new Uint8Array(0);

/** Passes bytes through unchanged. */
export const noCompression: Compressor = {
  extension: "",
  contentType: null,
  start: () => EMPTY,
  push: (data) => data,
  finish: () => EMPTY,
};

/**
 * The compressor for an export definition. `innerFileName` is the name of the file inside
 * a zip archive (e.g. `orders.csv`); gzip and none ignore it. `modifiedAt` is the time zip
 * stores for that file: pass the run's creation time so every attempt writes the same bytes
 * (default 1980-01-01, the earliest zip date).
 */
export function compressorFor(def: ExportBody, innerFileName: string, modifiedAt?: Date): Compressor {
  switch (def.compression) {
    case "none":
      return noCompression;
    case "gzip":
      return gzipCompressor;
    case "zip":
      return zipCompressor(innerFileName, { modifiedAt });
  }
}
