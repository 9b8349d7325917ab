import { parquetWriteBuffer } from "hyparquet-writer";
import { describe, expect, it } from "vitest";
import { setupTenant } from "../helpers";
import { type ChainMessage, LEASE_SECONDS, LeaseLost, MAX_ATTEMPTS, handleChainMessage, sweepStalledChains } from "../../src/chain";
import { WORKER_STOPPED, getChainUnscoped } from "../../src/db/chains";
import { sourceFileStep } from "../../src/ingest/sources/chunks";
import { chainJobs } from "../../src/jobs";
import type { Clock } from "../../src/services";
import { failingControlBatch } from "../ingest-csv/helpers";
import {
  ManualQueue,
  count,
  createSource,
  deliver,
  drain,
  e,
  files,
  gzip,
  loginsCsv,
  newBucket,
  purchasesNdjson,
  putObject,
  s3Config,
  tick,
  ts,
  servers,
} from "./helpers";
import { discoverSources } from "../../src/ingest/sources/discover";

/** Small chunks so every file takes several messages (ranged reads resuming mid-file). */
const SMALL = { SOURCE_CHUNK_BYTES: "700", SOURCE_CHUNK_ROWS: "9" };

function purchasesParquet(from: number, n: number, rowGroupSize: number): Uint8Array {
  const idx = Array.from({ length: n }, (_, i) => from + i);
  const buf = parquetWriteBuffer({
    columnData: [
      { name: "timestamp", data: idx.map(ts), type: "STRING" },
      { name: "user_id", data: idx.map((i) => `u${i}`), type: "STRING" },
      { name: "item_id", data: idx.map((i) => `it${i % 7}`), type: "STRING" },
      { name: "count", data: idx.map((i) => 1 + (i % 3)), type: "INT32" },
      { name: "price", data: idx.map((i) => 0.99 + i), type: "DOUBLE" },
    ],
    rowGroupSize,
  });
  return new Uint8Array(buf);
}

async function tenantWithSource(prefix = "") {
  const t = await setupTenant("src", ["sources-manage", "ingest"]);
  const bucket = await newBucket();
  return { t, bucket, prefix };
}

describe("bucket sources: formats and layouts", () => {
  it("ingests NDJSON, CSV, Parquet and their gzip variants in every layout, once however often the cron runs", async () => {
    const { t, bucket } = await tenantWithSource();
    const root = "games/prod/";
    await putObject(bucket, `${root}purchases/date=2026-11-01/load_id=a1/part-0.ndjson`, purchasesNdjson(0, 40));
    await putObject(bucket, `${root}purchases/purchases_1600089751.jsonl.gz`, await gzip(purchasesNdjson(40, 35)));
    await putObject(bucket, `${root}purchases/date=2026-11-02/part-0.parquet`, purchasesParquet(75, 50, 12));
    await putObject(bucket, `${root}logins/logins_1600089751.csv`, loginsCsv(0, 30));
    await putObject(bucket, `${root}logins/date=2026-11-02/load_id=b7/x/logins.csv.gz`, await gzip(loginsCsv(30, 25)));
    // Not ingested: outside the data-type folders, unknown folder, marker, unknown extension, outside the prefix.
    await putObject(bucket, `${root}readme.ndjson`, purchasesNdjson(0, 1));
    await putObject(bucket, `${root}unknown_type/a.ndjson`, purchasesNdjson(0, 1));
    await putObject(bucket, `${root}purchases/date=2026-11-01/_SUCCESS`, "");
    await putObject(bucket, `${root}purchases/notes.txt`, "hello");
    await putObject(bucket, `elsewhere/purchases/a.ndjson`, purchasesNdjson(0, 1));

    const src = await createSource(t.token, s3Config(bucket, { prefix: root }));
    expect(src.status, src.text).toBe(201);
    const q = new ManualQueue();
    const messages = await tick(q, t.tenant.id, SMALL);
    expect(messages).toBeGreaterThan(20); // many chunks per file, not one read per file

    expect(await count(t.tenant.id, "purchases")).toBe(125);
    expect(await count(t.tenant.id, "logins")).toBe(55);

    // The cron runs again and again: nothing new, nothing twice.
    for (let i = 0; i < 3; i++) expect(await tick(q, t.tenant.id, SMALL)).toBe(0);
    expect(await count(t.tenant.id, "purchases")).toBe(125);
    expect(await count(t.tenant.id, "logins")).toBe(55);

    const list = await files(t.token, src.json.id);
    expect(list.map((f) => f.key).sort()).toEqual(
      [
        "purchases/date=2026-11-01/load_id=a1/part-0.ndjson",
        "purchases/purchases_1600089751.jsonl.gz",
        "purchases/date=2026-11-02/part-0.parquet",
        "logins/logins_1600089751.csv",
        "logins/date=2026-11-02/load_id=b7/x/logins.csv.gz",
      ]
        .map((k) => root + k)
        .sort(),
    );
    for (const f of list) {
      expect(f.status, `${f.key}: ${f.error}`).toBe("completed");
      expect(f.rows_rejected).toBe(0);
    }
    expect(list.find((f) => f.key.endsWith(".parquet"))?.rows_accepted).toBe(50);

    // Content survives the trip: a CSV cell with a quoted comma, a lower-case country normalised.
    const db = e as unknown as Record<string, D1Database>;
    const shard = (await e.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(t.tenant.id).first<{ shard: number }>())!.shard;
    const row = await db[`DATA_${shard}`]!.prepare("SELECT user_id, country, level FROM logins WHERE tenant_id = ?1 AND user_id = 'user, 30'")
      .bind(t.tenant.id)
      .first();
    expect(row).toEqual({ user_id: "user, 30", country: "DE", level: 30 });
    const p = await db[`DATA_${shard}`]!.prepare("SELECT count, price FROM purchases WHERE tenant_id = ?1 AND user_id = 'u99'").bind(t.tenant.id).first();
    expect(p).toEqual({ count: 1, price: 99.99 });

    // Incremental: only the file added since is read.
    await putObject(bucket, `${root}purchases/purchases_1600089999.ndjson`, purchasesNdjson(200, 5));
    const again = await tick(q, t.tenant.id, SMALL);
    expect(again).toBeGreaterThan(0);
    expect(await count(t.tenant.id, "purchases")).toBe(130);
  });

  it("a rewritten file (new ETag) is a new version and is ingested; the same bytes again are not", async () => {
    const { t, bucket } = await tenantWithSource();
    await putObject(bucket, "kpis/k.ndjson", `${JSON.stringify({ user_id: "u1", kpi_id: "ltv", value: 1.5 })}\n`);
    const src = await createSource(t.token, s3Config(bucket));
    const q = new ManualQueue();
    await tick(q, t.tenant.id);
    await putObject(bucket, "kpis/k.ndjson", `${JSON.stringify({ user_id: "u1", kpi_id: "ltv", value: 1.5 })}\n`);
    expect(await tick(q, t.tenant.id)).toBe(0);
    await putObject(bucket, "kpis/k.ndjson", `${JSON.stringify({ user_id: "u2", kpi_id: "ltv", value: 3 })}\n`);
    expect(await tick(q, t.tenant.id)).toBe(1);
    expect(await count(t.tenant.id, "kpis")).toBe(2);
    expect((await files(t.token, src.json.id)).length).toBe(2);
  });

  it("lists a large bucket page by page across ticks and still finds every file once", async () => {
    const { t, bucket } = await tenantWithSource();
    const src = await createSource(t.token, s3Config(bucket));
    expect(src.status).toBe(201);
    for (let i = 0; i < 12; i++) await putObject(bucket, `actions/a_${String(i).padStart(3, "0")}.ndjson`, `${JSON.stringify({ user_id: `u${i}`, action_id: "1", action_name: "fight_win", action_params: [{ key: "enemy", value: `e${i}` }] })}\n`);
    const q = new ManualQueue();
    // One page of 5 keys per tick: the cursor carries the sweep over three ticks, then it restarts.
    const found: number[] = [];
    for (let i = 0; i < 4; i++) {
      await tick(q, t.tenant.id, {}, { pages: 1, pageSize: 5 });
      found.push(await count(t.tenant.id, "actions"));
    }
    expect(found).toEqual([5, 10, 12, 12]);
    expect(await count(t.tenant.id, "actions")).toBe(12);
  });
});

describe("bucket sources: exactly once under redelivery", () => {
  it("each message delivered twice, and a crash between the row write and the checkpoint, still write every row once", async () => {
    const { t, bucket } = await tenantWithSource();
    await putObject(bucket, "purchases/p.ndjson", purchasesNdjson(0, 60));
    await putObject(bucket, "purchases/p.parquet", purchasesParquet(60, 30, 10));
    const src = await createSource(t.token, s3Config(bucket));
    expect(src.status).toBe(201);
    const q = new ManualQueue();
    await discoverSources(q.services(SMALL), { tenantId: t.tenant.id });
    // Discovery twice: the second finds nothing new to start.
    const first = q.sent.length;
    await discoverSources(q.services(SMALL), { tenantId: t.tenant.id });
    expect(q.sent.length).toBe(first);

    let crashes = 0;
    // The control batch of every third checkpoint fails: the shard batch already committed.
    const crashingDb = failingControlBatch(e.DB, undefined, () => ++crashes % 3 === 0);
    let handled = 0;
    for (let m = q.take(); m; m = q.take()) {
      // A failing link is counted by the chain, which sends it again (into q.sent) ...
      await handleChainMessage(q.services({ ...SMALL, DB: crashingDb }), chainJobs, m);
      await deliver(q, m, SMALL); // ... and the queue delivers this message once more
      if (++handled > 2000) throw new Error("chain does not end");
    }
    expect(crashes).toBeGreaterThan(3);
    expect(await count(t.tenant.id, "purchases")).toBe(90);
    const list = await files(t.token, src.json.id);
    expect(list.map((f) => [f.status, f.rows_accepted])).toEqual([
      ["completed", 60],
      ["completed", 30],
    ]);
  });
});

describe("bucket sources: bad files", () => {
  it("reports each bad line with file, line, field and reason, and ingests the rest and the other files", async () => {
    const { t, bucket } = await tenantWithSource();
    const good = purchasesNdjson(0, 5).split("\n");
    const broken = [
      good[0],
      "{not json",
      JSON.stringify({ timestamp: ts(1), user_id: "u1", item_id: "x", count: "three", price: 1 }),
      "",
      JSON.stringify({ timestamp: ts(2), user_id: "u2", item_id: "x", count: 1, price: 1, colour: "red" }),
      good[1],
      JSON.stringify({ timestamp: "yesterday", item_id: "x", count: 1, price: 1 }),
      good[2],
    ].join("\n");
    await putObject(bucket, "purchases/broken.ndjson", broken);
    await putObject(bucket, "purchases/fine.ndjson", purchasesNdjson(100, 10));
    await putObject(bucket, "logins/bad-header.csv", "timestamp,user_id,shoe_size\n2026-11-01 00:00:00,u1,44\n");
    await putObject(bucket, "logins/bad-rows.csv", `timestamp,user_id,level\n${ts(1)},u1,3\n${ts(2)},u2,high\n${ts(3)},u3\n${ts(4)},u4,4\n`);
    await putObject(bucket, "purchases/not-parquet.parquet", "this is not parquet at all, just text");
    await putObject(bucket, "purchases/not-gzip.ndjson.gz", "plain text pretending");
    const src = await createSource(t.token, s3Config(bucket));
    const q = new ManualQueue();
    await tick(q, t.tenant.id, SMALL);

    expect(await count(t.tenant.id, "purchases")).toBe(3 + 10);
    expect(await count(t.tenant.id, "logins")).toBe(2);
    const byKey = Object.fromEntries((await files(t.token, src.json.id)).map((f) => [f.key, f]));

    const b = byKey["purchases/broken.ndjson"]!;
    expect(b).toMatchObject({ status: "completed", rows_accepted: 3, rows_rejected: 4 });
    expect(b.errors.map((x) => [x.file, x.line, x.field])).toEqual([
      ["purchases/broken.ndjson", 2, ""],
      ["purchases/broken.ndjson", 3, "count"],
      ["purchases/broken.ndjson", 5, "colour"],
      ["purchases/broken.ndjson", 7, "timestamp"],
      ["purchases/broken.ndjson", 7, "user_id"],
    ]);
    expect(b.errors[0]!.message).toMatch(/not valid JSON/);
    expect(b.errors[1]!.message).toMatch(/count must be a whole number/);
    expect(byKey["purchases/fine.ndjson"]).toMatchObject({ status: "completed", rows_accepted: 10, rows_rejected: 0 });

    expect(byKey["logins/bad-header.csv"]).toMatchObject({ status: "failed", rows_accepted: 0 });
    expect(byKey["logins/bad-header.csv"]!.error).toMatch(/Line 1: .*shoe_size/);
    const r = byKey["logins/bad-rows.csv"]!;
    expect(r).toMatchObject({ status: "completed", rows_accepted: 2, rows_rejected: 2 });
    expect(r.errors.map((x) => [x.line, x.field])).toEqual([
      [3, "level"],
      [4, ""],
    ]);
    expect(r.errors[1]!.message).toMatch(/has 2 fields, the header has 3/);
    expect(byKey["purchases/not-parquet.parquet"]).toMatchObject({ status: "failed" });
    expect(byKey["purchases/not-parquet.parquet"]!.error).toMatch(/not a valid Parquet file/);
    expect(byKey["purchases/not-gzip.ndjson.gz"]).toMatchObject({ status: "failed" });
    expect(byKey["purchases/not-gzip.ndjson.gz"]!.error).toMatch(/not a valid gzip file/);

    // Only errored files, through the status filter.
    const failed = await files(t.token, src.json.id, "?status=failed");
    expect(failed.map((f) => f.key).sort()).toEqual(["logins/bad-header.csv", "purchases/not-gzip.ndjson.gz", "purchases/not-parquet.parquet"]);
    await drain(q);
  });
});

describe("bucket sources: ranged reads", () => {
  it("reads NDJSON in byte windows and Parquet by row group, never the whole object at once", async () => {
    const { t, bucket } = await tenantWithSource();
    const pq = purchasesParquet(0, 40, 10);
    const nd = purchasesNdjson(0, 40);
    await putObject(bucket, "purchases/p.parquet", pq);
    await putObject(bucket, "purchases/p.ndjson", nd);
    expect((await createSource(t.token, s3Config(bucket))).status).toBe(201);
    await tick(new ManualQueue(), t.tenant.id, SMALL);
    expect(await count(t.tenant.id, "purchases")).toBe(80);
    const log = (await (await fetch(`${servers().control}/s3/log?bucket=${bucket}`)).json()) as { method: string; key: string; range?: string }[];
    const gets = (key: string) => log.filter((l) => l.method === "GET" && l.key === key);
    const span = (r: string | undefined) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(r ?? "");
      return m ? Number(m[2]) - Number(m[1]) + 1 : Number.POSITIVE_INFINITY;
    };
    // NDJSON: one ranged GET per chunk, each at most the window (700 bytes) of a larger file.
    expect(gets("purchases/p.ndjson").length).toBeGreaterThan(nd.length / 700);
    for (const g of gets("purchases/p.ndjson")) expect(span(g.range)).toBeLessThanOrEqual(700);
    // Parquet: 4 row groups, each message reading the footer and its row group by range.
    expect(gets("purchases/p.parquet").length).toBeGreaterThanOrEqual(8);
    for (const g of gets("purchases/p.parquet")) expect(g.range).toMatch(/^bytes=\d+-\d+$/);
  });
});

describe("bucket sources: long links", () => {
  it("a link streaming a gzip file from its start heartbeats its lease while it reads", async () => {
    const { t, bucket } = await tenantWithSource();
    await putObject(bucket, "purchases/p.ndjson.gz", await gzip(purchasesNdjson(0, 200)));
    expect((await createSource(t.token, s3Config(bucket))).status).toBe(201);
    const q = new ManualQueue();
    await discoverSources(q.services(SMALL), { tenantId: t.tenant.id });
    const m = q.take()!;
    const chain = (await getChainUnscoped(q.services().db, m.chain_id))!;
    // A slow read: every look at the clock finds 20 seconds gone.
    const slow: Clock = { now: () => (q.clock.advance(20), q.clock.now()), seconds: () => q.clock.seconds() };
    let beats = 0;
    const out = await sourceFileStep({ services: { ...q.services(SMALL), clock: slow }, chain, heartbeat: async () => void beats++ });
    expect(out).toEqual({ next: expect.any(Number) });
    expect(beats).toBeGreaterThan(0);
  });
});

describe("bucket sources: a link that loses its lease mid-read", () => {
  for (const [kind, key, make] of [
    ["Parquet", "purchases/p.parquet", async () => purchasesParquet(0, 50, 10)],
    ["gzip NDJSON", "purchases/p.ndjson.gz", async () => gzip(purchasesNdjson(0, 200))],
  ] as const) {
    it(`a ${kind} link whose lease the sweep gave away stops with LeaseLost and leaves the file open (the new holder reads it)`, async () => {
      const { t, bucket } = await tenantWithSource();
      await putObject(bucket, key, await make());
      const src = await createSource(t.token, s3Config(bucket));
      const q = new ManualQueue();
      await discoverSources(q.services(SMALL), { tenantId: t.tenant.id });
      const m = q.take()!;
      const chain = (await getChainUnscoped(q.services().db, m.chain_id))!;
      // A slow read: every look at the clock finds 20 seconds gone, and the lease is someone else's.
      const slow: Clock = { now: () => (q.clock.advance(20), q.clock.now()), seconds: () => q.clock.seconds() };
      const lost = async () => {
        throw new LeaseLost(`chain ${chain.id} lost its lease`);
      };
      await expect(sourceFileStep({ services: { ...q.services(SMALL), clock: slow }, chain, heartbeat: lost })).rejects.toBeInstanceOf(LeaseLost);
      expect((await files(t.token, src.json.id))[0]).toMatchObject({ status: "pending", error: null });
    });
  }
});

describe("bucket sources: stalled chains", () => {
  /** The purchases rows of a tenant, in a stable order, without the per-tenant columns. */
  const purchases = async (tenantId: string) => {
    const db = e as unknown as Record<string, D1Database>;
    const shard = (await e.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(tenantId).first<{ shard: number }>())!.shard;
    const { results } = await db[`DATA_${shard}`]!.prepare(
      "SELECT timestamp, user_id, item_id, count, price FROM purchases WHERE tenant_id = ?1 ORDER BY user_id, timestamp",
    )
      .bind(tenantId)
      .all();
    return results;
  };

  /** The same file ingested without interruption, for comparison. */
  async function uninterrupted(body: string | Uint8Array, key: string) {
    const { t, bucket } = await tenantWithSource();
    await putObject(bucket, key, body);
    expect((await createSource(t.token, s3Config(bucket))).status).toBe(201);
    await tick(new ManualQueue(), t.tenant.id, SMALL);
    return purchases(t.tenant.id);
  }

  for (const [kind, key, make] of [
    ["NDJSON", "purchases/p.ndjson", async () => purchasesNdjson(0, 50)],
    ["gzip NDJSON", "purchases/p.ndjson.gz", async () => gzip(purchasesNdjson(0, 50))],
  ] as const) {
    it(`a ${kind} file whose message was lost mid-file is resumed by the chain sweep after LEASE_SECONDS, rows as without the loss`, async () => {
      const body = await make();
      const expected = await uninterrupted(body, key);
      expect(expected).toHaveLength(50);

      const { t, bucket } = await tenantWithSource();
      await putObject(bucket, key, body);
      const src = await createSource(t.token, s3Config(bucket));
      const q = new ManualQueue();
      await discoverSources(q.services(SMALL), { tenantId: t.tenant.id });
      // Two links go through, then the next message is lost.
      for (let i = 0; i < 2; i++) await deliver(q, q.take()!, SMALL);
      const lost = q.take()!;
      expect(q.sent).toHaveLength(0);
      const partial = await count(t.tenant.id, "purchases");
      expect(partial).toBeGreaterThan(0);
      expect(partial).toBeLessThan(50);
      // Discovery runs again: it starts nothing for a known file.
      expect(await tick(q, t.tenant.id, SMALL)).toBe(0);
      // Within the lease the sweep leaves the chain alone (its message may still be in the queue) ...
      q.clock.advance(LEASE_SECONDS - 1);
      await sweepStalledChains(q.services(SMALL));
      expect(q.sent.filter((m) => (m as ChainMessage).chain_id === lost.chain_id)).toHaveLength(0);
      // ... once it ran out, the sweep sends the lost link again.
      q.clock.advance(2);
      await sweepStalledChains(q.services(SMALL));
      expect(q.sent.filter((m) => (m as ChainMessage).chain_id === lost.chain_id)).toEqual([lost]);
      q.sent = q.sent.filter((m) => (m as ChainMessage).chain_id === lost.chain_id);
      await drain(q, SMALL);
      expect(await purchases(t.tenant.id)).toEqual(expected);
      expect((await files(t.token, src.json.id))[0]).toMatchObject({ status: "completed", rows_accepted: 50, rows_rejected: 0 });
    });
  }

  /** The shard binding of a tenant, as the env names it. */
  const shardBinding = async (tenantId: string) =>
    `DATA_${(await e.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(tenantId).first<{ shard: number }>())!.shard}`;

  /** A Parquet file of 50 rows in 5 row groups, its source, and its chain's messages in the test's hands. */
  async function parquetStarted() {
    const body = purchasesParquet(0, 50, 10);
    const { t, bucket } = await tenantWithSource();
    await putObject(bucket, "purchases/p.parquet", body);
    const src = await createSource(t.token, s3Config(bucket));
    const q = new ManualQueue();
    await discoverSources(q.services(), { tenantId: t.tenant.id });
    const mine = (chainId: string) => (q.sent = q.sent.filter((x) => (x as ChainMessage).chain_id === chainId));
    return { body, t, src, q, mine };
  }

  it("a Parquet row group whose worker is killed after its rows and before its checkpoint is resumed: exactly 50 rows, none twice", async () => {
    const { body, t, src, q, mine } = await parquetStarted();
    const expected = await uninterrupted(body, "purchases/p.parquet");
    expect(expected).toHaveLength(50);
    for (let i = 0; i < 2; i++) await deliver(q, q.take()!);
    expect(await count(t.tenant.id, "purchases")).toBe(20);
    // Row group 3: its rows reach the shard, then the process dies in the checkpoint's batch.
    const m = q.take()!;
    expect(m.position).toBe(2);
    void handleChainMessage(q.services({ DB: failingControlBatch(e.DB, () => new Promise<never>(() => {})) }), chainJobs, m);
    for (let i = 0; i < 100 && (await count(t.tenant.id, "purchases")) === 20; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await count(t.tenant.id, "purchases")).toBe(30);
    expect(q.sent).toHaveLength(0);
    q.clock.advance(LEASE_SECONDS + 1);
    await sweepStalledChains(q.services());
    expect(mine(m.chain_id)).toEqual([m]);
    expect(await getChainUnscoped(q.services().db, m.chain_id)).toMatchObject({ attempts: 1, last_error: WORKER_STOPPED, position: 2 });
    await drain(q);
    expect(await purchases(t.tenant.id)).toEqual(expected);
    expect((await files(t.token, src.json.id))[0]).toMatchObject({ status: "completed", rows_accepted: 50, rows_rejected: 0, error: null });
  });

  it(`a Parquet row group that kills its worker every time fails the file after ${MAX_ATTEMPTS} attempts with the row group and the reason, instead of stalling`, async () => {
    const { t, src, q, mine } = await parquetStarted();
    for (let i = 0; i < 2; i++) await deliver(q, q.take()!);
    const binding = await shardBinding(t.tenant.id);
    const shard = (e as unknown as Record<string, D1Database>)[binding]!;
    // Every worker that takes row group 3 dies before writing a row (as one past its memory limit would).
    let entered = 0;
    const dies = { [binding]: failingControlBatch(shard, () => (entered++, new Promise<never>(() => {}))) };
    let m = q.take()!;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      expect(m.position).toBe(2);
      void deliver(q, m, dies);
      for (let i = 0; i < 250 && entered < attempt; i++) await new Promise((r) => setTimeout(r, 20));
      expect(entered, "the worker reached the shard write and died there").toBe(attempt);
      q.clock.advance(LEASE_SECONDS + 1);
      await sweepStalledChains(q.services());
      const resent = mine(m.chain_id).splice(0) as ChainMessage[];
      expect(resent).toEqual([m]);
      m = resent[0]!;
      const now = (await files(t.token, src.json.id))[0];
      expect(now, `attempt ${attempt}: ${now?.error}`).toMatchObject({ status: "processing", rows_accepted: 20 });
    }
    // The next worker to take it gives the file up, visibly, without reading it again.
    await deliver(q, m);
    const [f] = await files(t.token, src.json.id);
    expect(f).toMatchObject({ status: "failed", rows_accepted: 20 });
    expect(f!.error).toContain("Reading kept failing at row group 3 (rows from 21)");
    expect(f!.error).toContain(`${WORKER_STOPPED} (gave up after ${MAX_ATTEMPTS} attempts)`);
    expect(await count(t.tenant.id, "purchases")).toBe(20);
    q.clock.advance(LEASE_SECONDS + 1);
    await sweepStalledChains(q.services());
    expect(mine(m.chain_id)).toEqual([]);
  });

  it("a worker killed mid-link, after its rows were written and before its checkpoint, is resumed after its lease without duplicates", async () => {
    const body = purchasesNdjson(0, 50);
    const expected = await uninterrupted(body, "purchases/p.ndjson");

    const { t, bucket } = await tenantWithSource();
    await putObject(bucket, "purchases/p.ndjson", body);
    await createSource(t.token, s3Config(bucket));
    const q = new ManualQueue();
    await discoverSources(q.services(SMALL), { tenantId: t.tenant.id });
    await deliver(q, q.take()!, SMALL);
    // The next link writes its rows, then its process dies: the checkpoint's batch never returns.
    const killed = failingControlBatch(e.DB, () => new Promise<never>(() => {}));
    const m = q.take()!;
    void handleChainMessage(q.services({ ...SMALL, DB: killed }), chainJobs, m);
    const before = await count(t.tenant.id, "purchases");
    for (let i = 0; i < 100 && (await count(t.tenant.id, "purchases")) === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await count(t.tenant.id, "purchases")).toBeGreaterThan(before);
    q.clock.advance(LEASE_SECONDS + 1);
    await sweepStalledChains(q.services(SMALL));
    q.sent = q.sent.filter((x) => (x as ChainMessage).chain_id === m.chain_id);
    expect(q.sent).toEqual([m]);
    await drain(q, SMALL);
    expect(await purchases(t.tenant.id)).toEqual(expected);
  });
});
