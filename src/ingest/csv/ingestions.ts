import { startChain } from "../../chain";
import { insertIngestion } from "../../db/ingestions";
import type { Services } from "../../services";

/** Per-row errors kept per ingestion; rows_rejected still counts every rejected row. */
export const MAX_STORED_ERRORS = 1000;

export interface NewIngestion {
  id: string;
  tenantId: string;
  model: string;
  fileKey: string;
  fileName: string | null;
  fileBytes: number;
  /** the header's columns, in file order */
  columns: string[];
  chunk: { bytes: number; rows: number };
  /** byte offset and line of the first record, after the header */
  firstOffset: number;
  firstLine: number;
}

/**
 * Creates an ingestion of a staged file and its `csv_ingest` chain in one batch, so an
 * ingestion is never left without the chain that processes it; then sends the chain's first
 * message (a lost send costs one lease: the cron sweep sends it).
 */
export async function startCsvIngestion(s: Services, n: NewIngestion): Promise<void> {
  const now = s.clock.seconds();
  const chain = startChain(s, { kind: "csv_ingest", tenantId: n.tenantId, subjectId: n.id, position: n.firstOffset });
  await s.db.batch([
    insertIngestion(s.db, {
      id: n.id,
      tenant_id: n.tenantId,
      model: n.model,
      status: "pending",
      file_key: n.fileKey,
      file_name: n.fileName,
      file_bytes: n.fileBytes,
      columns: JSON.stringify(n.columns),
      chunk_bytes: n.chunk.bytes,
      chunk_rows: n.chunk.rows,
      next_offset: n.firstOffset,
      next_line: n.firstLine,
      created_at: now,
      updated_at: now,
    }),
    chain.statement,
  ]);
  await chain.kick();
}
