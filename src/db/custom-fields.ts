import { and, asc, eq } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { ControlDb } from "./client";
import { type CustomFieldRow, custom_fields } from "./schema";

/**
 * A tenant's custom field definitions (table custom_fields). src/tenants/custom-fields.ts is the
 * only caller; the values are on the data shards (src/db/shards/records.ts).
 */

/** The tenant's custom fields on `model`, in their order. */
export function listCustomFields(db: ControlDb, tenantId: string, model: string): Promise<CustomFieldRow[]> {
  return db
    .select()
    .from(custom_fields)
    .where(and(eq(custom_fields.tenant_id, tenantId), eq(custom_fields.model, model)))
    .orderBy(asc(custom_fields.position))
    .all();
}

/** Replaces the tenant's custom fields on `model` with `rows`, in one batch (one transaction). */
export async function replaceCustomFields(db: ControlDb, tenantId: string, model: string, rows: CustomFieldRow[]): Promise<void> {
  const statements: BatchItem<"sqlite">[] = [
    db.delete(custom_fields).where(and(eq(custom_fields.tenant_id, tenantId), eq(custom_fields.model, model))),
  ];
  if (rows.length) statements.push(db.insert(custom_fields).values(rows));
  await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
}
