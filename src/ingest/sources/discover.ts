/**
 * The cron task that finds new files in every source and starts their ingestion.
 *
 * Each tick lists at most PAGES_PER_TICK pages (1000 keys each) per source, continuing from
 * the source's cursor; when a sweep reaches the end of the listing the cursor is cleared and
 * the next tick starts a new sweep. Every listed file version is inserted into source_files,
 * whose unique (source, key, etag) ignores the ones already known: only new versions get a
 * row, and each new row gets its first queue message. The cron itself reads no file.
 */
import type { Env } from "../../env";
import { newId } from "../../lib/ids";
import { TargetError } from "../../targets/types";
import { chunkMessage } from "./chunks";
import { classifyKey } from "./layout";
import { type SourceRow, markReachable, sourceConfig } from "./sources";
import { openStorage } from "./storage";

export const PAGES_PER_TICK = 5;
export const PAGE_SIZE = 1000;
/** Sources listed per tick (oldest listing first); the rest wait for the next tick. */
export const SOURCES_PER_TICK = 50;

export interface DiscoverResult {
  sources: number;
  files: number;
  unreachable: number;
}

const now = () => Math.floor(Date.now() / 1000);

/**
 * Records the listed objects that are new file versions and sends their first message.
 * Rows travel as one JSON parameter per statement (D1 allows 100 bound parameters and
 * 100 KB per statement). https://developers.cloudflare.com/d1/platform/limits/
 */
async function recordNew(env: Env, source: SourceRow, prefix: string, objects: { key: string; etag: string; size: number }[]): Promise<number> {
  const rows: unknown[][] = [];
  for (const o of objects) {
    if (o.key.endsWith("/") || !o.etag) continue;
    const layout = classifyKey(prefix, o.key);
    if ("skip" in layout) continue;
    rows.push([newId("sfl"), o.key, o.etag, o.size, layout.model, layout.format, layout.gzip ? 1 : 0]);
  }
  if (!rows.length) return 0;
  const t = now();
  let created: { id: string }[] = [];
  // S3 keys are up to 1 KB: 50 rows per statement keep its JSON parameter under D1's 100 KB.
  for (let i = 0; i < rows.length; i += 50) {
    const { results } = await env.DB.prepare(
      `INSERT INTO source_files (id, source_id, tenant_id, key, etag, size, model, format, gzip, status, position, next_line, enqueued_position, created_at, updated_at)
       SELECT value->>0, ?1, ?2, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, 'pending', 0, 1, 0, ?3, ?3 FROM json_each(?4)
       WHERE true ON CONFLICT (source_id, key, etag) DO NOTHING RETURNING id`,
    )
      .bind(source.id, source.tenant_id, t, JSON.stringify(rows.slice(i, i + 50)))
      .all<{ id: string }>();
    created = created.concat(results);
  }
  // sendBatch takes at most 100 messages. https://developers.cloudflare.com/queues/platform/limits/
  for (let i = 0; i < created.length; i += 100) {
    await env.JOBS.sendBatch(created.slice(i, i + 100).map((r) => ({ body: chunkMessage({ id: r.id, tenant_id: source.tenant_id }, 0) })));
  }
  return created.length;
}

/**
 * A file whose chain has been idle this long lost its message (a send that failed after its
 * checkpoint, a queue outage): retries and the dead-letter queue end well before it
 * (5 retries, at most 5 minutes apart, see src/jobs/index.ts).
 */
export const STALLED_SECONDS = 15 * 60;

/**
 * Resends the message of files whose chain stalled, at their checkpoint. A second message for
 * the same checkpoint is harmless: the chunk's rows are written once and only one delivery
 * moves the checkpoint (src/ingest/sources/chunks.ts).
 */
export async function resumeStalled(env: Env, source: Pick<SourceRow, "id" | "tenant_id">, nowSeconds = now()): Promise<number> {
  const { results } = await env.DB.prepare(
    `UPDATE source_files SET updated_at = ?3 WHERE id IN (
       SELECT id FROM source_files WHERE source_id = ?1 AND status IN ('pending', 'processing') AND updated_at < ?2 LIMIT 100)
     RETURNING id, position`,
  )
    .bind(source.id, nowSeconds - STALLED_SECONDS, nowSeconds)
    .all<{ id: string; position: number }>();
  if (results.length) await env.JOBS.sendBatch(results.map((r) => ({ body: chunkMessage({ id: r.id, tenant_id: source.tenant_id }, r.position) })));
  return results.length;
}

/** Lists one source from its cursor and records what is new. */
export async function discoverSource(env: Env, source: SourceRow, pages = PAGES_PER_TICK, pageSize = PAGE_SIZE): Promise<number> {
  const cfg = await sourceConfig(env, source);
  const storage = openStorage(env, cfg, { attempts: 2, timeoutMs: 20_000 });
  let cursor = source.list_cursor;
  let found = 0;
  try {
    for (let p = 0; p < pages; p++) {
      const page = await storage.list(cursor, pageSize);
      found += await recordNew(env, source, cfg.prefix, page.objects);
      cursor = page.cursor;
      if (!cursor) break;
    }
  } catch (err) {
    if (!(err instanceof TargetError)) throw err;
    await markReachable(env, source, err);
    throw err;
  }
  await markReachable(env, source, null, cursor);
  await resumeStalled(env, source);
  return found;
}

/** The cron task: every source (a bounded number per tick), one failing not stopping the others. */
export async function discoverSources(env: Env, opts: { tenantId?: string; pages?: number; pageSize?: number } = {}): Promise<DiscoverResult> {
  const { results } = await env.DB.prepare(
    "SELECT * FROM sources WHERE (?1 IS NULL OR tenant_id = ?1) ORDER BY coalesce(last_listed_at, 0), id LIMIT ?2",
  )
    .bind(opts.tenantId ?? null, SOURCES_PER_TICK)
    .all<SourceRow>();
  const out: DiscoverResult = { sources: results.length, files: 0, unreachable: 0 };
  for (const source of results) {
    try {
      out.files += await discoverSource(env, source, opts.pages, opts.pageSize);
    } catch (err) {
      out.unreachable++;
      console.error(JSON.stringify({ cron: "sources", source: source.id, error: String(err) }));
    }
  }
  return out;
}
