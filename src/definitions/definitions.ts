import {
  type Category,
  type ExportStatus,
  type ExportWithLastRun,
  getExportRow,
  insertExport,
  type LastRun,
  lastRunOf,
  listExportRows,
  type ListQuery,
  setExportFavourite,
  setExportStatus,
  softDeleteExport,
  updateEditableExport,
} from "../db/exports";
import type { ExportRow } from "../db/schema";
import { validateExport } from "../exports/compiler";
import { customFieldsOf } from "../tenants/custom-fields";
import { ExportBody } from "../exports/definition";
import { nextRunAt } from "../exports/schedule";
import { ApiError, notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import { sealSecrets } from "../lib/secrets";
import { checkTargetHost } from "../targets/hosts";
import { TargetError } from "../targets/types";
import { createRun, prepareRun } from "../runs";
import type { Services } from "../services";

/**
 * Export definitions: create, edit while draft, clone, enable/disable, favourite, delete, list.
 * Every call is scoped by the tenant of the credential. Saving a definition writes its
 * next_run_at in the same statement (computed by the pure schedule math first), so there is
 * no moment where a saved schedule has a stale next run.
 */

export type { Category, ExportStatus, LastRun, ListQuery };
export { CATEGORIES } from "../db/exports";

export interface ExportRecord {
  id: string;
  tenantId: string;
  name: string;
  model: string;
  status: ExportStatus;
  favourite: boolean;
  /** the stored definition; null when it no longer reads as one (then `scheduleError` says why) */
  definition: ExportBody | null;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  /** next scheduled run (epoch seconds, UTC), null when it does not run on its own */
  nextRunAt: number | null;
  /** why the scheduler stopped running it, if it did */
  scheduleError: string | null;
  lastRun: LastRun | null;
  /** the run this call started (publishing a definition whose schedule is `now`), if any */
  run?: StartedRun;
}

export interface StartedRun {
  id: string;
  status: "pending" | "processing" | "finished" | "failed";
}

/**
 * A definition runs at request time by default (reference: "By default, export runs at request
 * time"): schedule `now` (also what a definition without a schedule gets) starts a run when it
 * becomes active (created active, a draft published, enabled). `manual` runs only when asked.
 */
const runsWhenPublished = (def: ExportBody) => def.schedule.type === "now";

/** Only drafts are edited (reference: "only Draft exports can be modified"); disabling puts an export back in editing. */
export const EDITABLE: readonly ExportStatus[] = ["draft", "disabled"];

function toRecord(r: ExportRow, lastRun: LastRun | null): ExportRecord {
  let definition: ExportBody | null;
  try {
    // Stored definitions were validated on save: read them as they are (no re-validation, so a
    // catalog change does not hide them), named as the row is.
    definition = { ...(JSON.parse(r.definition) as ExportBody), name: r.name };
  } catch {
    definition = null;
  }
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    model: r.model,
    status: r.status,
    favourite: r.favourite === 1,
    definition,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    nextRunAt: r.next_run_at,
    scheduleError: r.schedule_error ?? (definition ? null : "the stored definition is not JSON"),
    lastRun,
  };
}

/** Throws validation_failed naming each offending part of the definition. */
export async function assertValidDefinition(s: Services, tenantId: string, def: ExportBody): Promise<void> {
  const issues = validateExport(def, new Date(s.clock.now()), await customFieldsOf(s, tenantId, def.model));
  const first = issues[0];
  if (first) {
    throw new ApiError("validation_failed", `Invalid export definition: ${first.path}: ${first.message}`, { details: issues });
  }
}

/**
 * The notification's webhook and its email relay must be public hosts, checked when the
 * definition is saved (as a source's webhook_url is) and again before each send
 * (src/runs/webhook.ts, src/runs/email.ts), since a name can change what it resolves to.
 */
async function assertNotificationHost(s: Services, def: ExportBody): Promise<void> {
  const hosts: [string, string][] = [];
  if (def.notification?.webhook_url) hosts.push(["notification.webhook_url", new URL(def.notification.webhook_url).hostname]);
  if (def.notification?.email) hosts.push(["notification.email.relay.host", def.notification.email.relay.host]);
  for (const [path, host] of hosts) {
    try {
      await checkTargetHost(s.env, host);
    } catch (err) {
      if (!(err instanceof TargetError)) throw err;
      throw new ApiError("validation_failed", `Invalid export definition: ${path}: ${err.message}`, { details: [{ path, message: err.message }] });
    }
  }
}

/**
 * A `once` schedule must be ahead of the service clock when it is saved or published: a time
 * already past would never run. Only checked on the way in; a stored definition whose time has
 * passed still reads (and shows next_run_at null).
 */
function assertScheduleAhead(s: Services, def: ExportBody): void {
  if (def.schedule.type !== "once") return;
  const at = Math.floor(Date.parse(def.schedule.at) / 1000);
  if (at <= s.clock.seconds()) {
    const now = new Date(s.clock.seconds() * 1000).toISOString();
    throw new ApiError("validation_failed", `Invalid export definition: schedule.at: ${def.schedule.at} is in the past (now ${now}); choose a later time`, {
      details: [{ path: "schedule.at", message: `must be in the future (now ${now})` }],
    });
  }
}

async function assertNameFree(s: Services, tenantId: string, name: string, exceptId?: string) {
  const clash = await getExportRow(s.db, tenantId, { name });
  if (clash && clash.id !== exceptId) throw new ApiError("conflict", `An export named '${name}' already exists (${clash.id}); choose another name`);
}

function uniqueViolation(err: unknown, name: string): never {
  if (String(err).includes("UNIQUE constraint failed") || String((err as { cause?: unknown })?.cause).includes("UNIQUE constraint failed")) {
    throw new ApiError("conflict", `An export named '${name}' already exists; choose another name`);
  }
  throw err;
}

/** When an `active` definition with this schedule runs next; null for the others. */
const nextRun = (s: Services, status: ExportStatus, def: ExportBody) => (status === "active" ? nextRunAt(def.schedule, s.clock.seconds()) : null);

export async function getExport(s: Services, tenantId: string, id: string): Promise<ExportRecord | null> {
  const row = await getExportRow(s.db, tenantId, id);
  return row ? toRecord(row, (await lastRunOf(s.db, tenantId, id)) ?? null) : null;
}

export async function requireExport(s: Services, tenantId: string, id: string): Promise<ExportRecord> {
  const rec = await getExport(s, tenantId, id);
  if (!rec) throw notFound(`Export '${id}'`);
  return rec;
}

/** A definition by name (the automated API's system_name), or null. */
export async function findExportByName(s: Services, tenantId: string, name: string): Promise<ExportRecord | null> {
  const row = await getExportRow(s.db, tenantId, { name });
  return row ? toRecord(row, (await lastRunOf(s.db, tenantId, row.id)) ?? null) : null;
}

/** The stored definition of a record; a definition that no longer reads cannot be edited from, only replaced. */
function readable(rec: ExportRecord): ExportBody {
  if (!rec.definition) throw new ApiError("conflict", `Export '${rec.id}' has an unreadable stored definition; replace it with PUT`);
  return rec.definition;
}

export async function createExport(
  s: Services,
  tenantId: string,
  createdBy: string,
  def: ExportBody,
  /** false for a clone: a draft copy of a definition whose once-time passed is fixed by editing it */
  checkSchedule = true,
): Promise<ExportRecord> {
  await assertValidDefinition(s, tenantId, def);
  if (checkSchedule) assertScheduleAhead(s, def);
  await assertNotificationHost(s, def);
  await assertNameFree(s, tenantId, def.name);
  // Secret fields (target credentials, the notification secret) are stored sealed (docs/targets.md).
  if (def.encryption) await s.toolbox.checkPublicKey(def.encryption.public_key);
  def = await sealSecrets(s.secrets, ExportBody, def);
  const id = newId("exp");
  const now = s.clock.seconds();
  const definition = JSON.stringify(def);
  // The first run and its chain are written in the same batch as the definition: a definition
  // published with schedule `now` never exists without the run it promised.
  const run = def.status === "active" && runsWhenPublished(def) ? prepareRun(s, { id, name: def.name, definition }, { tenantId, trigger: "publish" }) : null;
  await s.db
    .batch([
      insertExport(s.db, {
        id,
        tenant_id: tenantId,
        name: def.name,
        model: def.model,
        status: def.status,
        favourite: 0,
        definition,
        created_by: createdBy,
        created_at: now,
        updated_at: now,
        next_run_at: nextRun(s, def.status, def),
      }),
      ...(run ? run.statements : []),
    ])
    .catch((err) => uniqueViolation(err, def.name));
  if (run) await run.kick();
  const rec = await requireExport(s, tenantId, id);
  return run ? { ...rec, run: { id: run.id, status: "pending" } } : rec;
}

/** Starts the run a definition that just became active owes (schedule `now`). */
async function runIfPublished(s: Services, tenantId: string, rec: ExportRecord, wasActive: boolean): Promise<ExportRecord> {
  if (wasActive || rec.status !== "active" || !rec.definition || !runsWhenPublished(rec.definition)) return rec;
  // Written after the status change (not in its batch): if this fails the definition is active
  // and the answer is an error; Run now (POST /api/1/exports/:id/runs) starts it then.
  const run = await createRun(s, { tenantId, exportId: rec.id, trigger: "publish" });
  return { ...rec, run: { id: run.id, status: run.status } };
}

/**
 * Replaces the definition of a draft (or disabled) export; anything else is a 409.
 * `publish` true makes it active; otherwise it keeps its status.
 */
export async function updateExport(s: Services, tenantId: string, id: string, def: ExportBody, publish: boolean): Promise<ExportRecord> {
  const cur = await requireExport(s, tenantId, id);
  if (!EDITABLE.includes(cur.status)) {
    throw new ApiError(
      "conflict",
      `Export '${id}' is ${cur.status}; only drafts can be edited. Disable it first (POST /api/1/exports/${id}/disable), or clone it`,
    );
  }
  await assertValidDefinition(s, tenantId, def);
  assertScheduleAhead(s, def);
  await assertNotificationHost(s, def);
  await assertNameFree(s, tenantId, def.name, id);
  // Secret fields are stored sealed; "****" keeps the stored value (docs/targets.md).
  if (def.encryption) await s.toolbox.checkPublicKey(def.encryption.public_key);
  def = await sealSecrets(s.secrets, ExportBody, def, cur.definition ?? undefined);
  const status: ExportStatus = publish ? "active" : cur.status;
  const stored = { ...def, status: status === "active" ? ("active" as const) : ("draft" as const) };
  const ok = await updateEditableExport(s.db, tenantId, id, {
    name: def.name,
    model: def.model,
    status,
    definition: JSON.stringify(stored),
    updated_at: s.clock.seconds(),
    next_run_at: nextRun(s, status, stored),
  }).catch((err) => uniqueViolation(err, def.name));
  if (!ok) throw new ApiError("conflict", `Export '${id}' changed while it was being edited; read it again`);
  return runIfPublished(s, tenantId, await requireExport(s, tenantId, id), false);
}

export async function deleteExport(s: Services, tenantId: string, id: string): Promise<void> {
  if (!(await softDeleteExport(s.db, tenantId, id, s.clock.seconds()))) throw notFound(`Export '${id}'`);
}

async function freeCopyName(s: Services, tenantId: string, base: string): Promise<string> {
  const stem = base.slice(0, 90);
  for (let i = 1; i < 1000; i++) {
    const name = i === 1 ? `${stem}-copy` : `${stem}-copy-${i}`;
    if (!(await getExportRow(s.db, tenantId, { name }))) return name;
  }
  throw new ApiError("conflict", `Too many copies of '${base}'; give the clone a name`);
}

/** Copies a definition as a new draft (the reference's clone / duplicate: edit it, then publish). */
export async function cloneExport(s: Services, tenantId: string, id: string, createdBy: string, name?: string): Promise<ExportRecord> {
  const src = await requireExport(s, tenantId, id);
  const newName = name ?? (await freeCopyName(s, tenantId, src.name));
  return createExport(s, tenantId, createdBy, ExportBody.parse({ ...readable(src), name: newName, status: "draft" }), false);
}

export async function setFavourite(s: Services, tenantId: string, id: string, favourite: boolean): Promise<ExportRecord> {
  if (!(await setExportFavourite(s.db, tenantId, id, favourite))) throw notFound(`Export '${id}'`);
  return requireExport(s, tenantId, id);
}

/** disable: no more scheduled runs, and editable again; enable: active (validated again against the catalog). */
export async function setEnabled(s: Services, tenantId: string, id: string, enabled: boolean): Promise<ExportRecord> {
  const cur = await requireExport(s, tenantId, id);
  const def = enabled ? readable(cur) : cur.definition;
  if (enabled) {
    await assertValidDefinition(s, tenantId, def as ExportBody);
    // Enabling publishes again: a once-time that passed while it was disabled would never run.
    if (cur.status !== "active") assertScheduleAhead(s, def as ExportBody);
  }
  const status: ExportStatus = enabled ? "active" : "disabled";
  await setExportStatus(s.db, tenantId, id, {
    status,
    // an unreadable definition can still be disabled (to be replaced); it keeps its text
    definition: def ? JSON.stringify({ ...def, status: enabled ? "active" : "draft" }) : ((await getExportRow(s.db, tenantId, id))?.definition ?? "{}"),
    updated_at: s.clock.seconds(),
    next_run_at: enabled ? nextRun(s, status, def as ExportBody) : null,
  });
  return runIfPublished(s, tenantId, await requireExport(s, tenantId, id), cur.status === "active");
}

/** One page of a tenant's exports; search by name, sort by name or created_at, filter by category. */
export async function listExports(s: Services, tenantId: string, q: ListQuery): Promise<{ items: ExportRecord[]; total: number }> {
  const { items, total } = await listExportRows(s.db, tenantId, q);
  return { items: items.map(({ last_run, ...row }: ExportWithLastRun) => toRecord(row, last_run)), total };
}
