import { AwsClient } from "aws4fetch";
import { expect } from "vitest";
import { type ChainMessage, handleChainMessage } from "../../src/chain";
import type { Env } from "../../src/env";
import { discoverSources } from "../../src/ingest/sources/discover";
import { chainJobs } from "../../src/jobs";
import type { JobMessage } from "../../src/jobs/messages";
import { type Services, createServices, fixedClock } from "../../src/services";
import { call } from "../helpers";
import { controlJson, e, servers, unique } from "../targets/helpers";

export { e, servers, unique, controlJson };

/**
 * A jobs queue that records what is sent, and a clock that moves only when told, so a test
 * delivers each chain link itself (or "loses" it) and decides when leases run out.
 */
export class ManualQueue {
  sent: JobMessage[] = [];
  readonly clock = fixedClock(Date.now());

  /** Services over the test env with `extra` bindings or settings. */
  services(extra: Partial<Env> = {}): Services {
    return createServices({ ...e, ...extra } as Env, {
      clock: this.clock,
      jobs: { send: async (m) => void this.sent.push(m) },
    });
  }

  take(): ChainMessage | undefined {
    return this.sent.shift() as ChainMessage | undefined;
  }
}

/** Runs one chain link through the chain, as the queue consumer does. */
export const deliver = (q: ManualQueue, m: ChainMessage, extra: Partial<Env> = {}) => handleChainMessage(q.services(extra), chainJobs, m);

export async function tenantShard(tenantId: string): Promise<D1Database> {
  const t = await e.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(tenantId).first<{ shard: number }>();
  if (!t) throw new Error("no tenant");
  return (e as unknown as Record<string, D1Database>)[`DATA_${t.shard}`] as D1Database;
}

/** A fresh bucket on the loopback S3 server. */
export async function newBucket(): Promise<string> {
  const bucket = unique("src");
  await controlJson("/s3/buckets", { name: bucket });
  return bucket;
}

/** What a customer does: writes a file into their bucket (SigV4 through the checking proxy). */
export async function putObject(bucket: string, key: string, body: string | Uint8Array): Promise<void> {
  const s = servers().s3;
  const aws = new AwsClient({ accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey, region: s.region, service: "s3", retries: 0 });
  const res = await aws.fetch(`${s.endpoint}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`, { method: "PUT", body });
  const text = await res.text();
  if (!res.ok) throw new Error(`put ${key}: ${res.status} ${text}`);
}

export function s3Config(bucket: string, over: Record<string, unknown> = {}) {
  const s = servers().s3;
  return {
    type: "s3",
    endpoint: s.endpoint,
    region: s.region,
    bucket,
    access_key_id: s.accessKeyId,
    secret_access_key: s.secretAccessKey,
    path_style: true,
    ...over,
  };
}

export async function createSource(token: string, config: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return call("POST", "/api/1/sources", { token, body: { name: "bucket", config, ...extra } });
}

/** Runs discovery for one tenant and then every chain link until the chains end. */
export async function tick(q: ManualQueue, tenantId: string, extra: Partial<Env> = {}, list: { pages?: number; pageSize?: number } = {}): Promise<number> {
  await discoverSources(q.services(extra), { tenantId, ...list });
  return drain(q, extra);
}

export async function drain(q: ManualQueue, extra: Partial<Env> = {}): Promise<number> {
  let n = 0;
  for (let m = q.take(); m; m = q.take()) {
    expect(m.type).toBe("chain");
    expect(m.chain_id).toMatch(/^source_file:/);
    await deliver(q, m, extra);
    if (++n > 5000) throw new Error("chain does not end");
  }
  return n;
}

export async function count(tenantId: string, table: string): Promise<number> {
  const db = await tenantShard(tenantId);
  const r = await db.prepare(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = ?1`).bind(tenantId).first<{ n: number }>();
  return r?.n ?? 0;
}

export async function files(token: string, sourceId: string, query = "") {
  const r = await call("GET", `/api/1/sources/${sourceId}/files${query}`, { token });
  expect(r.status, r.text).toBe(200);
  return r.json.files as {
    key: string;
    status: string;
    rows_accepted: number;
    rows_rejected: number;
    error: string | null;
    errors: { file: string; line: number; field: string; message: string }[];
  }[];
}

export async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export const ts = (i: number) => `2026-11-${String(1 + (i % 28)).padStart(2, "0")} 12:${String(i % 60).padStart(2, "0")}:00`;

export function purchasesNdjson(from: number, n: number): string {
  let out = "";
  for (let i = from; i < from + n; i++) out += `${JSON.stringify({ timestamp: ts(i), user_id: `u${i}`, item_id: `it${i % 7}`, count: 1 + (i % 3), price: 0.99 + i })}\n`;
  return out;
}

export function loginsCsv(from: number, n: number): string {
  let out = "timestamp,user_id,level,country\n";
  for (let i = from; i < from + n; i++) out += `${ts(i)},"user, ${i}",${i % 50},${i % 2 ? "US" : "de"}\n`;
  return out;
}
