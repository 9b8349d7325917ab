import { env } from "cloudflare:test";
import type { Env } from "../../src/env";
import type { JobMessage } from "../../src/jobs/messages";
import { type ExportChunkMessage, type ExportEngine, runExportChunk } from "../../src/exports/runner";
import type { ExportBody } from "../../src/exports/definition";
import { newId } from "../../src/lib/ids";
import type { RunRow } from "../../src/services/runs/runs";

export const e = env as unknown as Env;

/** 5 MiB: the smallest part R2 (and miniflare) accepts for all but the last part. */
export const PART = 5 * 1024 * 1024;

/** Rows `user_id` is padded to, so a few tens of thousands of rows make several parts. */
export const PAD = 300;

export async function tenantShard(tenantId: string): Promise<D1Database> {
  const t = await e.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(tenantId).first<{ shard: number }>();
  if (!t) throw new Error("no tenant");
  return (e as unknown as Record<string, D1Database>)[`DATA_${t.shard}`] as D1Database;
}

/** Seeds `n` participations for a tenant inside SQLite (recursive CTE), deterministic content. */
export async function seedParticipations(tenantId: string, n: number, from = 1): Promise<void> {
  const db = await tenantShard(tenantId);
  await db
    .prepare(
      `WITH RECURSIVE s(n) AS (SELECT ?2 UNION ALL SELECT n + 1 FROM s WHERE n < ?3)
       INSERT INTO participations (tenant_id, ingested_at, user_id, stackinstanceid, stackid, value, has_won, has_completed, participation_date)
       SELECT ?1, 1700000000, 'üser-' || printf('%0${PAD}d', n), 'si-' || (n % 97), 'st "' || (n % 7) || '"', n * 3, n % 2, 1,
              '2026-01-01 00:00:' || printf('%02d', n % 60)
       FROM s`,
    )
    .bind(tenantId, from, from + n - 1)
    .run();
}

/** Inserts an export definition row directly (the definitions API lives on another branch). */
export async function seedExport(tenantId: string, body: Partial<ExportBody> = {}): Promise<string> {
  const id = newId("exp");
  const def = {
    name: "win-info",
    model: "participations",
    fields: [],
    all_fields: true,
    filters: [],
    aggregate: false,
    timezone: "UTC",
    format: { type: "csv" },
    compression: "none",
    schedule: { type: "now" },
    incremental: false,
    target: { type: "download" },
    retention_days: 7,
    status: "active",
    ...body,
  };
  await e.DB.prepare(
    `INSERT INTO exports (id, tenant_id, name, model, status, definition, created_by, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'test', 0, 0)`,
  )
    .bind(id, tenantId, def.name, def.model, def.status, JSON.stringify(def))
    .run();
  return id;
}

/**
 * THROWAWAY stand-in for the compiler/formatter/compressor until their branches are
 * merged: participations by row_id, plain RFC 4180 CSV, no compression.
 */
export const fakeEngine: ExportEngine = {
  compile(def, ctx) {
    if (def.model !== "participations") throw new Error(`unknown model ${def.model}`);
    const columns = ["user_id", "stackinstanceid", "stackid", "value", "has_won", "participation_date"];
    return {
      columns,
      chunk(cursor, limit) {
        const after = cursor ? (cursor.after[0] as number) : 0;
        return {
          sql: `SELECT row_id AS _k, ${columns.join(", ")} FROM participations WHERE tenant_id = ?1 AND row_id > ?2 ORDER BY row_id LIMIT ?3`,
          params: [ctx.tenantId, after, limit],
          columns,
        };
      },
      nextCursor: (row) => ({ after: [row._k as number] }),
    };
  },
  formatter(_def, columns) {
    const enc = new TextEncoder();
    const cell = (v: unknown) => {
      const s = v === null || v === undefined ? "" : String(v);
      return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    return {
      contentType: "text/csv",
      extension: "csv",
      start: () => enc.encode(`${columns.join(",")}\n`),
      rows: (rows) => enc.encode(rows.map((r) => `${columns.map((c) => cell(r[c])).join(",")}\n`).join("")),
      finish: () => new Uint8Array(0),
    };
  },
  compressor: () => ({
    extension: "",
    contentType: null,
    start: () => new Uint8Array(0),
    push: (d) => d,
    finish: () => new Uint8Array(0),
  }),
};

/** Expected CSV for the fake engine, built independently from a plain query. */
export async function expectedCsv(tenantId: string): Promise<string> {
  const db = await tenantShard(tenantId);
  const { results } = await db
    .prepare(
      "SELECT user_id, stackinstanceid, stackid, value, has_won, participation_date FROM participations WHERE tenant_id = ?1 ORDER BY row_id",
    )
    .bind(tenantId)
    .all<Record<string, unknown>>();
  const q = (v: unknown) => {
    const s = String(v ?? "");
    return s.includes('"') || s.includes(",") ? `"${s.split('"').join('""')}"` : s;
  };
  return `user_id,stackinstanceid,stackid,value,has_won,participation_date\n${results
    .map((r) => `${[r.user_id, r.stackinstanceid, r.stackid, r.value, r.has_won, r.participation_date].map(q).join(",")}\n`)
    .join("")}`;
}

/**
 * A queue the test delivers by hand: messages the runner sends are recorded, and the
 * test decides when (and how often) each is delivered, to reproduce at-least-once
 * delivery and crashes deterministically.
 */
export class ManualQueue {
  sent: JobMessage[] = [];
  producer = {
    send: async (m: unknown) => {
      this.sent.push(m as JobMessage);
    },
    sendBatch: async (ms: Iterable<{ body: unknown }>) => {
      for (const m of ms) this.sent.push(m.body as JobMessage);
    },
  } as unknown as Queue<unknown>;

  env(extra: Partial<Env> = {}): Env {
    return { ...e, JOBS: this.producer, ...extra } as Env;
  }
  take(): ExportChunkMessage | undefined {
    return this.sent.shift() as ExportChunkMessage | undefined;
  }
}

export const deliver = (q: ManualQueue, msg: ExportChunkMessage, extra: Partial<Env> = {}) =>
  runExportChunk(q.env(extra), msg, fakeEngine);

/** Delivers until the queue is empty; returns how many messages were handled. */
export async function drain(q: ManualQueue, extra: Partial<Env> = {}): Promise<number> {
  let n = 0;
  for (let m = q.take(); m; m = q.take()) {
    await deliver(q, m, extra);
    n++;
    if (n > 10_000) throw new Error("chain does not end");
  }
  return n;
}

export async function runRow(runId: string): Promise<RunRow> {
  const r = await e.DB.prepare("SELECT * FROM export_runs WHERE id = ?1").bind(runId).first<RunRow>();
  if (!r) throw new Error("no run");
  return r;
}

export async function fileBytes(key: string): Promise<Uint8Array> {
  const obj = await e.FILES.get(key);
  if (!obj) throw new Error(`no object ${key}`);
  return new Uint8Array(await obj.arrayBuffer());
}

export async function sha256(b: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b));
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}
