import { type CompileContext, compileExport } from "./compiler";
import { compressorFor } from "./compress";
import type { ExportBody } from "./definition";
import { formatterFor } from "./format";
import type { Compressor, ExportCompiler, Formatter } from "./types";

/** The three parts a run drives; tests pass their own to break one of them on purpose. */
export interface ExportEngine {
  compile(def: ExportBody, ctx: CompileContext): ExportCompiler;
  formatter(def: ExportBody, columns: string[]): Formatter;
  compressor(def: ExportBody, innerFileName: string): Compressor;
}

/** The real compiler, formatter and compressor behind the run chain. */
export const defaultEngine: ExportEngine = {
  compile: compileExport,
  formatter: (def, columns) => formatterFor(def, columns),
  compressor: compressorFor,
};
