import type { ExportBody } from "../definition";
import type { Compressor } from "../types";

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
 * a zip archive (e.g. `orders.csv`); gzip and none ignore it.
 */
export function compressorFor(def: ExportBody, innerFileName: string): Compressor {
  void innerFileName;
  switch (def.compression) {
    case "none":
      return noCompression;
    default:
      throw new Error(`compression ${def.compression} is not implemented yet`);
  }
}
