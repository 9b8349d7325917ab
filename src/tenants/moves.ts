import { type ChainJob, type StepContext, type StepOutcome, restart, startChain, yieldToRuntime } from "../chain";
import {
  type MoveCursor,
  type ShardTable,
  appendRows,
  countTenantRows,
  deleteTenantRows,
  lastCursor,
  dropLog,
  forgetPlacement,
  readGroups,
  readLog,
  readMark,
  readRowsAfter,
  replaceGroups,
  setFence,
  shardTables,
} from "../db/shards";
import { type TenantMove, UNFINISHED_MOVE_STATES } from "../db/schema";
import { getTenant } from "../db/tenants";
import {
  checkpointMove,
  finishMove,
  getMove,
  insertMove,
  latestMove,
  runsStartedBefore,
  switchTenant,
  takeExpiredFreezesUnscoped,
} from "../db/tenant-moves";
import { ApiError, notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import type { Services } from "../services";
import { forgetTenantCredentials } from "./tenants";

/**
 * Moving a tenant to another shard while its ingestion keeps answering (docs/architecture.md,
 * "Shards"). One `tenant_move` chain does it, a bounded slice per link:
 *
 *  count    the tenant's rows per table on the source (rows_total, for progress): in the
 *           chain, not in the request that starts the move
 *  clear    delete leftovers of an earlier failed move on the destination; fence the source
 *           in `track` mode (writes go on; updates and deletes log their group)
 *  copy     every table in row_id (or key) order, a chunk per statement batch, each batch
 *           moving the destination's mark in the same transaction (a link run twice copies once)
 *  drain    copy again the groups the log names (rows updated or deleted meanwhile)
 *  freeze   fence the source in `freeze` mode: every write of the tenant is refused (503,
 *           Retry-After) until the switch, for at most FREEZE_SECONDS
 *  catchup  copy the rows written since the copy passed them, then drain the log to empty
 *  verify   per table, count and checksum the tenant's rows on both shards, in chunks
 *  switch   fence the source `moved` (refused for good), then one control-DB batch sets
 *           tenants.shard; a freeze that ran out first makes it fail, and the move goes back
 *           to copying
 *  wait     until no isolate can still hold the old placement (SETTLE_SECONDS) and no export
 *           run that started before the switch is still reading the old shard
 *  delete   the old copy, in chunks
 *
 * A move that fails before the switch (a verification mismatch, too many freezes, a link that
 * kept failing) unfences the source at once, so the tenant goes on where it was, and turns
 * `failing`; the same chain then runs
 *
 *  cleanup  delete the partial copy on the destination, in chunks, then `failed`
 *
 * One that fails after the switch leaves the old copy behind its `moved` fence.
 *
 * Every chunk a link counts, copies, checksums or deletes ends with `yieldToRuntime()`, so other
 * requests are served between chunks (src/chain).
 */

/** Longest freeze: past it the cron reverts the move to copying, and writes go on (docs). */
export const FREEZE_SECONDS = 20;
export { FROZEN_RETRY_AFTER_SECONDS } from "../db/shards/fence";
/** Freezes a move may try before it gives up (each one that runs out reverts it). */
export const MAX_FREEZES = 3;
/**
 * After the switch, how long the old copy stays readable before it is deleted: the per-isolate
 * placement cache (PLACEMENT_CACHE_MS, 60 s) and credential cache (30 s) have run out by then,
 * with 30 s to spare for requests in flight.
 */
export const SETTLE_SECONDS = 90;
/** Rows per read; a batch of them is written in statements of at most ~90 KB (chunkRows). */
export const MOVE_CHUNK_ROWS = 500;
/** Chunk reads per link (small tables share one): a link stays far inside a Worker's CPU time and the 60 s lease. */
export const CHUNKS_PER_LINK = 32;
/**
 * A copy pass stops at each table's last row when it got there, so it ends while ingestion
 * goes on; the next pass copies what came meanwhile. Once a pass copies at most this many rows
 * (or after MAX_PASSES), the rest is small enough for the freeze.
 */
export const PASS_ROWS_TO_FREEZE = 2000;
export const MAX_PASSES = 8;
/** Log entries (changed groups) per drain read. */
const DRAIN_ENTRIES = 200;

const PHASES = ["count", "clear", "copy", "drain", "freeze", "catchup", "catchdrain", "verify", "switch", "wait", "delete", "cleanup"] as const;
type Phase = (typeof PHASES)[number];

interface Tally {
  n: number;
  /** two independent 32-bit sums of a per-row hash: order does not matter, row ids do not count */
  a: number;
  b: number;
}
interface Checkpoint {
  phase: Phase;
  table: number;
  freezes: number;
  verify?: { src: MoveCursor; dst: MoveCursor; srcDone: boolean; dstDone: boolean; s: Tally; d: Tally };
  /** copy passes: each copies a table up to its last row when the pass reached it (`upto`) */
  pass?: number;
  passRows?: number;
  upto?: MoveCursor;
  /** the tenant's rows on the source when the first link counted them (progress); unset before */
  total?: number;
  verified?: Record<string, { rows: number }>;
}

/** What the admin API shows of a move. */
export interface MoveView {
  id: string;
  from_shard: number;
  to_shard: number;
  state: TenantMove["state"];
  phase: Phase;
  rows_copied: number;
  rows_total: number | null;
  rows_deleted: number;
  progress: number;
  freeze_until: number | null;
  switched_at: number | null;
  error: string | null;
  created_at: number;
  finished_at: number | null;
}

export function moveView(m: TenantMove): MoveView {
  const cp = JSON.parse(m.checkpoint) as Checkpoint;
  const total = cp.total ?? null;
  const order: readonly Phase[] = PHASES;
  const copied = total ? Math.min(1, m.rows_copied / Math.max(1, total)) : 0;
  const progress =
    m.state === "done" ? 1 : m.state === "failed" || m.state === "failing" ? 0 : cp.phase === "wait" || cp.phase === "delete" ? 0.9 + 0.1 * Math.min(1, m.rows_deleted / Math.max(1, m.rows_copied)) : order.indexOf(cp.phase) >= order.indexOf("verify") ? 0.85 : 0.8 * copied;
  return {
    id: m.id,
    from_shard: m.from_shard,
    to_shard: m.to_shard,
    state: m.state,
    phase: cp.phase,
    rows_copied: m.rows_copied,
    rows_total: total,
    rows_deleted: m.rows_deleted,
    progress: Math.round(progress * 1000) / 1000,
    freeze_until: m.freeze_until,
    switched_at: m.switched_at,
    error: m.error,
    created_at: m.created_at,
    finished_at: m.finished_at,
  };
}

/** The tenant's latest move, for GET /api/1/admin/tenants/:id (null: never moved). */
export async function tenantMove(s: Services, tenantId: string): Promise<MoveView | null> {
  const m = await latestMove(s.db, tenantId);
  return m ? moveView(m) : null;
}

/**
 * Starts moving a tenant to `shard`: 404 for an unknown tenant, 400 for an unknown shard or the
 * tenant's own, 409 while another move of it runs. The move row and its chain are one batch.
 * Reads none of the tenant's rows: the chain's first link counts them (`rows_total` is null
 * until then), so the request costs the same for any tenant.
 */
export async function startMove(s: Services, tenantId: string, shard: number): Promise<MoveView> {
  const tenant = await getTenant(s.db, tenantId);
  if (!tenant) throw notFound("Tenant");
  const n = s.shards.count();
  if (!Number.isInteger(shard) || shard < 0 || shard >= n) {
    throw new ApiError("bad_request", `Unknown shard ${shard}: this deployment has shards 0 to ${n - 1} (DATA_SHARDS = ${n})`);
  }
  if (shard === tenant.shard) throw new ApiError("bad_request", `Tenant ${tenantId} is already on shard ${shard}`);
  const active = await latestMove(s.db, tenantId);
  if (active && (UNFINISHED_MOVE_STATES as readonly string[]).includes(active.state)) {
    throw new ApiError("conflict", `Tenant ${tenantId} is already being moved (move ${active.id}, ${active.state}); wait for it to end`);
  }
  const now = s.clock.seconds();
  const id = newId("mov");
  const checkpoint: Checkpoint = { phase: "count", table: 0, freezes: 0 };
  const chain = startChain(s, { kind: "tenant_move", tenantId, subjectId: id });
  try {
    await s.db.batch([
      insertMove(s.db, {
        id,
        tenant_id: tenantId,
        from_shard: tenant.shard,
        to_shard: shard,
        state: "copying",
        link: 0,
        checkpoint: JSON.stringify(checkpoint),
        created_at: now,
        updated_at: now,
      }),
      chain.statement,
    ]);
  } catch (err) {
    if (String(err).includes("UNIQUE")) throw new ApiError("conflict", `Tenant ${tenantId} is already being moved; wait for it to end`);
    throw err;
  }
  await chain.kick();
  const row = await getMove(s.db, tenantId, id);
  if (!row) throw new Error(`move ${id} vanished`);
  return moveView(row);
}

// ---------------------------------------------------------------- the chain

/** FNV-1a over the row's JSON, with two offsets: two independent 32-bit hashes. */
function rowHash(row: readonly unknown[]): [number, number] {
  const text = JSON.stringify(row);
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
    b ^= b >>> 15;
  }
  return [a, b];
}

function tally(into: Tally, rows: readonly unknown[][]): Tally {
  let { n, a, b } = into;
  for (const r of rows) {
    const [x, y] = rowHash(r);
    n += 1;
    a = (a + x) >>> 0;
    b = (b + y) >>> 0;
  }
  return { n, a, b };
}

const EMPTY: Tally = { n: 0, a: 0, b: 0 };

class MoveFailed extends Error {}

/** One link's worth of deleting the tenant's rows on `db`, from table number `table` on: where it got, and how many rows went. */
async function deleteSlice(db: D1Database, tenantId: string, from: number): Promise<{ table: number; deleted: number }> {
  const tables = shardTables();
  let table = from;
  let deleted = 0;
  for (let i = 0; i < CHUNKS_PER_LINK && tables[table]; i++) {
    const n = await deleteTenantRows(db, tables[table] as ShardTable, tenantId, MOVE_CHUNK_ROWS);
    deleted += n;
    if (n < MOVE_CHUNK_ROWS) table++;
    await yieldToRuntime();
  }
  return { table, deleted };
}

export const tenantMoveJob: ChainJob = {
  step: (ctx) => stepMove(ctx),
  giveUp: async (s, chain, reason) => {
    const move = await getMove(s.db, chain.tenant_id, chain.subject_id);
    if (!move || move.state === "done" || move.state === "failed") return;
    if (move.state === "failing") {
      // the cleanup itself kept failing: the partial copy stays until the next move there clears it
      await finishMove(s.db, move.id, "failed", s.clock.seconds(), `${move.error}; its partial copy on shard ${move.to_shard} was left (${reason}): the next move to that shard clears it`);
      return;
    }
    // The chain stopped at the link that kept failing; its cleanup is the chain's next link.
    const out = await fail(s, move, JSON.parse(move.checkpoint) as Checkpoint, move.link, `The move kept failing and was given up: ${reason}`);
    if ("next" in out) await restart(s, "tenant_move", move.id, out.next);
  },
};

/**
 * Fails a move at chain position `position`. Before the switch the move turns `failing`
 * (compare-and-set on the link, so a late worker of the same link cannot also switch), the
 * source is unfenced (the tenant goes on where it was, reads and writes), and the next link
 * starts the cleanup of the destination. After the switch the move ends `failed` and the old
 * copy stays behind its `moved` fence.
 */
async function fail(s: Services, move: TenantMove, cp: Checkpoint, position: number, reason: string): Promise<StepOutcome> {
  const now = s.clock.seconds();
  console.warn(JSON.stringify({ event: "tenant.move_failed", move: move.id, tenant: move.tenant_id, reason }));
  if (move.state === "switched" || move.state === "done") {
    await finishMove(s.db, move.id, "failed", now, reason);
    return { failed: reason };
  }
  const next: Checkpoint = { ...cp, phase: "cleanup", table: 0, verify: undefined };
  if (!(await checkpointMove(s.db, move.id, position, position + 1, JSON.stringify(next), now, { state: "failing", error: reason, freeze_until: null }))) {
    throw new Error(`move ${move.id}: another worker recorded link ${position + 1}`);
  }
  await setFence(s.shards.db(move.from_shard), move.tenant_id, move.id, null, now);
  return { next: position + 1 };
}

async function stepMove(ctx: StepContext): Promise<StepOutcome> {
  const s = ctx.services;
  const move = await getMove(s.db, ctx.chain.tenant_id, ctx.chain.subject_id);
  if (!move || move.state === "done" || move.state === "failed") return { done: true };
  const position = ctx.chain.position;
  if (move.link !== position) throw new Error(`move ${move.id} is at link ${move.link}, the chain at ${position}`);
  const cp = JSON.parse(move.checkpoint) as Checkpoint;
  const src = s.shards.db(move.from_shard);
  const dst = s.shards.db(move.to_shard);
  const tables = shardTables();
  const now = () => s.clock.seconds();
  const save = async (next: Checkpoint, set: Parameters<typeof checkpointMove>[6] = {}): Promise<StepOutcome> => {
    if (!(await checkpointMove(s.db, move.id, position, position + 1, JSON.stringify(next), now(), set))) {
      throw new Error(`move ${move.id}: another worker recorded link ${position + 1}`);
    }
    return { next: position + 1 };
  };

  // The cron took the move back from a freeze that ran out: copy on, and freeze again later.
  const frozenPhase = ["catchup", "catchdrain", "verify", "switch"].includes(cp.phase);
  if (frozenPhase && (move.state !== "frozen" || (move.freeze_until ?? 0) <= now())) {
    await setFence(src, move.tenant_id, move.id, "track", now());
    const freezes = cp.freezes + 1;
    if (freezes >= MAX_FREEZES) {
      return fail(s, move, cp, position, `the final catch-up and verification did not fit in ${MAX_FREEZES} freezes of ${FREEZE_SECONDS} s`);
    }
    return save({ ...cp, phase: "copy", table: 0, freezes, verify: undefined }, { state: "copying", freeze_until: null });
  }

  try {
    switch (cp.phase) {
      case "count": {
        // the first link, not the request that started the move, reads the tenant's rows
        let total = 0;
        for (const t of tables) {
          total += await countTenantRows(src, t, move.tenant_id);
          await yieldToRuntime();
        }
        await ctx.heartbeat();
        return save({ ...cp, phase: "clear", table: 0, total });
      }
      case "clear": {
        // leftovers of an earlier failed move to the same shard, and its marks and fence
        if (cp.table === 0) await setFence(dst, move.tenant_id, move.id, null, now());
        const { table } = await deleteSlice(dst, move.tenant_id, cp.table);
        if (tables[table]) return save({ ...cp, table });
        await setFence(src, move.tenant_id, move.id, "track", now());
        return save({ ...cp, phase: "copy", table: 0 });
      }
      case "copy":
      case "catchup": {
        // the freeze link may have died between recording the freeze and fencing: fence now,
        // before anything of the catch-up is read
        if (cp.phase === "catchup" && cp.table === 0) await setFence(src, move.tenant_id, move.id, "freeze", now());
        const pass = cp.pass ?? 0;
        const passRows = cp.passRows ?? 0;
        if (!tables[cp.table]) {
          if (cp.phase === "catchup") return save({ ...cp, phase: "catchdrain", table: 0 });
          if (passRows > PASS_ROWS_TO_FREEZE && pass + 1 < MAX_PASSES) return save({ ...cp, table: 0, pass: pass + 1, passRows: 0 });
          return save({ ...cp, phase: "drain", table: 0 });
        }
        // while writes go on, a pass copies up to each table's last row as it is when the pass
        // gets there; frozen, to the end. Small tables share a link.
        let table = cp.table;
        let upto: MoveCursor | undefined = cp.upto;
        let copied = 0;
        for (let i = 0; i < CHUNKS_PER_LINK && tables[table]; i++) {
          const tt = tables[table] as ShardTable;
          if (cp.phase === "copy" && upto === undefined) upto = await lastCursor(src, tt, move.tenant_id);
          let finished = cp.phase === "copy" && upto === null;
          if (!finished) {
            const mark = await readMark(dst, tt, move.tenant_id);
            const { rows, last } = await readRowsAfter(src, tt, move.tenant_id, mark, MOVE_CHUNK_ROWS, upto ?? null);
            if (rows.length) {
              if (!(await appendRows(dst, tt, move.tenant_id, rows, mark, last))) throw new Error(`move ${move.id}: the mark of ${tt.name} moved under this link`);
              copied += rows.length;
            }
            finished = rows.length < MOVE_CHUNK_ROWS;
          }
          if (finished) {
            table++;
            upto = undefined;
          }
          await yieldToRuntime();
        }
        await ctx.heartbeat();
        return save({ ...cp, table, upto, passRows: passRows + copied }, { rows_copied: move.rows_copied + copied });
      }
      case "drain":
      case "catchdrain": {
        const entries = await readLog(src, move.tenant_id, DRAIN_ENTRIES);
        const byTable = new Map<string, string[]>();
        for (const e of entries) byTable.set(e.tbl, [...(byTable.get(e.tbl) ?? []), e.grp]);
        for (const [name, groups] of byTable) {
          const t = tables.find((x) => x.name === name);
          if (!t) throw new MoveFailed(`the change log names an unknown table ${name}`);
          const mark = await readMark(dst, t, move.tenant_id);
          await replaceGroups(dst, t, move.tenant_id, groups, await readGroups(src, t, move.tenant_id, groups, mark), mark);
          await yieldToRuntime();
        }
        await dropLog(src, move.tenant_id, entries);
        if (entries.length === DRAIN_ENTRIES) return save(cp);
        if (cp.phase === "catchdrain") {
          // the log can only be empty now: the source refuses the tenant's writes
          if (entries.length) return save(cp);
          return save({ ...cp, phase: "verify", table: 0, verify: undefined, verified: {} });
        }
        return save({ ...cp, phase: "freeze" });
      }
      case "freeze": {
        // control row first: should the fence be set and this worker die, the cron sees the
        // expired freeze and reverts it
        const until = now() + FREEZE_SECONDS;
        const out = await save({ ...cp, phase: "catchup", table: 0 }, { state: "frozen", freeze_until: until, frozen_at: now() });
        await setFence(src, move.tenant_id, move.id, "freeze", now());
        return out;
      }
      case "verify": {
        let table = cp.table;
        let v = cp.verify ?? { src: null, dst: null, srcDone: false, dstDone: false, s: EMPTY, d: EMPTY };
        const verified = { ...cp.verified };
        for (let i = 0; i < CHUNKS_PER_LINK && tables[table]; i++) {
          const t = tables[table] as ShardTable;
          if (!v.srcDone) {
            const r = await readRowsAfter(src, t, move.tenant_id, v.src, MOVE_CHUNK_ROWS);
            v = { ...v, s: tally(v.s, r.rows), src: r.last, srcDone: r.rows.length < MOVE_CHUNK_ROWS };
          }
          if (!v.dstDone) {
            const r = await readRowsAfter(dst, t, move.tenant_id, v.dst, MOVE_CHUNK_ROWS);
            v = { ...v, d: tally(v.d, r.rows), dst: r.last, dstDone: r.rows.length < MOVE_CHUNK_ROWS };
          }
          if (v.srcDone && v.dstDone) {
            if (v.s.n !== v.d.n || v.s.a !== v.d.a || v.s.b !== v.d.b) {
              throw new MoveFailed(
                `verification failed for ${t.name}: ${v.s.n} rows on shard ${move.from_shard}, ${v.d.n} on shard ${move.to_shard}${v.s.n === v.d.n ? " (same count, different checksum)" : ""}`,
              );
            }
            verified[t.name] = { rows: v.s.n };
            table++;
            v = { src: null, dst: null, srcDone: false, dstDone: false, s: EMPTY, d: EMPTY };
          }
          await yieldToRuntime();
        }
        await ctx.heartbeat();
        if (!tables[table]) return save({ ...cp, phase: "switch", table: 0, verify: undefined, verified });
        return save({ ...cp, table, verify: v, verified });
      }
      case "switch": {
        // refused for good on the old shard first, then the one control-DB write
        await setFence(src, move.tenant_id, move.id, "moved", now());
        const next: Checkpoint = { ...cp, phase: "wait", table: 0 };
        if (!(await switchTenant(s.db, move, position + 1, JSON.stringify(next), now()))) {
          // the freeze ran out (the cron reverted it): the tenant stays, writes go on
          await setFence(src, move.tenant_id, move.id, "track", now());
          throw new Error(`move ${move.id}: the freeze ran out before the switch`);
        }
        forgetPlacement(move.tenant_id);
        forgetTenantCredentials(move.tenant_id);
        console.log(JSON.stringify({ event: "tenant.moved", move: move.id, tenant: move.tenant_id, from: move.from_shard, to: move.to_shard, frozen_seconds: now() - (move.frozen_at ?? now()) }));
        return { next: position + 1 };
      }
      case "wait": {
        const left = (move.switched_at ?? 0) + SETTLE_SECONDS - now();
        const readers = await runsStartedBefore(s.db, move.tenant_id, move.switched_at ?? 0);
        if (left > 0 || readers > 0) {
          const out = await save(cp);
          return { ...out, delaySeconds: left > 0 ? left : 30 } as StepOutcome;
        }
        return save({ ...cp, phase: "delete", table: 0 });
      }
      case "delete": {
        const { table, deleted } = await deleteSlice(src, move.tenant_id, cp.table);
        if (!tables[table]) {
          await checkpointMove(s.db, move.id, position, position + 1, JSON.stringify({ ...cp, table }), now(), { rows_deleted: move.rows_deleted + deleted });
          await finishMove(s.db, move.id, "done", now());
          return { done: true };
        }
        return save({ ...cp, table }, { rows_deleted: move.rows_deleted + deleted });
      }
      case "cleanup": {
        // The destination's partial copy: never the tenant's live rows, since a failing move
        // never switched. The source is unfenced again at the start and the end: a cron revert
        // of the freeze that raced the failure may have set it back to `track`.
        if (cp.table === 0) await setFence(src, move.tenant_id, move.id, null, now());
        const { table } = await deleteSlice(dst, move.tenant_id, cp.table);
        await ctx.heartbeat();
        if (tables[table]) return save({ ...cp, table });
        await setFence(dst, move.tenant_id, move.id, null, now()); // its copy marks
        await setFence(src, move.tenant_id, move.id, null, now());
        await finishMove(s.db, move.id, "failed", now());
        return { failed: move.error ?? "the move failed" };
      }
    }
  } catch (err) {
    if (err instanceof MoveFailed) return fail(s, move, cp, position, err.message);
    throw err;
  }
}

/**
 * Cron: every move frozen past its FREEZE_SECONDS goes back to copying, and its tenant's
 * writes go on (the old shard's fence back to `track`). This is the freeze's expiry: a move
 * whose worker died mid-freeze leaves the tenant frozen for at most FREEZE_SECONDS plus one
 * cron tick. The chain then freezes again, or gives up after MAX_FREEZES.
 */
export async function revertExpiredFreezes(s: Services): Promise<number> {
  const now = s.clock.seconds();
  const moves = await takeExpiredFreezesUnscoped(s.db, now);
  for (const m of moves) {
    await setFence(s.shards.db(m.from_shard), m.tenant_id, m.id, "track", now);
    console.warn(JSON.stringify({ event: "tenant.move_freeze_expired", move: m.id, tenant: m.tenant_id }));
  }
  return moves.length;
}

export type { ShardTable };
