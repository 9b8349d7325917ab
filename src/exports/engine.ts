import { type CompileContext, compileExport } from "./compiler";
import { compressorFor } from "./compress";
import type { ExportBody } from "./definition";
import { formatterFor } from "./format";
import type { CustomFieldDef } from "../models";
import type { Compressor, ExportCompiler, Formatter } from "./types";

/** The three parts a run drives; tests pass their own to break one of them on purpose. */
export interface ExportEngine {
  compile(def: ExportBody, ctx: CompileContext): ExportCompiler;
  /** `customFields`: the tenant's custom fields on the model (parquet types, txt widths). */
  formatter(def: ExportBody, columns: string[], customFields?: readonly CustomFieldDef[]): Formatter;
  compressor(def: ExportBody, innerFileName: string): Compressor;
}

/** The real compiler, formatter and compressor behind the run chain. */
export const defaultEngine: ExportEngine = {
  compile: compileExport,
  formatter: (def, columns, customFields) => formatterFor(def, columns, undefined, customFields),
  compressor: compressorFor,
};
