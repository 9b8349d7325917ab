import { nowSeconds } from "../../db/client";
import type { Env } from "../../env";
import type { ExportBody } from "../../exports/definition";
import { getExport } from "../../exports/store";
import { ApiError, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import type { JobMessage } from "../../jobs/messages";

export type RunStatus = "pending" | "processing" | "finished" | "failed";

/** A row of `export_runs` (migrations/control/0002_exports.sql + 0004_runs.sql). */
export interface RunRow {
  id: string;
  tenant_id: string;
  export_id: string;
  status: RunStatus;
  trigger: string;
  definition: string;
  rows: number;
  bytes: number;
  progress: number;
  sha256: string | null;
  error: string | null;
  file_key: string | null;
  file_name: string | null;
  content_type: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  expires_at: number | null;
  scheduled_for: number | null;
  watermark_after: number | null;
  watermark_until: number | null;
  options: string | null;
  total_rows: number | null;
  upload_id: string | null;
  expired_at: number | null;
}

/** Tuning a run keeps from start to end, so a resumed run cuts its bytes the same way. */
export interface RunOptions {
  /** Size of every multipart part but the last. */
  part_size: number;
  /** Rows per keyset-paginated query. */
  chunk_rows: number;
  /** Queries per checkpoint at most (a checkpoint is also written whenever a part was uploaded). */
  chunks_per_step: number;
  /** Checkpoints one queue message produces before handing over to the next message. */
  steps_per_message: number;
}

/**
 * R2 multipart uploads need every part but the last to be at least 5 MiB and all of
 * the same size. https://developers.cloudflare.com/r2/objects/multipart-objects/
 */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

function intVar(value: string | undefined, fallback: number, min: number, name: string): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${value}`);
  return n;
}

export function runOptionsFromEnv(env: Env): RunOptions {
  return {
    part_size: intVar(env.EXPORT_PART_SIZE, MIN_PART_SIZE, MIN_PART_SIZE, "EXPORT_PART_SIZE"),
    chunk_rows: intVar(env.EXPORT_CHUNK_ROWS, 5000, 1, "EXPORT_CHUNK_ROWS"),
    chunks_per_step: 50,
    steps_per_message: intVar(env.EXPORT_STEPS_PER_MESSAGE, 4, 1, "EXPORT_STEPS_PER_MESSAGE"),
  };
}

export function chunkMessage(runId: string, step: number): JobMessage {
  return { type: "export_chunk", version: 1, run_id: runId, step };
}

export interface CreateRunInput {
  tenantId: string;
  exportId: string;
  trigger: "manual" | "schedule" | "api";
  /** The schedule slot (epoch seconds); one run per (export, slot) whoever asks twice. */
  scheduledFor?: number;
  /** Incremental exports: only rows with time after / until these epoch seconds. */
  watermark?: { after?: number; until?: number };
}

/**
 * Creates a pending run from a snapshot of the definition and enqueues the first
 * link of its chain. Idempotent per (export, scheduledFor): a second call for the
 * same slot returns the existing run (re-enqueueing it while still pending, which
 * the runner treats as a no-op if the chain already started).
 */
export async function createRun(env: Env, input: CreateRunInput): Promise<RunRow> {
  const exp = await getExport(env, input.tenantId, input.exportId);
  if (!exp) throw notFound(`Export '${input.exportId}'`);
  if (exp.status !== "active") {
    throw new ApiError(
      "conflict",
      `Export ${exp.id} is ${exp.status}; only active exports run (${exp.status === "draft" ? "activate the draft" : "enable it"} first)`,
    );
  }
  const id = newId("run");
  const now = nowSeconds();
  const res = await env.DB.prepare(
    `INSERT INTO export_runs (id, tenant_id, export_id, status, trigger, definition, created_at, scheduled_for,
       watermark_after, watermark_until, options)
     VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?10)
     ON CONFLICT (export_id, scheduled_for) WHERE scheduled_for IS NOT NULL DO NOTHING`,
  )
    .bind(
      id,
      input.tenantId,
      exp.id,
      input.trigger,
      JSON.stringify(exp.definition),
      now,
      input.scheduledFor ?? null,
      input.watermark?.after ?? null,
      input.watermark?.until ?? null,
      JSON.stringify(runOptionsFromEnv(env)),
    )
    .run();
  let run: RunRow | null;
  if (res.meta.changes === 0) {
    run = await env.DB.prepare("SELECT * FROM export_runs WHERE export_id = ?1 AND scheduled_for = ?2")
      .bind(exp.id, input.scheduledFor ?? null)
      .first<RunRow>();
    if (!run) throw new Error("run insert conflicted but no run exists for that slot");
    if (run.status !== "pending") return run;
  } else {
    run = await getRunRow(env, input.tenantId, id);
    if (!run) throw new Error("run vanished after insert");
  }
  await env.JOBS.send(chunkMessage(run.id, 1));
  return run;
}

export async function getRunRow(env: Env, tenantId: string, runId: string): Promise<RunRow | null> {
  return env.DB.prepare("SELECT * FROM export_runs WHERE id = ?1 AND tenant_id = ?2").bind(runId, tenantId).first<RunRow>();
}

/** Runs of one export, newest first; the export must belong to the tenant. */
export async function listRunRows(
  env: Env,
  tenantId: string,
  exportId: string,
  page: { limit: number; offset: number },
): Promise<{ runs: RunRow[]; total: number }> {
  if (!(await getExport(env, tenantId, exportId))) throw notFound(`Export '${exportId}'`);
  const [list, count] = await env.DB.batch([
    env.DB.prepare(
      "SELECT * FROM export_runs WHERE tenant_id = ?1 AND export_id = ?2 ORDER BY created_at DESC, id DESC LIMIT ?3 OFFSET ?4",
    ).bind(tenantId, exportId, page.limit, page.offset),
    env.DB.prepare("SELECT count(*) AS n FROM export_runs WHERE tenant_id = ?1 AND export_id = ?2").bind(tenantId, exportId),
  ]);
  return { runs: (list?.results ?? []) as RunRow[], total: ((count?.results?.[0] as { n: number } | undefined)?.n ?? 0) };
}

export function parseDefinition(run: Pick<RunRow, "definition">): ExportBody {
  return JSON.parse(run.definition) as ExportBody;
}

/** Epoch seconds as in the reference responses: `2024-06-20T09:35:57+00:00`. */
export function isoSeconds(s: number | null): string | null {
  return s === null ? null : new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, "+00:00");
}
