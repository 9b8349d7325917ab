/**
 * The cron task that finds new files in every source and starts their ingestion.
 *
 * Each tick lists at most PAGES_PER_TICK pages (1000 keys each) per source, continuing from
 * the source's cursor; when a sweep reaches the end of the listing the cursor is cleared and
 * the next tick starts a new sweep. Every listed file version is offered to source_files,
 * whose unique (source, key, etag) ignores the ones already known: only new versions get a
 * row, each with its `source_file` chain in the same batch, and each new chain gets its first
 * message. The cron itself reads no file; a file whose chain stalls is resumed by the chain
 * sweep (src/chain), not here.
 */
import { LEASE_SECONDS, chainMessage } from "../../chain";
import { chainId } from "../../db/chains";
import type { SourceRow } from "../../db/schema";
import { DISCOVERED_PER_BATCH, type ListedFile, insertDiscoveredFiles, sourcesToListUnscoped } from "../../db/sources";
import { newId } from "../../lib/ids";
import type { Services } from "../../services";
import { TargetError } from "../../targets/types";
import { classifyKey } from "./layout";
import { markReachable, sourceConfig } from "./sources";
import { openStorage } from "./storage";

export const PAGES_PER_TICK = 5;
export const PAGE_SIZE = 1000;
/** Sources listed per tick (oldest listing first); the rest wait for the next tick. */
export const SOURCES_PER_TICK = 50;
/** First messages sent at once: a listing can start thousands of chains. */
const KICKS_IN_FLIGHT = 50;

export interface DiscoverResult {
  sources: number;
  files: number;
  unreachable: number;
}

/** Records the listed objects that are new file versions, with their chains, and sends each chain's first message. */
async function recordNew(s: Services, source: SourceRow, prefix: string, objects: { key: string; etag: string; size: number }[]): Promise<number> {
  const listed: ListedFile[] = [];
  for (const o of objects) {
    if (o.key.endsWith("/") || !o.etag) continue;
    const layout = classifyKey(prefix, o.key);
    if ("skip" in layout) continue;
    listed.push({ id: newId("sfl"), key: o.key, etag: o.etag, size: o.size, ...layout });
  }
  let created: string[] = [];
  for (let i = 0; i < listed.length; i += DISCOVERED_PER_BATCH) {
    const now = s.clock.seconds();
    created = created.concat(await insertDiscoveredFiles(s.d1, source, listed.slice(i, i + DISCOVERED_PER_BATCH), now, now + LEASE_SECONDS));
  }
  // A lost first message costs one lease: the chain sweep sends it.
  for (let i = 0; i < created.length; i += KICKS_IN_FLIGHT) {
    await Promise.all(
      created.slice(i, i + KICKS_IN_FLIGHT).map((fileId) =>
        s.jobs.send(chainMessage({ id: chainId("source_file", fileId), position: 0 })).catch((err) => {
          console.warn(JSON.stringify({ source: source.id, file: fileId, kick_failed: String(err) }));
        }),
      ),
    );
  }
  return created.length;
}

/** Lists one source from its cursor and records what is new. */
export async function discoverSource(s: Services, source: SourceRow, pages = PAGES_PER_TICK, pageSize = PAGE_SIZE): Promise<number> {
  const cfg = await sourceConfig(s, source);
  const storage = openStorage(s.env, cfg, { attempts: 2, timeoutMs: 20_000, now: () => s.clock.now() });
  let cursor = source.list_cursor;
  let found = 0;
  try {
    for (let p = 0; p < pages; p++) {
      const page = await storage.list(cursor, pageSize);
      found += await recordNew(s, source, cfg.prefix, page.objects);
      cursor = page.cursor;
      if (!cursor) break;
    }
  } catch (err) {
    if (!(err instanceof TargetError)) throw err;
    await markReachable(s, source, err);
    throw err;
  }
  await markReachable(s, source, null, cursor);
  return found;
}

/** The cron task: every source (a bounded number per tick), one failing not stopping the others. */
export async function discoverSources(s: Services, opts: { tenantId?: string; pages?: number; pageSize?: number } = {}): Promise<DiscoverResult> {
  const list = await sourcesToListUnscoped(s.db, SOURCES_PER_TICK, opts.tenantId);
  const out: DiscoverResult = { sources: list.length, files: 0, unreachable: 0 };
  for (const source of list) {
    try {
      out.files += await discoverSource(s, source, opts.pages, opts.pageSize);
    } catch (err) {
      out.unreachable++;
      console.error(JSON.stringify({ cron: "sources", source: source.id, error: String(err) }));
    }
  }
  return out;
}
