// The ingest path's stages in Node, over the same 1000-item batches the load generator sends, with
// ferry's own code (validation, chunking, the idempotency and insert SQL of src/db/shards) run
// against a SQLite file through a small D1-shaped adapter (node:sqlite, WAL, a D1 batch = one
// transaction). Two uses: the raw insert rate of a shard layout (the floor the API is measured
// against), and the cost of each stage per batch. Bundled by esbuild from bench/ingest/run.mjs.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { type TenantData, chunkRows, insertRecords } from "../../src/db/shards";
import { keyInBatch, validateItems } from "../../src/ingest/batch";
import { sha256Hex } from "../../src/lib/crypto";
import { getModel } from "../../src/models";
import type { ModelDef } from "../../src/models";
import { batchItems, envelope } from "../../src/routes/ingest/envelope";
import type { Clock } from "../../src/services";

type Value = string | number | null;

/** The part of D1's API ferry's shard code uses, over node:sqlite. */
class Stmt {
  constructor(
    private readonly db: SqliteD1,
    readonly sql: string,
    readonly params: Value[] = [],
  ) {}
  bind(...params: Value[]) {
    return new Stmt(this.db, this.sql, params);
  }
  private prepared(): StatementSync {
    return this.db.statement(this.sql);
  }
  async first<T>(): Promise<T | null> {
    return (this.prepared().get(...this.params) as T | undefined) ?? null;
  }
  async all<T>() {
    return { results: this.prepared().all(...this.params) as T[], success: true, meta: {} };
  }
  async run() {
    const r = this.prepared().run(...this.params);
    return { results: [], success: true, meta: { changes: Number(r.changes) } };
  }
  exec() {
    const r = this.prepared().run(...this.params);
    return { results: [], success: true, meta: { changes: Number(r.changes) } };
  }
}

class SqliteD1 {
  private readonly cache = new Map<string, StatementSync>();
  constructor(readonly db: DatabaseSync) {}
  statement(sql: string): StatementSync {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }
  prepare(sql: string) {
    return new Stmt(this, sql);
  }
  async batch(stmts: Stmt[]) {
    this.db.exec("BEGIN");
    try {
      const out = stmts.map((s) => s.exec());
      this.db.exec("COMMIT");
      return out;
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }
}

/**
 * A shard file with the data migrations applied; `layout: "old"` leaves out
 * 0004_append_only_events. `sync`: NORMAL (WAL, no fsync per commit: the layout's own cost) or
 * FULL (an fsync per commit, SQLite's default: adds the disk's sync time to every batch).
 */
export function openShard(root: string, file: string, layout: "old" | "new", sync: "NORMAL" | "FULL" = "NORMAL", autoCheckpoint = true) {
  const db = new DatabaseSync(file);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(`PRAGMA synchronous = ${sync}`);
  // SQLite copies the write-ahead log into the database once it holds 1,000 pages; 0 never does.
  // https://www.sqlite.org/pragma.html#pragma_wal_autocheckpoint
  if (!autoCheckpoint) db.exec("PRAGMA wal_autocheckpoint = 0");
  const dir = join(root, "migrations", "data");
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith(".sql") || (layout === "old" && f.includes("append_only_events"))) continue;
    db.exec(readFileSync(join(dir, f), "utf8"));
  }
  const d1 = new SqliteD1(db);
  return { db, td: { tenantId: "ten_bench", db: d1 as unknown as D1Database } satisfies TenantData };
}

const clock: Clock = { now: () => Date.now(), seconds: () => Math.floor(Date.now() / 1000) } as Clock;
const actions = getModel("actions") as ModelDef;

/**
 * The raw insert rate of a layout: `batches` of the bodies, each parsed, validated and written with
 * the API's own statements (json_each chunks of at most 90 KB) in one transaction. Answers
 * events/s over the write alone, its per-batch latency, and which batches (0-based) took more
 * than 4x the median (`slow`). `autoCheckpoint: false` leaves the log growing, to see what the
 * checkpoints cost the tail.
 */
export async function floor(root: string, file: string, layout: "old" | "new", bodies: string[], batches: number, sync: "NORMAL" | "FULL" = "NORMAL", autoCheckpoint = true) {
  const { db, td } = openShard(root, file, layout, sync, autoCheckpoint);
  const rows = bodies.map((b) => {
    const v = validateItems(actions, batchItems(JSON.parse(b), ["actions"]));
    if (!v.ok) throw new Error("bench batch is invalid");
    return v.rows;
  });
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < batches; i++) {
    const s = performance.now();
    await insertRecords(td, actions, rows[i % rows.length] as unknown[][], clock.seconds());
    lat.push(performance.now() - s);
  }
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  const median = [...lat].sort((a, b) => a - b)[Math.floor(lat.length / 2)] ?? 0;
  const slow = lat.flatMap((ms, i) => (ms > 4 * median ? [i] : []));
  return { batches, events_per_s: Math.round((batches * 1000) / seconds), lat, slow };
}

/**
 * Each stage of a /v1/actions request on its own, ms per batch (median of `batches`): JSON parse,
 * the envelope check and item validation, building the JSON chunks, the Idempotency-Key's
 * fingerprint (SHA-256 of the body), and the D1 write of the rows with the key and its answer in
 * the same transaction (new layout).
 */
export async function stages(root: string, file: string, bodies: string[], batches: number) {
  const { db, td } = openShard(root, file, "new");
  const times: Record<string, number[]> = { parse: [], validate: [], chunk: [], fingerprint: [], write: [] };
  const time = async <T>(stage: string, f: () => T | Promise<T>): Promise<T> => {
    const s = performance.now();
    const r = await f();
    times[stage]?.push(performance.now() - s);
    return r;
  };
  for (let i = 0; i < batches; i++) {
    const raw = bodies[i % bodies.length] as string;
    const body = await time("parse", () => JSON.parse(raw));
    const v = await time("validate", () => validateItems(actions, batchItems(body, ["actions"]), { now: new Date(clock.now()) }));
    if (!v.ok) throw new Error("bench batch is invalid");
    await time("chunk", () => chunkRows(v.rows));
    const res = envelope(201, `${v.rows.length} actions have been successfully ingested`);
    const fp = await time("fingerprint", () => sha256Hex(`POST /v1/actions\n${raw}`));
    // The key and its answer ride in the write's transaction, as in the API; timed with the write.
    const key = keyInBatch(clock, td, `bench-${i}`, fp);
    await time("write", () => insertRecords(td, actions, v.rows, clock.seconds(), () => key.statements(res)));
  }
  db.close();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.round(median(v) * 100) / 100]));
}
