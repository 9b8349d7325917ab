import { compileExport } from "./compiler";
import { compressorFor } from "./compress";
import { formatterFor } from "./format";
import type { ExportEngine } from "./runner";

/** The real compiler, formatter and compressor behind the run chain. */
export const defaultEngine: ExportEngine = {
  compile: compileExport,
  formatter: (def, columns) => formatterFor(def, columns),
  compressor: compressorFor,
};
