import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { chainId } from "../../src/db/chains";
import { type ChainMessage, LEASE_SECONDS, MAX_ATTEMPTS, handleChainMessage, sweepStalledChains } from "../../src/chain";
import { shardDb, shardTables } from "../../src/db/shards";
import type { Env } from "../../src/env";
import { chainJobs } from "../../src/jobs";
import { type Services, createServices, fixedClock } from "../../src/services";
import { CHUNKS_PER_LINK, FREEZE_SECONDS, SETTLE_SECONDS, revertExpiredFreezes, startMove } from "../../src/tenants/moves";
import { turnsDuring } from "../chain/turns";
import { ADMIN, call, setupTenant, waitFor } from "../helpers";
import { createRun } from "../../src/runs";
import { expectedCsv, fileBytes, runRow, seedExport, seedParticipations } from "../exports-run/helpers";

const e = env as unknown as Env;
const SHARDS = [0, 1];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The move's own queue and clock: links are delivered by the test, one at a time. */
class MoveQueue {
  sent: { m: ChainMessage; delay: number }[] = [];
  clock = fixedClock(Date.now());
  s: Services;
  /** this test's move: messages of other chains (other tests' moves) are left alone */
  chain: string | undefined;
  /** other chains the test drives beside the move (an export run): their links wait for take(id) */
  keep = new Set<string>();
  constructor(vars: Partial<Env> = {}) {
    this.s = createServices({ ...e, ...vars } as Env, {
      clock: this.clock,
      jobs: { send: async (m, o) => void this.sent.push({ m: m as ChainMessage, delay: o?.delaySeconds ?? 0 }) },
    });
  }
  /** The next link of `chain` (default: the move), its delay passed on the clock; other chains' links are dropped unless kept. */
  take(chain = this.chain): ChainMessage | undefined {
    for (let i = 0; i < this.sent.length; ) {
      const next = this.sent[i]!;
      const id = next.m.chain_id;
      if (chain ? id === chain : id.startsWith("tenant_move:")) {
        this.sent.splice(i, 1);
        if (next.delay) this.clock.advance(next.delay);
        return next.m;
      }
      if (this.keep.has(id) || id === this.chain) i++;
      else this.sent.splice(i, 1);
    }
    return undefined;
  }
  deliver(m: ChainMessage, s: Services = this.s) {
    return handleChainMessage(s, chainJobs, m);
  }
  /** Delivers links until the move ends, `between` after each (other work interleaves there). */
  async drain(between: () => Promise<void> = async () => {}): Promise<number> {
    let n = 0;
    for (let m = this.take(); m; m = this.take()) {
      await this.deliver(m);
      await between();
      if (++n > 5000) throw new Error("the move does not end");
    }
    return n;
  }
  /** Delivers links until the move's checkpoint reaches `phase`. */
  async until(tenantId: string, phase: string): Promise<void> {
    for (let i = 0; i < 5000; i++) {
      if ((await moveOf(tenantId)).phase === phase) return;
      const m = this.take();
      if (!m) throw new Error(`the move ended before ${phase}`);
      await this.deliver(m);
    }
  }
}

async function moveOf(tenantId: string) {
  const r = await call("GET", `/api/1/admin/tenants/${tenantId}`, { headers: ADMIN });
  expect(r.status).toBe(200);
  return { ...r.json.move, shard: r.json.shard };
}

/** Every row of a tenant per table on one shard, as sorted JSON (row_id left out: it differs between shards). */
async function snapshot(shard: number, tenantId: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of shardTables()) {
    const r = await shardDb(e, shard)
      .prepare(`SELECT ${t.columns.join(", ")} FROM ${t.name} WHERE tenant_id = ?1`)
      .bind(tenantId)
      .raw();
    if (r.length) out[t.name] = r.map((x) => JSON.stringify(x)).sort();
  }
  return out;
}

/** `s` with shard `n`'s `batch` replaced (fault injection at the shard binding, below our code). */
function withShardBatch(s: Services, n: number, batch: (real: D1Database, stmts: D1PreparedStatement[]) => Promise<D1Result[]>): Services {
  const real = shardDb(e, n);
  const wrapped = new Proxy(real, {
    get(target, p) {
      const v = Reflect.get(target, p);
      if (p === "batch") return (stmts: D1PreparedStatement[]) => batch(target, stmts);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { ...s, shards: { count: () => s.shards.count(), db: (i) => (i === n ? wrapped : s.shards.db(i)) } };
}

/** Tenants until there is one on each shard besides `mover` (placement alternates between tied shards). */
async function tenantsOnEveryShard(prefix: string) {
  const byShard = new Map<number, Awaited<ReturnType<typeof setupTenant>>>();
  for (let i = 0; byShard.size < SHARDS.length && i < 8; i++) {
    const t = await setupTenant(`${prefix}-${i}`);
    const { shard } = await moveOf(t.tenant.id);
    if (!byShard.has(shard)) byShard.set(shard, t);
  }
  return byShard;
}

const action = (client: number, batch: number, i: number, user = `c${client}-b${batch}-${i}`) => ({
  timestamp: "2026-01-02 03:04:05",
  user_id: user,
  action_id: `a${i}`,
  action_name: "buy_item",
  action_params: [{ key: "batch", value: String(batch) }],
});
const item = (client: number, i: number, price: number) => ({ item_id: `c${client}-item-${i}`, price, currency: "EUR", name: `item ${i}` });
const trait = (client: number, batch: number, i: number) => ({
  user_id: `c${client}-u${i}`,
  category: "play",
  trait: `t${batch}`,
  score: (client * 10 + batch + i) % 100,
  timestamp: "2026-01-02 03:04:05",
});

/** Posts until answered (not 503): a 503 is retried after its Retry-After, with the same Idempotency-Key. */
async function post(apiKey: string, path: string, key: string, body: unknown, refused: { n: number; retryAfter: Set<string> }) {
  for (let i = 0; i < 200; i++) {
    const r = await call("POST", path, { token: apiKey, headers: { "Idempotency-Key": key }, body });
    if (r.status !== 503) return r;
    refused.n++;
    expect(r.json).toEqual({ code: 503, message: expect.stringContaining("being moved to another shard"), data: null });
    const after = r.headers.get("retry-after") ?? "";
    refused.retryAfter.add(after);
    await sleep(Number(after) * 1000);
  }
  throw new Error(`${path} kept answering 503`);
}

describe("the shard schema and the mover agree", () => {
  it("shardTables() names every tenant table of a migrated shard, with its columns, and every one has its three fence triggers", async () => {
    const db = shardDb(e, 0);
    const own = new Set(["tenant_fences", "tenant_move_log", "tenant_move_marks", "tenant_fence_probe", "d1_migrations"]);
    const tables = (
      await db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'").all<{ name: string }>()
    ).results
      .map((r) => r.name)
      .filter((n) => !own.has(n))
      .sort();
    expect(shardTables().map((t) => t.name).sort()).toEqual(tables);
    const triggers = new Set((await db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all<{ name: string }>()).results.map((r) => r.name));
    for (const t of shardTables()) {
      const cols = (await db.prepare(`SELECT name, "notnull" AS nn FROM pragma_table_info('${t.name}')`).all<{ name: string; nn: number }>()).results;
      expect(cols.map((c) => c.name).filter((c) => c !== "row_id"), t.name).toEqual([...t.columns]);
      expect(cols.some((c) => c.name === "row_id"), t.name).toBe(t.rowid);
      expect(cols.some((c) => c.name === t.group), `${t.name}.${t.group}`).toBe(true);
      for (const op of ["insert", "update", "delete"]) expect(triggers.has(`${t.name}_fence_${op}`), `${t.name}_fence_${op}`).toBe(true);
    }
  });
});

describe("POST /api/1/admin/tenants/:id/move", () => {
  it("refuses the tenant's own shard, an unknown shard and an unknown tenant; needs the admin token", async () => {
    const { tenant } = await setupTenant("move-errors");
    const { shard } = await moveOf(tenant.id);
    const own = await call("POST", `/api/1/admin/tenants/${tenant.id}/move`, { headers: ADMIN, body: { shard } });
    expect(own.status).toBe(400);
    expect(own.json.error.message).toContain(`already on shard ${shard}`);
    const unknown = await call("POST", `/api/1/admin/tenants/${tenant.id}/move`, { headers: ADMIN, body: { shard: 7 } });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toContain("Unknown shard 7");
    const negative = await call("POST", `/api/1/admin/tenants/${tenant.id}/move`, { headers: ADMIN, body: { shard: -1 } });
    expect(negative.status).toBe(400);
    const missing = await call("POST", "/api/1/admin/tenants/ten_missing/move", { headers: ADMIN, body: { shard: 0 } });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("not_found");
    expect((await call("POST", `/api/1/admin/tenants/${tenant.id}/move`, { body: { shard: 1 - shard } })).status).toBe(401);
    expect((await moveOf(tenant.id)).id).toBeUndefined();
  });

  it("answers 202 with the move, runs it on the queue, and GET shows its progress until the tenant is on the new shard", async () => {
    const { tenant, apiKey } = await setupTenant("move-api");
    const from = (await moveOf(tenant.id)).shard;
    const users = Array.from({ length: 30 }, (_, i) => ({ user_id: `u${i}`, timestamp: "2026-01-01 00:00:00" }));
    expect((await call("POST", "/v1/logins", { token: apiKey, body: { users } })).status).toBe(201);
    const r = await call("POST", `/api/1/admin/tenants/${tenant.id}/move`, { headers: ADMIN, body: { shard: 1 - from } });
    expect(r.status).toBe(202);
    // the request counts nothing: rows_total is null until the chain's first link has counted
    expect(r.json).toMatchObject({ id: expect.stringMatching(/^mov_/), from_shard: from, to_shard: 1 - from, state: "copying", phase: "count", rows_total: null, rows_copied: 0 });
    const again = await call("POST", `/api/1/admin/tenants/${tenant.id}/move`, { headers: ADMIN, body: { shard: 1 - from } });
    expect([400, 409]).toContain(again.status);
    // the worker's own queue consumer runs the chain up to the switch; the old copy then waits SETTLE_SECONDS
    const switched = await waitFor(async () => {
      const m = await moveOf(tenant.id);
      return m.state === "switched" ? m : undefined;
    }, "the switch");
    expect(switched).toMatchObject({ shard: 1 - from, phase: "wait", rows_total: 30, rows_copied: 30, switched_at: expect.any(Number) });
    expect(switched.progress).toBeGreaterThanOrEqual(0.85);
    expect((await snapshot(1 - from, tenant.id)).logins).toHaveLength(30);
    // ingestion goes to the new shard now
    expect((await call("POST", "/v1/logins", { token: apiKey, body: { users: [{ user_id: "after" }] } })).status).toBe(201);
    expect((await snapshot(1 - from, tenant.id)).logins).toHaveLength(31);
    expect((await snapshot(from, tenant.id)).logins).toHaveLength(30);
  });
});

describe("the request that starts a move", () => {
  it("reads none of the tenant's rows: startMove does not open a shard, and the first link counts", async () => {
    const { tenant, apiKey } = await setupTenant("move-no-count");
    const from = (await moveOf(tenant.id)).shard;
    expect((await call("POST", "/v1/actions", { token: apiKey, body: { actions: Array.from({ length: 7 }, (_, i) => action(4, 0, i)) } })).status).toBe(201);
    const q = new MoveQueue();
    const opened: number[] = [];
    const noShards: Services = {
      ...q.s,
      shards: {
        count: () => q.s.shards.count(),
        db: (n) => {
          opened.push(n);
          throw new Error(`shard ${n} opened by the request`);
        },
      },
    };
    const started = await startMove(noShards, tenant.id, 1 - from);
    expect(opened).toEqual([]);
    expect(started).toMatchObject({ state: "copying", phase: "count", rows_total: null, progress: 0 });
    q.chain = `tenant_move:${started.id}`;
    expect((await moveOf(tenant.id)).rows_total).toBeNull();
    await q.deliver(q.take()!);
    expect(await moveOf(tenant.id)).toMatchObject({ phase: "clear", rows_total: 7 });
    await q.drain();
    expect(await moveOf(tenant.id)).toMatchObject({ state: "done", shard: 1 - from, rows_total: 7, rows_copied: 7 });
  });
});

describe("a move's links and other requests", () => {
  it("every link that reads or writes rows gives the runtime a turn once per chunk (yieldToRuntime)", async () => {
    const { tenant, apiKey } = await setupTenant("move-turns");
    const from = (await moveOf(tenant.id)).shard;
    expect((await call("POST", "/v1/actions", { token: apiKey, body: { actions: Array.from({ length: 7 }, (_, i) => action(5, 0, i)) } })).status).toBe(201);
    const q = new MoveQueue();
    q.chain = `tenant_move:${(await startMove(q.s, tenant.id, 1 - from)).id}`;
    const turns: Record<string, number[]> = {};
    for (let m = q.take(); m; m = q.take()) {
      const { phase } = await moveOf(tenant.id);
      const { turns: n } = await turnsDuring(() => q.deliver(m));
      turns[phase] = [...(turns[phase] ?? []), n];
    }
    expect(await moveOf(tenant.id)).toMatchObject({ state: "done", shard: 1 - from, rows_copied: 7 });
    // A small tenant: every table is one chunk (one count, read, write, checksum or delete), so
    // each phase that works through the tables yields once per table, CHUNKS_PER_LINK a link at most.
    const tables = shardTables().length;
    expect(tables).toBeGreaterThan(CHUNKS_PER_LINK);
    expect(turns.count).toEqual([tables]);
    for (const phase of ["clear", "copy", "catchup", "verify", "delete"]) {
      const links = turns[phase] ?? [];
      expect(links.reduce((a, b) => a + b, 0), phase).toBe(tables);
      expect(Math.max(...links), phase).toBe(CHUNKS_PER_LINK);
    }
  });
});

describe("a move that fails", () => {
  it("a copy that differs from the source fails the verification: the move ends failed naming the table, the tenant stays, loses nothing, and the partial copy is deleted", { timeout: 300_000 }, async () => {
    const { tenant, apiKey, token } = await setupTenant("move-mismatch");
    const from = (await moveOf(tenant.id)).shard;
    const to = 1 - from;
    for (let b = 0; b < 3; b++) {
      expect((await call("POST", "/v1/actions", { token: apiKey, body: { actions: Array.from({ length: 300 }, (_, i) => action(5, b, i)) } })).status).toBe(201);
    }
    expect((await call("POST", "/v1/items", { token: apiKey, body: { items: [item(5, 0, 1), item(5, 1, 2)] } })).status).toBe(201);
    const before = await snapshot(from, tenant.id);
    const q = new MoveQueue();
    const started = await startMove(q.s, tenant.id, to);
    q.chain = `tenant_move:${started.id}`;
    await q.until(tenant.id, "verify");
    expect(await moveOf(tenant.id)).toMatchObject({ state: "frozen", shard: from });
    expect((await snapshot(to, tenant.id)).actions).toHaveLength(900);
    // one copied row altered on the target, through the shard binding, between two links
    const altered = await shardDb(e, to)
      .prepare("UPDATE actions SET action_name = 'tampered' WHERE row_id = (SELECT max(row_id) FROM actions WHERE tenant_id = ?1)")
      .bind(tenant.id)
      .run();
    expect(altered.meta.changes).toBe(1);

    await q.drain();
    const failed = await moveOf(tenant.id);
    expect(failed).toMatchObject({ state: "failed", phase: "cleanup", shard: from, switched_at: null, progress: 0, finished_at: expect.any(Number) });
    expect(failed.error).toBe(`verification failed for actions: 900 rows on shard ${from}, 900 on shard ${to} (same count, different checksum)`);
    const chain = await e.DB.prepare("SELECT status, last_error FROM chains WHERE id = ?1").bind(chainId("tenant_move", started.id)).first<{ status: string; last_error: string }>();
    expect(chain).toEqual({ status: "failed", last_error: failed.error });

    // the partial copy is gone from the target, with the mover's marks; no fence is left on either shard
    expect(await snapshot(to, tenant.id)).toEqual({});
    for (const sh of [from, to]) {
      for (const table of ["tenant_fences", "tenant_move_marks", "tenant_move_log"]) {
        const n = await shardDb(e, sh).prepare(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = ?1`).bind(tenant.id).first<{ n: number }>();
        expect(n?.n, `${table} on shard ${sh}`).toBe(0);
      }
    }
    // nothing lost on the old shard, and the tenant reads and writes there as before
    expect(await snapshot(from, tenant.id)).toEqual(before);
    const write = await call("POST", "/v1/actions", { token: apiKey, body: { actions: [action(5, 9, 0)] } });
    expect(write.status, write.text).toBe(201);
    const read = await call("POST", "/api/1/exports/preview", { token, body: { name: "after-failure", model: "actions", all_fields: true, format: { type: "csv" } } });
    expect(read.status, read.text).toBe(200);
    expect(read.json.row_count).toBe(901);
    expect((await snapshot(from, tenant.id)).actions).toHaveLength(901);

    // the next move is not blocked, and succeeds
    const again = await call("POST", `/api/1/admin/tenants/${tenant.id}/move`, { headers: ADMIN, body: { shard: to } });
    expect(again.status, again.text).toBe(202);
    await waitFor(async () => ((await moveOf(tenant.id)).state === "switched" ? true : undefined), "the second move's switch");
    expect((await snapshot(to, tenant.id)).actions).toHaveLength(901);
  });

  it("while the cleanup runs the move is `failing`: a new move is refused (409) and the tenant already writes on its old shard", { timeout: 300_000 }, async () => {
    const { tenant, apiKey } = await setupTenant("move-failing");
    const from = (await moveOf(tenant.id)).shard;
    expect((await call("POST", "/v1/actions", { token: apiKey, body: { actions: Array.from({ length: 40 }, (_, i) => action(6, 0, i)) } })).status).toBe(201);
    const q = new MoveQueue();
    q.chain = `tenant_move:${(await startMove(q.s, tenant.id, 1 - from)).id}`;
    await q.until(tenant.id, "verify");
    await shardDb(e, 1 - from).prepare("DELETE FROM actions WHERE row_id = (SELECT min(row_id) FROM actions WHERE tenant_id = ?1)").bind(tenant.id).run();
    await q.until(tenant.id, "cleanup");
    const failing = await moveOf(tenant.id);
    expect(failing).toMatchObject({ state: "failing", shard: from, error: `verification failed for actions: 40 rows on shard ${from}, 39 on shard ${1 - from}` });
    expect((await call("POST", `/api/1/admin/tenants/${tenant.id}/move`, { headers: ADMIN, body: { shard: 1 - from } })).status).toBe(409);
    expect((await call("POST", "/v1/actions", { token: apiKey, body: { actions: [action(6, 1, 0)] } })).status).toBe(201);
    await q.drain();
    expect(await moveOf(tenant.id)).toMatchObject({ state: "failed", shard: from });
    expect(await snapshot(1 - from, tenant.id)).toEqual({});
    expect((await snapshot(from, tenant.id)).actions).toHaveLength(41);
  });
});

describe("a move whose link keeps failing", () => {
  it("the chain gives up, the move's giveUp records the cleanup as the next link and restarts the chain there; the partial copy goes", { timeout: 300_000 }, async () => {
    const { tenant, apiKey } = await setupTenant("move-giveup");
    const from = (await moveOf(tenant.id)).shard;
    const to = 1 - from;
    for (let b = 0; b < 2; b++) {
      expect((await call("POST", "/v1/actions", { token: apiKey, body: { actions: Array.from({ length: 400 }, (_, i) => action(7, b, i)) } })).status).toBe(201);
    }
    const q = new MoveQueue();
    const started = await startMove(q.s, tenant.id, to);
    q.chain = `tenant_move:${started.id}`;
    await q.until(tenant.id, "copy");
    // the target takes one batch of rows, then refuses every write
    let batches = 0;
    const broken = withShardBatch(q.s, to, async (real, stmts) => {
      if (++batches > 1) throw new Error("D1_ERROR: the target shard is read-only");
      return real.batch(stmts);
    });
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const m = q.take();
      expect(m?.chain_id).toBe(q.chain);
      await q.deliver(m!, broken);
    }
    expect((await snapshot(to, tenant.id)).actions).toHaveLength(500);
    const failing = await moveOf(tenant.id);
    expect(failing).toMatchObject({ state: "failing", phase: "cleanup", shard: from });
    expect(failing.error).toContain("The move kept failing and was given up: D1_ERROR: the target shard is read-only (gave up after 5 attempts)");
    // the tenant writes on its shard already
    expect((await call("POST", "/v1/actions", { token: apiKey, body: { actions: [action(7, 9, 0)] } })).status).toBe(201);
    // the same chain runs on: its cleanup link, then failed
    await q.drain();
    expect(await moveOf(tenant.id)).toMatchObject({ state: "failed", shard: from, error: failing.error });
    const chain = await e.DB.prepare("SELECT status FROM chains WHERE id = ?1").bind(q.chain).first<{ status: string }>();
    expect(chain?.status).toBe("failed");
    expect(await snapshot(to, tenant.id)).toEqual({});
    expect((await snapshot(from, tenant.id)).actions).toHaveLength(801);
  });
});

describe("an export run across the switch", () => {
  it("a run made before the switch reads its pinned old shard to the end: every row once in the file, and the old copy stays until the run ended", { timeout: 300_000 }, async () => {
    const { tenant, token } = await setupTenant("move-export");
    const from = (await moveOf(tenant.id)).shard;
    const to = 1 - from;
    const ROWS = 1200;
    await seedParticipations(tenant.id, ROWS);
    const exportId = await seedExport(token);
    const expected = await expectedCsv(tenant.id);
    // every row id the copy gets on the target is past every row id of the source: a run that
    // followed the tenant mid-way, with the source's keyset cursor, would read rows twice
    const top = await shardDb(e, from).prepare("SELECT max(row_id) AS m FROM participations").first<{ m: number }>();
    await shardDb(e, to)
      .prepare("INSERT INTO participations (row_id, tenant_id, ingested_at, user_id, stackinstanceid, stackid, value, has_won, has_completed, participation_date) VALUES (?1, 'ten_filler', 0, 'f', 's', 's', 0, 0, 0, '2026-01-01 00:00:00')")
      .bind((top?.m ?? 0) + 1000)
      .run();

    // 10 rows a read, one step (500 rows) a link: the run takes several links
    const q = new MoveQueue({ EXPORT_CHUNK_ROWS: "10", EXPORT_STEPS_PER_MESSAGE: "1" } as Partial<Env>);
    q.chain = `tenant_move:${(await startMove(q.s, tenant.id, to)).id}`;
    await q.until(tenant.id, "copy");
    const run = await createRun(q.s, { tenantId: tenant.id, exportId, trigger: "manual" });
    const runChain = chainId("export_run", run.id);
    q.keep.add(runChain);
    const runLink = async () => {
      const m = q.take(runChain);
      if (!m) return false;
      await q.deliver(m);
      return true;
    };
    expect(await runLink()).toBe(true);
    expect((await runRow(run.id)).status).toBe("processing");

    // the move switches between the run's links
    await q.until(tenant.id, "wait");
    const switched = await moveOf(tenant.id);
    expect(switched).toMatchObject({ state: "switched", shard: to });
    expect(run.created_at).toBeLessThanOrEqual(switched.switched_at);
    const ids = async (sh: number) =>
      (await shardDb(e, sh).prepare("SELECT min(row_id) AS lo, max(row_id) AS hi FROM participations WHERE tenant_id = ?1").bind(tenant.id).first<{ lo: number; hi: number }>())!;
    expect((await ids(to)).lo).toBeGreaterThan((await ids(from)).hi);

    // past SETTLE_SECONDS the move still waits for the run: the old copy stays whole
    for (let i = 0; i < 3; i++) {
      await q.deliver(q.take()!); // each wait link asks to be sent again later: SETTLE_SECONDS, then 30 s
      expect(await moveOf(tenant.id)).toMatchObject({ state: "switched", phase: "wait", rows_deleted: 0 });
      expect((await snapshot(from, tenant.id)).participations).toHaveLength(ROWS);
    }
    expect(q.clock.seconds() - switched.switched_at).toBeGreaterThanOrEqual(SETTLE_SECONDS);

    // the run's other links, after the switch
    let links = 1;
    while (await runLink()) links++;
    expect(links).toBeGreaterThanOrEqual(3);
    const done = await runRow(run.id);
    expect(done.status).toBe("finished");
    const file = new TextDecoder().decode(await fileBytes(done.file_key as string));
    expect(file.split("\n").length - 2).toBe(ROWS);
    expect(file).toBe(expected);

    // now the old copy goes
    await q.drain();
    expect(await moveOf(tenant.id)).toMatchObject({ state: "done", shard: to, rows_deleted: ROWS });
    expect(await snapshot(from, tenant.id)).toEqual({});
    expect((await snapshot(to, tenant.id)).participations).toHaveLength(ROWS);
    await shardDb(e, to).prepare("DELETE FROM participations WHERE tenant_id = 'ten_filler'").run();
  });
});

describe("moving a tenant while it ingests", () => {
  it("4 clients ingest through the move: every row arrives once on the new shard, the old shard keeps none, other tenants are untouched", { timeout: 300_000 }, async () => {
    const [mover] = [...(await tenantsOnEveryShard("mover")).values()];
    const others = await tenantsOnEveryShard("bystander");
    const tenantId = mover!.tenant.id;
    const apiKey = mover!.apiKey;
    const from = (await moveOf(tenantId)).shard;
    const to = 1 - from;
    const refused = { n: 0, retryAfter: new Set<string>() };

    // data before the move: events, entities (upserted later), traits, a user who is deleted during the move
    const expected = { actions: new Set<string>(), items: new Map<string, number>(), traits: new Set<string>(), keys: new Set<string>() };
    for (let b = 0; b < 4; b++) {
      const body = { actions: Array.from({ length: 150 }, (_, i) => action(9, b, i, i < 5 ? "doomed" : undefined)) };
      expect((await post(apiKey, "/v1/actions", `pre-${b}`, body, refused)).status).toBe(201);
      expected.keys.add(`pre-${b}`);
      for (const a of body.actions) if (a.user_id !== "doomed") expected.actions.add(`${a.user_id}|${a.action_id}`);
    }
    const segmentVectors = shardDb(e, from).prepare(
      "INSERT INTO segment_vectors (tenant_id, segment_id, run_id, user_id, vector) VALUES (?1, 'default', 'run1', ?2, '[1,2]')",
    );
    await shardDb(e, from).batch(Array.from({ length: 20 }, (_, i) => segmentVectors.bind(tenantId, `v${i}`)));
    for (const [, o] of others) {
      expect((await call("POST", "/v1/actions", { token: o.apiKey, headers: { "Idempotency-Key": "o-1" }, body: { actions: [action(7, 0, 0), action(7, 0, 1)] } })).status).toBe(201);
      expect((await call("POST", "/v1/items", { token: o.apiKey, body: { items: [item(7, 0, 1)] } })).status).toBe(201);
    }
    const before = await Promise.all(SHARDS.map(async (sh) => Object.fromEntries(await Promise.all([...others.values()].map(async (o) => [o.tenant.id, await snapshot(sh, o.tenant.id)])))));

    const q = new MoveQueue();
    const started = await startMove(q.s, tenantId, to);
    q.chain = `tenant_move:${started.id}`;
    expect(started.rows_total).toBeNull();
    await q.deliver(q.take()!); // the first link counts
    expect(await moveOf(tenantId)).toMatchObject({ phase: "clear", rows_total: 600 + 4 + 20 }); // actions, their idempotency keys, vectors
    let deletion = "";
    const mover$ = q.drain();

    const client = async (c: number) => {
      // a few batches each, side by side with the move's links (the move may end before or after them)
      for (let b = 0; b < 5; b++) {
        const acts = { actions: Array.from({ length: 40 }, (_, i) => action(c, b, i)) };
        const r1 = await post(apiKey, "/v1/actions", `c${c}-a${b}`, acts, refused);
        expect(r1.status, r1.text).toBe(201);
        // a client retrying a batch it already sent (its answer was lost) gets the stored answer
        if (b % 3 === 1) {
          const dup = await post(apiKey, "/v1/actions", `c${c}-a${b}`, acts, refused);
          expect(dup.status).toBe(201);
          expect(dup.headers.get("idempotent-replayed")).toBe("true");
        }
        for (const a of acts.actions) expected.actions.add(`${a.user_id}|${a.action_id}`);
        // the same items again with a new price: updates in place on the shard
        const items = { items: Array.from({ length: 5 }, (_, i) => item(c, i, b + 1)) };
        expect((await post(apiKey, "/v1/items", `c${c}-i${b}`, items, refused)).status).toBe(201);
        for (const it of items.items) expected.items.set(it.item_id, it.price);
        const traits = { user_traits: Array.from({ length: 10 }, (_, i) => trait(c, b, i)) };
        expect((await post(apiKey, "/v1/records/user_traits", `c${c}-t${b}`, traits, refused)).status).toBe(201);
        for (const t of traits.user_traits) expected.traits.add(`${t.user_id}|${t.trait}|${t.score}`);
        for (const k of ["a", "i", "t"]) expected.keys.add(`c${c}-${k}${b}`);
        if (c === 0 && b === 1) {
          // a deletion is recorded here and runs as its own chain, which waits while the tenant moves
          const del = await post(apiKey, "/v1/user-data", "delete-doomed", { id: "doomed" }, refused);
          expect(del.status).toBe(202);
          deletion = (del.json as { data: { request_id: string } }).data.request_id;
          expected.keys.add("delete-doomed");
        }
      }
    };
    await Promise.all([mover$, ...[0, 1, 2, 3].map(client)]);

    const done = await moveOf(tenantId);
    expect(done).toMatchObject({ state: "done", shard: to, progress: 1, error: null });
    // the deletion (on the worker's real queue) finishes on the new shard after the move
    expect(deletion).not.toBe("");
    for (let i = 0; i < 120; i++) {
      const st = await call("GET", `/v1/user-data/${deletion}`, { token: apiKey });
      if ((st.json as { data: { status: string } }).data.status === "done") break;
      await sleep(500);
    }
    expect((await call("GET", `/v1/user-data/${deletion}`, { token: apiKey })).json).toMatchObject({ data: { status: "done" } });
    // the old shard holds nothing of the tenant; the new one exactly what was sent
    expect(await snapshot(from, tenantId)).toEqual({});
    const now = await snapshot(to, tenantId);
    const actions = now.actions!.map((j) => JSON.parse(j) as unknown[]);
    const actionCols = shardTables().find((t) => t.name === "actions")!.columns;
    const col = (name: string) => actionCols.indexOf(name);
    expect(actions.map((r) => `${r[col("user_id")]}|${r[col("action_id")]}`).sort()).toEqual([...expected.actions].sort());
    const itemCols = shardTables().find((t) => t.name === "items")!.columns;
    expect(Object.fromEntries(now.items!.map((j) => JSON.parse(j) as unknown[]).map((r) => [r[itemCols.indexOf("item_id")], r[itemCols.indexOf("price")]]))).toEqual(
      Object.fromEntries(expected.items),
    );
    const traitCols = shardTables().find((t) => t.name === "user_traits")!.columns;
    expect(
      now.user_traits!
        .map((j) => JSON.parse(j) as unknown[])
        .map((r) => `${r[traitCols.indexOf("user_id")]}|${r[traitCols.indexOf("trait")]}|${r[traitCols.indexOf("score")]}`)
        .sort(),
    ).toEqual([...expected.traits].sort());
    expect(now.segment_vectors).toHaveLength(20);
    const keys = now.idempotency_keys!.map((j) => JSON.parse(j) as unknown[]).map((r) => r[1] as string);
    expect(keys.sort()).toEqual([...expected.keys].sort());
    expect(actions.some((r) => r[col("user_id")] === "doomed")).toBe(false);

    // a batch retried after the move is still deduplicated
    const replay = await call("POST", "/v1/actions", {
      token: apiKey,
      headers: { "Idempotency-Key": "pre-0" },
      body: { actions: Array.from({ length: 150 }, (_, i) => action(9, 0, i, i < 5 ? "doomed" : undefined)) },
    });
    expect(replay.status, replay.text).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect((await snapshot(to, tenantId)).actions).toHaveLength(actions.length);

    const after = await Promise.all(SHARDS.map(async (sh) => Object.fromEntries(await Promise.all([...others.values()].map(async (o) => [o.tenant.id, await snapshot(sh, o.tenant.id)])))));
    expect(after).toEqual(before);
    if (refused.n) expect([...refused.retryAfter]).toEqual(["2"]);
  });

  it("during the freeze a write is a 503 with Retry-After in the /v1 envelope; after the switch it lands on the new shard, also from a stale placement", async () => {
    const { tenant, apiKey } = await setupTenant("move-freeze");
    const from = (await moveOf(tenant.id)).shard;
    expect((await call("POST", "/v1/actions", { token: apiKey, body: { actions: [action(1, 0, 0)] } })).status).toBe(201);
    const q = new MoveQueue();
    q.chain = `tenant_move:${(await startMove(q.s, tenant.id, 1 - from)).id}`;
    await q.until(tenant.id, "catchup");
    const m = await moveOf(tenant.id);
    expect(m).toMatchObject({ state: "frozen", freeze_until: expect.any(Number) });
    expect(m.freeze_until - q.clock.seconds()).toBe(FREEZE_SECONDS);

    const frozen = await call("POST", "/v1/actions", { token: apiKey, headers: { "Idempotency-Key": "f-1" }, body: { actions: [action(1, 1, 0)] } });
    expect(frozen.status).toBe(503);
    expect(frozen.headers.get("retry-after")).toBe("2");
    expect(frozen.json).toEqual({ code: 503, message: expect.stringContaining("Retry after 2 seconds"), data: null });
    // a deletion request is only recorded in the control DB (202); its chain waits until the move ends
    const del = await call("POST", "/v1/user-data", { token: apiKey, body: { id: "nobody-at-all" } });
    expect(del.status).toBe(202);

    await q.until(tenant.id, "wait");
    expect((await moveOf(tenant.id)).shard).toBe(1 - from);
    // the old shard refuses the tenant for good: a write with a stale placement is refused there
    const stale = await shardDb(e, from)
      .prepare("INSERT INTO actions (tenant_id, ingested_at, user_id, action_id, action_name) VALUES (?1, 0, 'x', 'y', 'z')")
      .bind(tenant.id)
      .run()
      .catch((err: unknown) => err);
    expect(String(stale)).toContain("ferry:tenant_fenced");
    const retried = await call("POST", "/v1/actions", { token: apiKey, headers: { "Idempotency-Key": "f-1" }, body: { actions: [action(1, 1, 0)] } });
    expect(retried.status).toBe(201);
    expect((await snapshot(1 - from, tenant.id)).actions).toHaveLength(2);
    // the old copy stays for readers until SETTLE_SECONDS after the switch, then goes
    expect((await snapshot(from, tenant.id)).actions).toHaveLength(1);
    await q.drain();
    expect(q.clock.seconds() - (await moveOf(tenant.id)).switched_at).toBeGreaterThanOrEqual(SETTLE_SECONDS);
    expect(await snapshot(from, tenant.id)).toEqual({});
    expect((await moveOf(tenant.id)).state).toBe("done");
  });

  it("a freeze whose worker died ends by itself: the cron reverts it after FREEZE_SECONDS and the move freezes again later", async () => {
    const { tenant, apiKey } = await setupTenant("move-revert");
    const from = (await moveOf(tenant.id)).shard;
    expect((await call("POST", "/v1/actions", { token: apiKey, body: { actions: [action(2, 0, 0)] } })).status).toBe(201);
    const q = new MoveQueue();
    q.chain = `tenant_move:${(await startMove(q.s, tenant.id, 1 - from)).id}`;
    await q.until(tenant.id, "catchup");
    // the link's worker dies here: its message is lost
    const lost = q.take()!;
    expect((await call("POST", "/v1/actions", { token: apiKey, body: { actions: [action(2, 1, 0)] } })).status).toBe(503);
    q.clock.advance(FREEZE_SECONDS - 1);
    await revertExpiredFreezes(q.s);
    expect((await moveOf(tenant.id)).state).toBe("frozen");
    q.clock.advance(1);
    expect(await revertExpiredFreezes(q.s)).toBeGreaterThanOrEqual(1);
    expect((await moveOf(tenant.id)).state).toBe("copying");
    expect((await call("POST", "/v1/actions", { token: apiKey, body: { actions: [action(2, 1, 0)] } })).status).toBe(201);
    // the lost link comes back (sweep) and sees the reverted move: it copies on and freezes again
    q.clock.advance(LEASE_SECONDS);
    await sweepStalledChains(q.s);
    expect(q.sent.map((x) => x.m)).toContainEqual(lost);
    await q.drain();
    const m = await moveOf(tenant.id);
    expect(m).toMatchObject({ state: "done", shard: 1 - from });
    expect((await snapshot(1 - from, tenant.id)).actions).toHaveLength(2);
    expect(await snapshot(from, tenant.id)).toEqual({});
  });

  it("a link killed after writing to the new shard is resumed by the sweep and copies nothing twice; the move verifies", async () => {
    const { tenant, apiKey } = await setupTenant("move-crash");
    const from = (await moveOf(tenant.id)).shard;
    for (let b = 0; b < 3; b++) {
      expect((await call("POST", "/v1/actions", { token: apiKey, body: { actions: Array.from({ length: 400 }, (_, i) => action(3, b, i)) } })).status).toBe(201);
    }
    const q = new MoveQueue();
    q.chain = `tenant_move:${(await startMove(q.s, tenant.id, 1 - from)).id}`;
    await q.until(tenant.id, "copy");
    // one copy link whose process dies right after its first batch committed on the new shard
    const link = q.take()!;
    let killed = false;
    const dying = withShardBatch(q.s, 1 - from, async (real, stmts) => {
      const r = await real.batch(stmts);
      if (!killed) {
        killed = true;
        return new Promise(() => {}); // never answers: the worker is gone
      }
      return r;
    });
    void q.deliver(link, dying);
    await waitFor(async () => (killed ? true : undefined), "the copy batch");
    expect((await snapshot(1 - from, tenant.id)).actions?.length).toBeGreaterThan(0);
    // not before the lease ran out; then the sweep sends the link again and the move finishes
    await sweepStalledChains(q.s);
    expect(q.sent.filter((x) => x.m.chain_id === q.chain)).toEqual([]);
    q.clock.advance(LEASE_SECONDS + 1);
    expect(await sweepStalledChains(q.s)).toBeGreaterThanOrEqual(1);
    await q.drain();
    const m = await moveOf(tenant.id);
    expect(m).toMatchObject({ state: "done", shard: 1 - from, error: null });
    const rows = (await snapshot(1 - from, tenant.id)).actions!;
    expect(rows).toHaveLength(1200);
    expect(new Set(rows).size).toBe(1200);
    expect(await snapshot(from, tenant.id)).toEqual({});
  });
});
