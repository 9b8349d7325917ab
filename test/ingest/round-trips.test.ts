import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import type { Env } from "../../src/env";
import { localToolbox } from "../../src/jobs/toolbox";
import { BASE, setupTenant } from "../helpers";
import { actions, countRows } from "./util";

/**
 * How many calls a /v1 batch makes to D1. Every call to the local D1 costs CPU and a turn on
 * workerd's one thread, and on Cloudflare a round trip to the database's primary
 * (docs/ingestion.md, "What a request costs"). The real D1 bindings are wrapped to count the
 * calls that reach them (each `first`/`all`/`run`/`raw` of a statement, each `batch`), per
 * binding; the app is the real one, on that environment.
 */
function countingEnv(base: Env) {
  const calls: string[] = [];
  type Stmt = D1PreparedStatement & { real: D1PreparedStatement };
  const wrapStatement = (name: string, real: D1PreparedStatement): Stmt =>
    ({
      real,
      bind: (...values: unknown[]) => wrapStatement(name, real.bind(...values)),
      first: (col?: string) => (calls.push(`${name}.first`), col === undefined ? real.first() : real.first(col)),
      all: () => (calls.push(`${name}.all`), real.all()),
      run: () => (calls.push(`${name}.run`), real.run()),
      raw: (opts?: { columnNames?: boolean }) => (calls.push(`${name}.raw`), real.raw(opts as { columnNames: true })),
    }) as unknown as Stmt;
  const unwrap = (s: D1PreparedStatement) => (s as Stmt).real ?? s;
  const wrapDb = (name: string, db: Pick<D1Database, "prepare" | "batch">) => ({
    prepare: (query: string) => wrapStatement(name, db.prepare(query)),
    batch: (statements: D1PreparedStatement[]) => (calls.push(`${name}.batch`), db.batch(statements.map(unwrap))),
  });
  const wrapped: Record<string, unknown> = { ...base };
  for (const name of Object.keys(base)) {
    const db = (base as unknown as Record<string, D1Database>)[name];
    if (!/^(DB|DATA_\d+)$/.test(name) || typeof db?.withSession !== "function") continue;
    wrapped[name] = {
      ...wrapDb(name, db),
      exec: (q: string) => (calls.push(`${name}.exec`), db.exec(q)),
      dump: () => db.dump(),
      withSession: (constraint?: string) => {
        const session = db.withSession(constraint as D1SessionConstraint);
        return { ...wrapDb(name, session), getBookmark: () => session.getBookmark() };
      },
    };
  }
  return { env: wrapped as unknown as Env, calls };
}

const app = createApp({ toolbox: localToolbox });

async function post(e: Env, apiKey: string, body: unknown, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`${BASE}/v1/actions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json", ...headers },
      body: JSON.stringify(body),
    }),
    e,
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, text };
}

describe("D1 round trips of a /v1 batch", () => {
  it("once the isolate knows the API key, a batch is one D1 call: the shard's batch (rows, and the key's record with its answer)", async () => {
    const t = await setupTenant("round-trips");
    const { env: e, calls } = countingEnv(env as unknown as Env);
    const shard = `DATA_${(await (env as unknown as Env).DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(t.tenant.id).first<{ shard: number }>())?.shard}`;

    // The first request of the isolate looks the key up in the control DB (then cached, CREDENTIAL_CACHE_MS).
    expect((await post(e, t.apiKey, { actions: actions(1000) })).status).toBe(201);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatch(/^DB\./);
    expect(calls[1]).toBe(`${shard}.batch`);

    calls.length = 0;
    expect((await post(e, t.apiKey, { actions: actions(1000) })).status).toBe(201);
    expect(calls).toEqual([`${shard}.batch`]);

    // An Idempotency-Key rides in the same batch: still one call.
    calls.length = 0;
    const first = await post(e, t.apiKey, { actions: actions(10) }, { "Idempotency-Key": "rt-1" });
    expect(first.status).toBe(201);
    expect(calls).toEqual([`${shard}.batch`]);

    // A replay: the batch fails on the held key, and one read of the key answers it.
    calls.length = 0;
    const again = await post(e, t.apiKey, { actions: actions(10) }, { "Idempotency-Key": "rt-1" });
    expect(again.status).toBe(201);
    expect(again.text).toBe(first.text);
    expect(calls).toEqual([`${shard}.batch`, `${shard}.first`]);
    expect(await countRows(t.tenant.id, "actions")).toBe(2010);
  });
});
