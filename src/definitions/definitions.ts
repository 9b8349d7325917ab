import type { Env } from "../env";
import { ApiError, notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import { validateExport } from "./compiler";
import { refreshNextRun } from "../cron/schedules";
import { sealTarget } from "../targets/config";
import { sealNotification } from "./notify";
import { readRecipientKey } from "./post/encrypt";
import { ExportBody } from "./definition";

/**
 * Export definitions in the control DB (table `exports`, migrations/control/0002).
 * Every query is scoped by the tenant from the credential; another tenant's export is
 * simply not found. The runner and the scheduler load definitions with getExport().
 */

export type ExportStatus = "draft" | "active" | "disabled";

export interface LastRun {
  id: string;
  status: "pending" | "processing" | "finished" | "failed";
  rows: number;
  bytes: number;
  created_at: number;
  finished_at: number | null;
}

export interface ExportRecord {
  id: string;
  tenantId: string;
  name: string;
  model: string;
  status: ExportStatus;
  favourite: boolean;
  definition: ExportBody;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  /** next scheduled run (epoch seconds, UTC), null when it does not run on its own */
  nextRunAt: number | null;
  lastRun: LastRun | null;
}

/** Only drafts are edited (reference: "only Draft exports can be modified"); disabling puts an export back in editing. */
export const EDITABLE: readonly ExportStatus[] = ["draft", "disabled"];

export const CATEGORIES = ["all", "in_progress", "scheduled", "draft", "closed", "favourites"] as const;
export type Category = (typeof CATEGORIES)[number];

export interface ListQuery {
  q?: string;
  category: Category;
  sort: "name" | "created_at";
  order: "asc" | "desc";
  page: number;
  perPage: number;
}

interface Row {
  id: string;
  tenant_id: string;
  name: string;
  model: string;
  status: ExportStatus;
  favourite: number;
  definition: string;
  created_by: string;
  created_at: number;
  updated_at: number;
  next_run_at: number | null;
  run_id: string | null;
  run_status: LastRun["status"] | null;
  run_rows: number | null;
  run_bytes: number | null;
  run_created_at: number | null;
  run_finished_at: number | null;
}

const now = () => Math.floor(Date.now() / 1000);

const SELECT = `SELECT e.id, e.tenant_id, e.name, e.model, e.status, e.favourite, e.definition, e.created_by, e.created_at, e.updated_at, e.next_run_at,
  r.id AS run_id, r.status AS run_status, r.rows AS run_rows, r.bytes AS run_bytes, r.created_at AS run_created_at, r.finished_at AS run_finished_at
FROM exports e
LEFT JOIN export_runs r ON r.id = (
  SELECT x.id FROM export_runs x WHERE x.tenant_id = e.tenant_id AND x.export_id = e.id ORDER BY x.created_at DESC, x.id DESC LIMIT 1
)`;

function toRecord(r: Row): ExportRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    model: r.model,
    status: r.status,
    favourite: r.favourite === 1,
    definition: { ...(JSON.parse(r.definition) as ExportBody), name: r.name },
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    nextRunAt: r.next_run_at,
    lastRun: r.run_id
      ? {
          id: r.run_id,
          status: r.run_status ?? "pending",
          rows: r.run_rows ?? 0,
          bytes: r.run_bytes ?? 0,
          created_at: r.run_created_at ?? 0,
          finished_at: r.run_finished_at,
        }
      : null,
  };
}

/** Throws validation_failed naming each offending part of the definition. */
export function assertValidDefinition(def: ExportBody): void {
  const issues = validateExport(def);
  const first = issues[0];
  if (first) {
    throw new ApiError("validation_failed", `Invalid export definition: ${first.path}: ${first.message}`, { details: issues });
  }
}

async function assertNameFree(env: Env, tenantId: string, name: string, exceptId?: string) {
  const clash = await env.DB.prepare("SELECT id FROM exports WHERE tenant_id = ?1 AND name = ?2 AND deleted_at IS NULL AND id <> ?3")
    .bind(tenantId, name, exceptId ?? "")
    .first<{ id: string }>();
  if (clash) throw new ApiError("conflict", `An export named '${name}' already exists (${clash.id}); choose another name`);
}

function uniqueViolation(err: unknown, name: string): never {
  if (String(err).includes("UNIQUE constraint failed")) {
    throw new ApiError("conflict", `An export named '${name}' already exists; choose another name`);
  }
  throw err;
}

export async function getExport(env: Env, tenantId: string, id: string): Promise<ExportRecord | null> {
  const row = await env.DB.prepare(`${SELECT} WHERE e.id = ?1 AND e.tenant_id = ?2 AND e.deleted_at IS NULL`)
    .bind(id, tenantId)
    .first<Row>();
  return row ? toRecord(row) : null;
}

export async function requireExport(env: Env, tenantId: string, id: string): Promise<ExportRecord> {
  const rec = await getExport(env, tenantId, id);
  if (!rec) throw notFound(`Export '${id}'`);
  return rec;
}

export async function createExport(env: Env, tenantId: string, createdBy: string, def: ExportBody): Promise<ExportRecord> {
  assertValidDefinition(def);
  await assertNameFree(env, tenantId, def.name);
  // Target credentials are stored encrypted (docs/targets.md).
  if (def.encryption) await readRecipientKey(def.encryption.public_key);
  def = { ...def, target: await sealTarget(env, def.target), notification: await sealNotification(env, def.notification) };
  const id = newId("exp");
  const t = now();
  await env.DB.prepare(
    "INSERT INTO exports (id, tenant_id, name, model, status, favourite, definition, created_by, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?8)",
  )
    .bind(id, tenantId, def.name, def.model, def.status, JSON.stringify(def), createdBy, t)
    .run()
    .catch((err) => uniqueViolation(err, def.name));
  await refreshNextRun(env, tenantId, id);
  return requireExport(env, tenantId, id);
}

/**
 * Replaces the definition of a draft (or disabled) export; anything else is a 409.
 * `publish` true makes it active; otherwise it keeps its status.
 */
export async function updateExport(
  env: Env,
  tenantId: string,
  id: string,
  def: ExportBody,
  publish: boolean,
): Promise<ExportRecord> {
  const cur = await requireExport(env, tenantId, id);
  if (!EDITABLE.includes(cur.status)) {
    throw new ApiError(
      "conflict",
      `Export '${id}' is ${cur.status}; only drafts can be edited. Disable it first (POST /api/1/exports/${id}/disable), or clone it`,
    );
  }
  assertValidDefinition(def);
  await assertNameFree(env, tenantId, def.name, id);
  // Target credentials are stored encrypted; "****" keeps the stored value (docs/targets.md).
  if (def.encryption) await readRecipientKey(def.encryption.public_key);
  def = {
    ...def,
    target: await sealTarget(env, def.target, cur.definition.target),
    notification: await sealNotification(env, def.notification, cur.definition.notification),
  };
  const status: ExportStatus = publish ? "active" : cur.status;
  const res = await env.DB.prepare(
    "UPDATE exports SET name = ?1, model = ?2, status = ?3, definition = ?4, updated_at = ?5 WHERE id = ?6 AND tenant_id = ?7 AND deleted_at IS NULL AND status IN ('draft', 'disabled')",
  )
    .bind(def.name, def.model, status, JSON.stringify({ ...def, status: status === "active" ? "active" : "draft" }), now(), id, tenantId)
    .run()
    .catch((err) => uniqueViolation(err, def.name));
  if (res.meta.changes === 0) throw new ApiError("conflict", `Export '${id}' changed while it was being edited; read it again`);
  await refreshNextRun(env, tenantId, id);
  return requireExport(env, tenantId, id);
}

export async function deleteExport(env: Env, tenantId: string, id: string): Promise<void> {
  const res = await env.DB.prepare("UPDATE exports SET deleted_at = ?1 WHERE id = ?2 AND tenant_id = ?3 AND deleted_at IS NULL")
    .bind(now(), id, tenantId)
    .run();
  if (res.meta.changes === 0) throw notFound(`Export '${id}'`);
}

async function freeCopyName(env: Env, tenantId: string, base: string): Promise<string> {
  const stem = base.slice(0, 90);
  for (let i = 1; i < 1000; i++) {
    const name = i === 1 ? `${stem}-copy` : `${stem}-copy-${i}`;
    const clash = await env.DB.prepare("SELECT 1 FROM exports WHERE tenant_id = ?1 AND name = ?2 AND deleted_at IS NULL")
      .bind(tenantId, name)
      .first();
    if (!clash) return name;
  }
  throw new ApiError("conflict", `Too many copies of '${base}'; give the clone a name`);
}

/** Copies a definition as a new draft (the reference's clone / duplicate: edit it, then publish). */
export async function cloneExport(
  env: Env,
  tenantId: string,
  id: string,
  createdBy: string,
  name?: string,
): Promise<ExportRecord> {
  const src = await requireExport(env, tenantId, id);
  const newName = name ?? (await freeCopyName(env, tenantId, src.name));
  return createExport(env, tenantId, createdBy, ExportBody.parse({ ...src.definition, name: newName, status: "draft" }));
}

export async function setFavourite(env: Env, tenantId: string, id: string, favourite: boolean): Promise<ExportRecord> {
  const res = await env.DB.prepare("UPDATE exports SET favourite = ?1 WHERE id = ?2 AND tenant_id = ?3 AND deleted_at IS NULL")
    .bind(favourite ? 1 : 0, id, tenantId)
    .run();
  if (res.meta.changes === 0) throw notFound(`Export '${id}'`);
  return requireExport(env, tenantId, id);
}

/** disable: no more scheduled runs, and editable again; enable: active (validated again against the catalog). */
export async function setEnabled(env: Env, tenantId: string, id: string, enabled: boolean): Promise<ExportRecord> {
  const cur = await requireExport(env, tenantId, id);
  if (enabled) assertValidDefinition(cur.definition);
  const status: ExportStatus = enabled ? "active" : "disabled";
  await env.DB.prepare("UPDATE exports SET status = ?1, definition = ?2, updated_at = ?3 WHERE id = ?4 AND tenant_id = ?5 AND deleted_at IS NULL")
    .bind(status, JSON.stringify({ ...cur.definition, status: enabled ? "active" : "draft" }), now(), id, tenantId)
    .run();
  await refreshNextRun(env, tenantId, id);
  return requireExport(env, tenantId, id);
}

const CATEGORY_SQL: Record<Category, string> = {
  all: "",
  in_progress:
    "AND EXISTS (SELECT 1 FROM export_runs p WHERE p.tenant_id = e.tenant_id AND p.export_id = e.id AND p.status IN ('pending', 'processing'))",
  scheduled: "AND e.status = 'active' AND json_extract(e.definition, '$.schedule.type') <> 'now'",
  draft: "AND e.status IN ('draft', 'disabled')",
  closed: "AND r.status IN ('finished', 'failed')",
  favourites: "AND e.favourite = 1",
};

/** One page of a tenant's exports; search by name, sort by name or created_at, filter by category. */
export async function listExports(env: Env, tenantId: string, q: ListQuery): Promise<{ items: ExportRecord[]; total: number }> {
  const params: (string | number)[] = [tenantId];
  let where = "WHERE e.tenant_id = ?1 AND e.deleted_at IS NULL";
  if (q.q) {
    params.push(`%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    where += ` AND e.name LIKE ?${params.length} ESCAPE '\\'`;
  }
  where += ` ${CATEGORY_SQL[q.category]}`;
  const dir = q.order === "asc" ? "ASC" : "DESC";
  const order = q.sort === "name" ? `e.name COLLATE NOCASE ${dir}, e.name ${dir}, e.id ${dir}` : `e.created_at ${dir}, e.id ${dir}`;
  const countSql = `SELECT count(*) AS n FROM (${SELECT} ${where})`;
  const pageSql = `${SELECT} ${where} ORDER BY ${order} LIMIT ?${params.length + 1} OFFSET ?${params.length + 2}`;
  const [count, page] = await env.DB.batch([
    env.DB.prepare(countSql).bind(...params),
    env.DB.prepare(pageSql).bind(...params, q.perPage, (q.page - 1) * q.perPage),
  ]);
  const total = (count?.results[0] as { n: number } | undefined)?.n ?? 0;
  return { items: ((page?.results ?? []) as Row[]).map(toRecord), total };
}
