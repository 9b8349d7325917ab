import { and, eq, isNull } from "drizzle-orm";
import type { ControlDb } from "./client";
import { type ExportRow, exports } from "./schema";

/** Export definitions (table exports). */

/** The one loader of a definition row, scoped by tenant; a deleted definition is not found. */
export function getExportRow(db: ControlDb, tenantId: string, id: string): Promise<ExportRow | undefined> {
  return db
    .select()
    .from(exports)
    .where(and(eq(exports.tenant_id, tenantId), eq(exports.id, id), isNull(exports.deleted_at)))
    .get();
}
