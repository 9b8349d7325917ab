import { desc, eq } from "drizzle-orm";
import type { ControlDb } from "./client";
import { type Ingestion, ingestions } from "./schema";

/**
 * A tenant's most recent CSV uploads, newest first (the back office's ingestion page).
 * (Belongs with the other ingestion loaders in src/db/ingestions.ts once that file lands.)
 */
export function listRecentIngestions(db: ControlDb, tenantId: string, limit: number): Promise<Ingestion[]> {
  return db
    .select()
    .from(ingestions)
    .where(eq(ingestions.tenant_id, tenantId))
    .orderBy(desc(ingestions.created_at), desc(ingestions.id))
    .limit(limit)
    .all();
}
