import { type ChainJob, type StepContext, type StepOutcome, startChain, yieldToRuntime } from "../chain";
import type { UserDeletionRow } from "../db/schema";
import { type TenantData, deleteUserRowsInRange, deleteUserRowsIndexed, maxRowId, tenantData } from "../db/shards";
import { latestMove } from "../db/tenant-moves";
import { appendAudit, getTenant } from "../db/tenants";
import {
  checkpointUserDeletion,
  claimPendingDeletions,
  failDeletionBatch,
  finishDeletionBatch,
  getUserDeletion,
  insertUserDeletion,
  listDeletionBatch,
} from "../db/user-deletions";
import type { Principal } from "../env";
import { newId } from "../lib/ids";
import { MODELS } from "../models";
import type { Services } from "../services";

/**
 * User-data deletion (`POST /v1/user-data`) as a background job. The request is recorded with a
 * `user_deletion` chain and answered at once; the chain deletes the user's rows in bounded
 * chunks. Most event tables have no per-user index (src/models/types.ts, `userIndex`: it would
 * cost every ingested batch ~1000 scattered index writes), so their rows are found by walking
 * the table's row ids in ranges (DELETION_CHUNKS): each statement reads a bounded number of rows,
 * far inside D1's 30 s per query (https://developers.cloudflare.com/d1/platform/limits/).
 * Tables that have an index starting with the user column delete through it.
 *
 * Batching: the first request's chain to run claims every pending request of the tenant (up to
 * BATCH_MAX), so requests that wait together share one pass over the tenant's rows. A request
 * claimed by another batch ends its own chain at once; its status follows the batch.
 *
 * Rows of a table ingested after the pass over that table began are not deleted (the pass
 * stops at the largest row id it saw when it started the table).
 */

/** Chunk sizes of the job (tests make them small to cut a few rows into many chunks and links). */
export interface DeletionChunks {
  /** row ids one range statement covers */
  scanRows: number;
  /** rows one indexed delete statement removes at most */
  indexedRows: number;
  /** delete statements per chain link, then a checkpoint */
  statementsPerLink: number;
}

export const DELETION_CHUNKS: DeletionChunks = { scanRows: 50_000, indexedRows: 5_000, statementsPerLink: 20 };
/** Requests one batch takes at most (their counts travel in the checkpoint). */
export const BATCH_MAX = 100;

/** A (table, column) that holds end-user ids, and whether an index starts with (tenant_id, column). */
export interface UserColumn {
  model: string;
  column: string;
  indexed: boolean;
}

/** Every (model, column) pair that holds an end user's id: the model's userField and fields marked identifiesUser. */
export const USER_COLUMNS: readonly UserColumn[] = MODELS.flatMap((m) => {
  const cols = new Set<string>();
  if (m.userField) cols.add(m.userField);
  for (const f of m.fields) if (f.identifiesUser) cols.add(f.name);
  return [...cols].map((column) => ({
    model: m.name,
    column,
    indexed: (Boolean(m.userIndex) && column === m.userField) || (m.kind === "entity" && m.key?.[0] === column),
  }));
});

/** The batch owner's checkpoint: the pair and row id reached, rows deleted per user and model. */
interface DeletionState {
  pair: number;
  after: number;
  /** largest row id of the pair's table when its pass began; null until then */
  until: number | null;
  deleted: Record<string, Record<string, number>>;
  /** the shard the row-id positions above belong to (a tenant move changes it; undefined: older checkpoints) */
  shard?: number;
}

/** How long a deletion waits, per link, while its tenant is being moved to another shard. */
const MOVE_WAIT_SECONDS = 15;

export interface UserDeletionView {
  request_id: string;
  id: string;
  status: UserDeletionRow["status"];
  deleted_rows: number;
  by_model: Record<string, number>;
  /** while running: the tables done of all tables that hold user ids */
  progress: { tables_done: number; tables: number } | null;
  error: string | null;
  requested_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/** Records a deletion request and starts its chain (one D1 batch); answers its view. */
export async function requestUserDeletion(s: Services, principal: Principal, userId: string): Promise<UserDeletionView> {
  const id = newId("udr");
  const now = s.clock.seconds();
  const chain = startChain(s, { kind: "user_deletion", tenantId: principal.tenantId, subjectId: id });
  await s.db.batch([
    insertUserDeletion(s.db, {
      id,
      tenant_id: principal.tenantId,
      user_id: userId,
      status: "pending",
      requested_by: `${principal.kind}:${principal.subject}`,
      created_at: now,
    }),
    chain.statement,
  ]);
  await chain.kick();
  const row = await getUserDeletion(s.db, principal.tenantId, id);
  if (!row) throw new Error(`user deletion ${id} vanished after it was written`);
  return view(row, null);
}

/** A request of the tenant with its progress; undefined when the tenant has no such request. */
export async function getUserDeletionView(s: Services, tenantId: string, id: string): Promise<UserDeletionView | undefined> {
  const row = await getUserDeletion(s.db, tenantId, id);
  if (!row) return undefined;
  const owner = row.status === "running" && row.batch_id ? await getUserDeletion(s.db, tenantId, row.batch_id) : undefined;
  return view(row, owner?.state ? (JSON.parse(owner.state) as DeletionState) : null);
}

function view(row: UserDeletionRow, state: DeletionState | null): UserDeletionView {
  return {
    request_id: row.id,
    id: row.user_id,
    status: row.status,
    deleted_rows: row.rows,
    by_model: JSON.parse(row.by_model) as Record<string, number>,
    progress: row.status === "running" ? { tables_done: Math.min(state?.pair ?? 0, USER_COLUMNS.length), tables: USER_COLUMNS.length } : null,
    error: row.error,
    requested_at: row.created_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
  };
}

/** Deletes rows of `users` from one pair, a few statements at most; moves `st` on. */
async function deleteSome(
  td: TenantData,
  st: DeletionState,
  users: readonly string[],
  chunks: DeletionChunks,
  heartbeat: () => Promise<void>,
): Promise<void> {
  for (let n = 0; n < chunks.statementsPerLink && st.pair < USER_COLUMNS.length; n++) {
    const pair = USER_COLUMNS[st.pair] as UserColumn;
    let gone: string[];
    let pairDone: boolean;
    if (pair.indexed) {
      gone = await deleteUserRowsIndexed(td, pair.model, pair.column, users, chunks.indexedRows);
      pairDone = gone.length < chunks.indexedRows;
    } else {
      if (st.until === null) st.until = await maxRowId(td, pair.model);
      const upTo = Math.min(st.after + chunks.scanRows, st.until);
      gone = upTo > st.after ? await deleteUserRowsInRange(td, pair.model, pair.column, users, st.after, upTo) : [];
      st.after = upTo;
      pairDone = upTo >= st.until;
    }
    for (const u of gone) {
      const per = st.deleted[u] ?? {};
      per[pair.model] = (per[pair.model] ?? 0) + 1;
      st.deleted[u] = per;
    }
    if (pairDone) {
      st.pair++;
      st.after = 0;
      st.until = null;
    }
    // Other requests get the runtime once per delete statement (yieldToRuntime).
    await yieldToRuntime();
    await heartbeat();
  }
}

async function step(ctx: StepContext, chunks: DeletionChunks): Promise<StepOutcome> {
  const s = ctx.services;
  const { tenant_id: tenantId, subject_id: id, position } = ctx.chain;
  const owner = await getUserDeletion(s.db, tenantId, id);
  if (!owner || owner.status === "done" || owner.status === "failed") return { done: true };
  if (position === 0) {
    // A re-run of this link after the claim committed finds the request running in its own batch.
    if (owner.status === "pending") await claimPendingDeletions(s.db, tenantId, id, s.clock.seconds(), BATCH_MAX);
    const claimed = await getUserDeletion(s.db, tenantId, id);
    if (claimed?.batch_id !== id) return { done: true }; // another request's batch deletes these rows
    const start: DeletionState = { pair: 0, after: 0, until: null, deleted: {} };
    await checkpointUserDeletion(s.db, id, 0, 1, JSON.stringify(start));
    return { next: 1 };
  }
  // The checkpoint for a later position is recorded already (a link that ran twice): go on from it.
  if (owner.step !== position) return owner.step > position ? { next: owner.step } : { failed: `checkpoint at ${owner.step}, link at ${position}` };

  const st = JSON.parse(owner.state ?? "null") as DeletionState;
  const batch = await listDeletionBatch(s.db, tenantId, id);
  const users = [...new Set(batch.map((r) => r.user_id))];
  // A tenant being moved (src/tenants/moves.ts) waits: its rows are being copied, and row ids
  // differ between shards. Afterwards the pass starts over on the tenant's new shard, read fresh
  // from the control DB (the router's cached placement may be up to a minute old).
  const move = await latestMove(s.db, tenantId);
  if (move && (move.state === "copying" || move.state === "frozen" || move.state === "switched")) {
    return { next: position, delaySeconds: MOVE_WAIT_SECONDS };
  }
  const tenant = await getTenant(s.db, tenantId);
  if (!tenant) return { failed: `tenant ${tenantId} no longer exists` };
  if (st.shard !== undefined && st.shard !== tenant.shard) Object.assign(st, { pair: 0, after: 0, until: null });
  st.shard = tenant.shard;
  const td = tenantData(s.shards, { tenantId, shard: tenant.shard });
  await deleteSome(td, st, users, chunks, ctx.heartbeat);
  if (st.pair < USER_COLUMNS.length) {
    await checkpointUserDeletion(s.db, id, position, position + 1, JSON.stringify(st));
    return { next: position + 1 };
  }

  const now = s.clock.seconds();
  const results = batch.map((r) => {
    const by_model = st.deleted[r.user_id] ?? {};
    return { id: r.id, rows: Object.values(by_model).reduce((a, b) => a + b, 0), by_model };
  });
  await checkpointUserDeletion(s.db, id, position, position + 1, JSON.stringify(st));
  for (const [i, r] of results.entries()) {
    const req = batch[i] as UserDeletionRow;
    await appendAudit(s.db, {
      id: newId("aud"),
      tenant_id: tenantId,
      actor: req.requested_by,
      action: "user_data.delete",
      details: { request_id: r.id, user_id: req.user_id, rows: r.rows, by_model: r.by_model },
      created_at: now,
    });
  }
  await finishDeletionBatch(s.db, results, now);
  return { done: true };
}

/** The `user_deletion` chain kind. */
export function userDeletionJob(chunks: DeletionChunks = DELETION_CHUNKS): ChainJob {
  return {
    step: (ctx) => step(ctx, chunks),
    async giveUp(s, chain, reason) {
      await failDeletionBatch(s.db, chain.tenant_id, chain.subject_id, reason, s.clock.seconds());
    },
  };
}
