import { env } from "cloudflare:test";
import { type ChainJobs, type ChainMessage, handleChainMessage } from "../../src/chain";
import type { RunRow } from "../../src/db/schema";
import type { Env } from "../../src/env";
import type { ExportEngine } from "../../src/exports/engine";
import type { JobMessage } from "../../src/jobs/messages";
import { type CreateRunInput, createRun } from "../../src/runs";
import { exportRunJob } from "../../src/runs/job";
import { type Clock, createServices, type Services } from "../../src/services";
import { call } from "../helpers";
import { onlyJobs } from "../chain/jobs";

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
      // runs only when a test starts one (schedule `now` would also run on create)
      schedule: { type: "manual" },
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
 * A queue the test delivers by hand, for the env-based jobs (bucket sources use it): messages
 * sent are recorded and the test decides when, and how often, each is delivered.
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
}

/**
 * Services whose queue the test delivers by hand: every message is recorded, and the test
 * decides when (and how often) each is delivered, to reproduce at-least-once delivery, lost
 * messages and crashes deterministically. `vars` override the env (run tuning); `wrap` wraps
 * the services (fault injection: test/exports-run/faults.ts); `engine` replaces the export
 * engine of the run job.
 */
export class RunQueue {
  sent: ChainMessage[] = [];
  readonly s: Services;
  readonly jobs: ChainJobs;
  constructor(opts: { vars?: Partial<Env>; clock?: Clock; engine?: ExportEngine } = {}) {
    this.s = createServices({ ...e, ...opts.vars } as Env, {
      ...(opts.clock ? { clock: opts.clock } : {}),
      jobs: { send: async (m) => void this.sent.push(m as ChainMessage) },
    });
    this.jobs = onlyJobs({ export_run: exportRunJob(opts.engine) });
  }
  /** The next export_run link; messages of other chains (delivery, webhook) stay in `others`. */
  take(): ChainMessage | undefined {
    for (;;) {
      const m = this.sent.shift();
      if (!m || m.chain_id.startsWith("export_run:")) return m;
      this.others.push(m);
    }
  }
  others: ChainMessage[] = [];
  /** Delivers one link, through `wrap`'s services when given. */
  deliver(msg: ChainMessage, wrap: (s: Services) => Services = (s) => s): Promise<void> {
    return handleChainMessage(wrap(this.s), this.jobs, msg);
  }
}

export const deliver = (q: RunQueue, msg: ChainMessage, wrap?: (s: Services) => Services) => q.deliver(msg, wrap);

/** Delivers until no export_run link is left; returns how many were handled. */
export async function drain(q: RunQueue, wrap?: (s: Services) => Services): Promise<number> {
  let n = 0;
  for (let m = q.take(); m; m = q.take()) {
    await q.deliver(m, wrap);
    n++;
    if (n > 10_000) throw new Error("chain does not end");
  }
  return n;
}

/** Creates a run through the lifecycle with the queue's services. */
export const startRun = (q: RunQueue, tenantId: string, exportId: string, extra: Partial<CreateRunInput> = {}) =>
  createRun(q.s, { tenantId, exportId, trigger: "manual", ...extra });

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
