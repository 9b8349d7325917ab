import { env } from "cloudflare:test";
import type { Env } from "../../src/env";
import type { JobMessage } from "../../src/jobs/messages";
import { type ExportChunkMessage, runExportChunk } from "../../src/exports/runner";
import { defaultEngine } from "../../src/exports/engine";
import { call } from "../helpers";
import type { RunRow } from "../../src/services/runs/runs";

export const e = env as unknown as Env;

/**
 * These tests move tens of MB through D1 and R2; on a shared 2-core machine that can take
 * minutes, so they get generous limits rather than failing on timing.
 */
export const SLOW = { testTimeout: 600_000, hookTimeout: 600_000 };

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

/** Creates an export through the definitions API; all participations fields, CSV. */
export async function seedExport(token: string, body: Record<string, unknown> = {}): Promise<string> {
  const r = await call("POST", "/api/1/exports", {
    token,
    body: {
      name: "win-info",
      model: "participations",
      fields: COLUMNS.map((from) => ({ from })),
      format: { type: "csv" },
      ...body,
    },
  });
  if (r.status !== 201) throw new Error(`seedExport: ${r.status} ${r.text}`);
  return r.json.id;
}

export const COLUMNS = ["user_id", "stackinstanceid", "stackid", "value", "has_won", "participation_date"];

/** Expected CSV of seedExport's definition, built independently from a plain query (RFC 4180 quoting). */
export async function expectedCsv(tenantId: string): Promise<string> {
  const db = await tenantShard(tenantId);
  const { results } = await db
    .prepare(
      "SELECT user_id, stackinstanceid, stackid, value, has_won, participation_date FROM participations WHERE tenant_id = ?1 ORDER BY participation_date, row_id",
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
  runExportChunk(q.env(extra), msg, defaultEngine);

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
