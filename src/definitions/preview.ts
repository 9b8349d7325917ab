import { countExportRows, readExportChunk } from "../db/shards";
import { compileExport, ExportValidationError } from "../exports/compiler";
import { customFieldsOf } from "../tenants/custom-fields";
import type { ExportBody } from "../exports/definition";
import { PARQUET_CONTENT_TYPE, textFormatterFor } from "../exports/format/text-formats";
import { ApiError } from "../lib/errors";
import type { Services } from "../services";

/** Rows a preview shows: enough to judge the columns, few enough to answer at once. */
export const PREVIEW_ROWS = 20;

export interface Preview {
  /** output columns, in file order */
  columns: string[];
  /** the first rows as the file holds them (defaults and replacements applied) */
  rows: Record<string, string | number | null>[];
  /** rows the export would write now */
  row_count: number;
  format: ExportBody["format"]["type"];
  content_type: string;
  /**
   * The start of the file, exactly as the formatter writes it for these rows (header
   * included), before compression and encryption; null for parquet, which is binary.
   */
  text: string | null;
}

/**
 * The first rows of an export definition and its row count, read now from the tenant's shard
 * with the real compiler and formatter — what a run started now would write, minus the
 * archive and the encryption. Throws validation_failed with one detail per offending part.
 */
export async function previewExport(s: Services, tenant: { id: string; shard: number }, def: ExportBody): Promise<Preview> {
  let compiler: ReturnType<typeof compileExport>;
  const customFields = await customFieldsOf(s, tenant.id, def.model);
  try {
    compiler = compileExport(def, { tenantId: tenant.id, now: new Date(s.clock.now()), customFields });
  } catch (err) {
    if (!(err instanceof ExportValidationError)) throw err;
    const first = err.issues[0];
    throw new ApiError("validation_failed", `Invalid export definition: ${first ? `${first.path}: ${first.message}` : "invalid"}`, {
      details: err.issues,
    });
  }
  const db = s.shards.db(tenant.shard);
  const [raw, rowCount] = await Promise.all([
    readExportChunk(db, compiler.chunk(null, PREVIEW_ROWS)),
    countExportRows(db, compiler.count()),
  ]);
  // Parquet is binary: no text to show (and the API worker does not bundle its writer).
  const formatter = textFormatterFor(def, compiler.columns, customFields);
  let text: string | null = null;
  if (formatter) {
    const state = {};
    const parts = [formatter.start(state), formatter.rows(raw, state), formatter.finish(state)];
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    text = new TextDecoder().decode(bytes);
  }
  return {
    columns: compiler.columns,
    rows: raw.map((r) => compiler.output(r)),
    row_count: rowCount,
    format: def.format.type,
    content_type: formatter?.contentType ?? PARQUET_CONTENT_TYPE,
    text,
  };
}
