import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  env,
  getQueueResult,
  SELF,
  waitOnExecutionContext,
} from "cloudflare:test";
import worker from "../../src/index";
import type { Env } from "../../src/env";
import { BASE, waitFor } from "../helpers";

export const e = env as unknown as Env;

export type Body = string | Uint8Array;

export function form(content: Body, filename = "data.csv", field = "file"): FormData {
  const fd = new FormData();
  fd.append(field, new File([content], filename, { type: "text/csv" }));
  return fd;
}

async function json(res: Response) {
  const text = await res.text();
  try {
    return { status: res.status, json: JSON.parse(text), text };
  } catch {
    return { status: res.status, json: null as any, text };
  }
}

/** Upload through the deployed worker entry point (real queue consumer runs the chain). */
export async function upload(apiKey: string, route: "kpis" | "survey-data", content: Body, filename?: string) {
  return json(
    await SELF.fetch(`${BASE}/v1/${route}/csv`, {
      method: "POST",
      headers: { Authorization: `Bearer ${apiKey}` },
      body: form(content, filename),
    }),
  );
}

export async function status(apiKey: string, id: string, query = "") {
  return json(await SELF.fetch(`${BASE}/v1/ingestions/${id}${query}`, { headers: { Authorization: `Bearer ${apiKey}` } }));
}

/** Polls until the ingestion is completed or failed (the queue consumer runs in the background). */
export async function waitDone(apiKey: string, id: string) {
  return waitFor(async () => {
    const r = await status(apiKey, id);
    return r.json?.data?.status === "completed" || r.json?.data?.status === "failed" ? r : undefined;
  }, `ingestion ${id} to finish`);
}

export interface Driver {
  env: Env;
  sent: unknown[];
}

/**
 * An env whose JOBS queue records what is sent instead of delivering it, so a test drives the
 * chain itself, message by message, through the worker's own queue() entry point.
 */
export function manualEnv(overrides: Partial<Env> = {}): Driver {
  const sent: unknown[] = [];
  const jobs = {
    send: async (body: unknown) => {
      sent.push(body);
    },
    sendBatch: async (msgs: Iterable<{ body: unknown }>) => {
      for (const m of msgs) sent.push(m.body);
    },
  } as unknown as Queue<unknown>;
  return { env: { ...e, ...overrides, JOBS: jobs }, sent };
}

/** Upload through the worker's fetch with a given env (chunk sizes, recording queue). */
export async function uploadWith(d: Driver, apiKey: string, route: "kpis" | "survey-data", content: Body) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${BASE}/v1/${route}/csv`, { method: "POST", headers: { Authorization: `Bearer ${apiKey}` }, body: form(content) }),
    d.env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return json(res);
}

let seq = 0;
/** Delivers one message body to the worker's queue() handler; returns whether it was acked. */
export async function deliver(d: Driver, body: unknown, queue = "ferry-jobs") {
  const id = `m${++seq}`;
  const batch = createMessageBatch(queue, [{ id, timestamp: new Date(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, d.env, ctx);
  const result = await getQueueResult(batch, ctx);
  return result.explicitAcks.includes(id);
}

/** Delivers queued messages until none are left; returns every message delivered, in order. */
export async function drain(d: Driver) {
  const delivered: unknown[] = [];
  while (d.sent.length) {
    const body = d.sent.shift();
    delivered.push(body);
    if (!(await deliver(d, body))) throw new Error(`message not acked: ${JSON.stringify(body)}`);
  }
  return delivered;
}

/** Rows of a model stored for a tenant on its shard, in insertion order. */
export async function storedRows(tenantId: string, table: "kpis" | "survey_responses") {
  const t = await e.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(tenantId).first<{ shard: number }>();
  const db = (e as unknown as Record<string, D1Database>)[`DATA_${t?.shard}`] as D1Database;
  const { results } = await db.prepare(`SELECT * FROM ${table} WHERE tenant_id = ?1 ORDER BY row_id`).bind(tenantId).all<Record<string, unknown>>();
  return results;
}

/** Runs the worker's scheduled() entry point once with the driver's env. */
export async function runCron(d: Driver) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }), d.env, ctx);
  await waitOnExecutionContext(ctx);
}

/**
 * The control database whose batches fail (those for which `when` says so), as when the worker
 * dies between the rows' commit on the shard and the checkpoint's batch in the control DB:
 * `fail` rejects (a crash the chain sees) or never settles (a killed process). Everything
 * else passes through.
 */
export function failingControlBatch(
  db: D1Database,
  fail: () => Promise<never> = async () => Promise.reject(new Error("simulated crash before the checkpoint")),
  when: () => boolean = () => true,
): D1Database {
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === "batch") return (stmts: D1PreparedStatement[]) => (when() ? fail() : target.batch(stmts));
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
