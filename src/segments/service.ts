import * as z from "zod";
import { startChain } from "../chain";
import {
  deleteScoringKey,
  ensureSegment,
  getRunningSegmentRun,
  getScoringKey,
  getSegment,
  getSegmentRun,
  insertSegment,
  insertSegmentRun,
  listSegments,
  markSegmentDeleted,
  pointSegmentAtRun,
  putScoringKey,
  requestRecompute,
  staleSegmentsUnscoped,
  updateSegment,
} from "../db/segments";
import type { SegmentRow, SegmentRunRow } from "../db/schema";
import { Condition } from "../exports/definition";
import { ApiError, notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import type { Services } from "../services";
import { compileSegmentFilter } from "./filters";
import { ScoringKey, defaultScoringKey } from "./scoring";

/**
 * Segments and their recomputes (docs/segments.md): the one owner of the segment lifecycle.
 * Routes, the cron and the reference endpoints all come through here.
 */

export const DEFAULT_SEGMENT = "default";
export const DEFAULT_PERSONAS = 4;
/** Most personas per segment: the clustering state (k x traits) stays small. */
export const MAX_PERSONAS = 20;
/** A segment's result older than this is recomputed by the cron. */
export const STALE_SECONDS = 24 * 60 * 60;
/** Recomputes the cron starts per tick at most (each is a queue chain of its own). */
export const CRON_BATCH = 20;

const Filters = z
  .array(z.array(Condition).min(1, "a filter set needs at least one condition").max(50), { error: "filters must be a list of sets (lists) of conditions" })
  .max(50);
const Personas = z
  .number({ error: "personas must be a number" })
  .int("personas must be a whole number")
  .min(1, "personas must be at least 1")
  .max(MAX_PERSONAS, `personas must be at most ${MAX_PERSONAS}`);
const Name = z.string({ error: "name must be a string" }).trim().min(1, "name must not be empty").max(200, "name: at most 200 characters");

export const SegmentBody = z.object({ name: Name, filters: Filters.default([]), personas: Personas.default(DEFAULT_PERSONAS) }).strict();
export type SegmentBody = z.infer<typeof SegmentBody>;
export const SegmentPatch = z.object({ name: Name.optional(), filters: Filters.optional(), personas: Personas.optional() }).strict();
export type SegmentPatch = z.infer<typeof SegmentPatch>;

/** What a recompute computes, snapshotted on its row when it starts. */
export interface RunDefinition {
  filters: Condition[][];
  personas: number;
  key: ScoringKey;
  /** epoch ms: `date:` expressions of the filters are evaluated at this time */
  now: number;
}

/** A recompute's tuning, snapshotted on its row (env overrides for tests and benchmarks). */
export interface RunOptions {
  /** users whose answers are scored per chunk of the first pass */
  build_users: number;
  /** vectors read per chunk of the later passes */
  chunk_users: number;
  /** chunks per queue message */
  chunks_per_link: number;
  max_iterations: number;
  /** largest centre move (score points) that counts as converged */
  tolerance: number;
  seed: string;
}

const envInt = (env: object, name: string, dflt: number, min = 1) => {
  const v = Number.parseInt(String((env as Record<string, unknown>)[name] ?? ""), 10);
  return Number.isInteger(v) && v >= min ? v : dflt;
};

/**
 * Defaults: a chunk of 5,000 vectors of 69 traits is ~2 MB read from D1 and well under 100 ms of
 * CPU to assign; 10 chunks per message keep a message far inside the queue consumer's CPU limit.
 * https://developers.cloudflare.com/queues/platform/limits/
 */
export function runOptions(env: object): RunOptions {
  return {
    build_users: envInt(env, "SEGMENT_BUILD_USERS", 250),
    chunk_users: envInt(env, "SEGMENT_CHUNK_USERS", 5000),
    chunks_per_link: envInt(env, "SEGMENT_CHUNKS_PER_LINK", 10),
    max_iterations: envInt(env, "SEGMENT_MAX_ITERATIONS", 50),
    tolerance: 0.001,
    seed: "ferry-personas-1",
  };
}

// ---------------------------------------------------------------- scoring key

export async function scoringKey(s: Services, tenantId: string): Promise<{ key: ScoringKey; default: boolean; updated_at: number | null }> {
  const row = await getScoringKey(s.db, tenantId);
  if (!row) return { key: defaultScoringKey(), default: true, updated_at: null };
  return { key: ScoringKey.parse(JSON.parse(row.key)), default: false, updated_at: row.updated_at };
}

export async function replaceScoringKey(s: Services, tenantId: string, key: ScoringKey) {
  await putScoringKey(s.db, tenantId, JSON.stringify(key), s.clock.seconds());
  return scoringKey(s, tenantId);
}

export async function resetScoringKey(s: Services, tenantId: string): Promise<void> {
  await deleteScoringKey(s.db, tenantId);
}

// ---------------------------------------------------------------- segments

/** A result as published on the segment (SegmentRow.result). */
export interface SegmentResult {
  traits: { category: string; trait: string }[];
  personas: { persona: number; users: number; centre: number[]; means: (number | null)[] }[];
  /** means over every user of the segment */
  means: (number | null)[];
  iterations: number;
  converged: boolean;
}

export type SegmentStatus = "pending" | "computing" | "ready" | "failed";

export interface SegmentView {
  id: string;
  name: string;
  filters: Condition[][];
  personas: number;
  status: SegmentStatus;
  progress: number;
  users: number | null;
  computed_at: number | null;
  /** users per persona of the published result, persona 1 first */
  persona_sizes: number[];
  error: string | null;
  created_at: number;
  updated_at: number;
}

export function segmentView(seg: SegmentRow, run: SegmentRunRow | undefined): SegmentView {
  const result = seg.result ? (JSON.parse(seg.result) as SegmentResult) : null;
  let status: SegmentStatus;
  let progress: number;
  if (run?.status === "running" && run.phase !== "cleanup") {
    status = "computing";
    progress = run.progress;
  } else if (run?.status === "running" && seg.defined_at > run.created_at) {
    // Publishing is done and another recompute is asked for: it starts when this one has cleaned up.
    status = "computing";
    progress = 0;
  } else if (run?.status === "failed" && (seg.computed_at === null || run.created_at >= seg.computed_at)) {
    status = "failed";
    progress = run.progress;
  } else if (seg.computed_at !== null) {
    status = "ready";
    progress = 1;
  } else {
    status = "pending";
    progress = 0;
  }
  return {
    id: seg.id,
    name: seg.name,
    filters: JSON.parse(seg.filters) as Condition[][],
    personas: seg.personas,
    status,
    progress: Math.round(progress * 1000) / 1000,
    users: seg.users,
    computed_at: seg.computed_at,
    persona_sizes: result?.personas.map((p) => p.users) ?? [],
    error: status === "failed" ? (run?.error ?? null) : null,
    created_at: seg.created_at,
    updated_at: seg.updated_at,
  };
}

const ensureDefault = (s: Services, tenantId: string) =>
  ensureSegment(s.db, { tenant_id: tenantId, id: DEFAULT_SEGMENT, name: "Default", personas: DEFAULT_PERSONAS, now: s.clock.seconds() });

/** A live segment of the tenant; `default` always exists (it is made on first use). */
export async function findSegment(s: Services, tenantId: string, id: string): Promise<SegmentRow | undefined> {
  const seg = await getSegment(s.db, tenantId, id);
  if (seg || id !== DEFAULT_SEGMENT) return seg;
  await ensureDefault(s, tenantId);
  return getSegment(s.db, tenantId, id);
}

async function requireSegment(s: Services, tenantId: string, id: string): Promise<SegmentRow> {
  const seg = await findSegment(s, tenantId, id);
  if (!seg) throw notFound(`Segment '${id}'`);
  return seg;
}

async function viewOf(s: Services, seg: SegmentRow): Promise<SegmentView> {
  return segmentView(seg, seg.run_id ? await getSegmentRun(s.db, seg.tenant_id, seg.run_id) : undefined);
}

export async function listSegmentViews(s: Services, tenantId: string): Promise<SegmentView[]> {
  await ensureDefault(s, tenantId);
  const rows = await listSegments(s.db, tenantId);
  return Promise.all(rows.map((r) => viewOf(s, r)));
}

export async function getSegmentView(s: Services, tenantId: string, id: string): Promise<SegmentView> {
  return viewOf(s, await requireSegment(s, tenantId, id));
}

function checkFilters(filters: Condition[][], now: Date): void {
  const { issues } = compileSegmentFilter(filters, now);
  if (issues.length) {
    const first = issues[0] as { path: string; message: string };
    throw new ApiError("validation_failed", `Invalid body: ${first.path}: ${first.message}`, { details: issues });
  }
}

const isUniqueViolation = (err: unknown) => /UNIQUE constraint failed/i.test(String((err as Error)?.message ?? err) + String((err as { cause?: unknown })?.cause ?? ""));

/** Creates a segment and starts its first recompute. */
export async function createSegment(s: Services, tenantId: string, body: SegmentBody): Promise<SegmentView> {
  checkFilters(body.filters, new Date(s.clock.now()));
  const id = newId("seg");
  try {
    await insertSegment(s.db, { tenant_id: tenantId, id, name: body.name, filters: JSON.stringify(body.filters), personas: body.personas, now: s.clock.seconds() });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ApiError("conflict", `A segment named '${body.name}' exists already`);
    throw err;
  }
  const seg = await requireSegment(s, tenantId, id);
  await startRecompute(s, seg, "created");
  return getSegmentView(s, tenantId, id);
}

/**
 * Edits a segment. A change of filters or personas makes the result stale: a recompute starts
 * (or, if one is running with the old definition, another starts when it ends).
 */
export async function patchSegment(s: Services, tenantId: string, id: string, patch: SegmentPatch): Promise<SegmentView> {
  const seg = await requireSegment(s, tenantId, id);
  if (id === DEFAULT_SEGMENT && patch.filters !== undefined && patch.filters.length > 0) {
    throw new ApiError("validation_failed", "Invalid body: filters: the default segment holds every user with trait scores and takes no filters; create a segment to filter", {
      details: [{ path: "filters", message: "the default segment takes no filters" }],
    });
  }
  if (patch.filters) checkFilters(patch.filters, new Date(s.clock.now()));
  const filters = patch.filters === undefined ? undefined : JSON.stringify(patch.filters);
  const defined = (filters !== undefined && filters !== seg.filters) || (patch.personas !== undefined && patch.personas !== seg.personas);
  try {
    const ok = await updateSegment(
      s.db,
      tenantId,
      id,
      { ...(patch.name !== undefined ? { name: patch.name } : {}), ...(filters !== undefined ? { filters } : {}), ...(patch.personas !== undefined ? { personas: patch.personas } : {}) },
      s.clock.seconds(),
      defined,
    );
    if (!ok) throw notFound(`Segment '${id}'`);
  } catch (err) {
    if (isUniqueViolation(err)) throw new ApiError("conflict", `A segment named '${patch.name}' exists already`);
    throw err;
  }
  const updated = await requireSegment(s, tenantId, id);
  if (defined) await startRecompute(s, updated, "edited");
  return getSegmentView(s, tenantId, id);
}

/**
 * Deletes a segment: it is gone from the API at once; its membership rows are deleted by a
 * purge run (or by the running recompute, which turns into one).
 */
export async function deleteSegment(s: Services, tenantId: string, id: string): Promise<void> {
  if (id === DEFAULT_SEGMENT) throw new ApiError("conflict", "The default segment cannot be deleted (it holds every user with trait scores)");
  const seg = await requireSegment(s, tenantId, id);
  if (!(await markSegmentDeleted(s.db, tenantId, id, s.clock.seconds()))) throw notFound(`Segment '${id}'`);
  await startRecompute(s, seg, "deleted");
}

/** Starts a recompute of `id` unless one is running; answers the recompute that runs. */
export async function recomputeSegment(s: Services, tenantId: string, id: string): Promise<{ view: SegmentView; started: boolean }> {
  const seg = await requireSegment(s, tenantId, id);
  const { run, started } = await startRecompute(s, seg, "manual");
  // One is running already. If it is only cleaning up after publishing, or started before the
  // segment changed, ask for another: it starts when the running one ends (or the cron starts it).
  if (!started && run && (run.phase === "cleanup" || seg.defined_at > run.created_at)) await requestRecompute(s.db, tenantId, id, s.clock.seconds());
  return { view: await getSegmentView(s, tenantId, id), started };
}

/**
 * Starts a recompute (or, for a deleted segment, the purge of its rows): the run row, its chain
 * and the segment's pointer in one D1 batch. At most one runs per segment (unique index): when
 * one is running already, it is the answer.
 */
export async function startRecompute(s: Services, seg: SegmentRow, trigger: string): Promise<{ run: SegmentRunRow | undefined; started: boolean }> {
  const tenantId = seg.tenant_id;
  const definition: RunDefinition = {
    filters: JSON.parse(seg.filters) as Condition[][],
    personas: seg.personas,
    key: (await scoringKey(s, tenantId)).key,
    now: s.clock.now(),
  };
  const id = newId("segr");
  const now = s.clock.seconds();
  const { statement, kick } = startChain(s, { kind: "segment", tenantId, subjectId: id });
  try {
    await s.db.batch([
      insertSegmentRun(s.db, {
        id,
        tenant_id: tenantId,
        segment_id: seg.id,
        trigger,
        definition: JSON.stringify(definition),
        options: JSON.stringify(runOptions(s.env)),
        phase: trigger === "deleted" ? "purge" : "build",
        now,
      }),
      statement,
      pointSegmentAtRun(s.db, tenantId, seg.id, id, now),
    ]);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    // A recompute is running; a deleted segment's running recompute purges it when it sees the deletion.
    return { run: await getRunningSegmentRun(s.db, tenantId, seg.id), started: false };
  }
  await kick();
  return { run: await getSegmentRun(s.db, tenantId, id), started: true };
}

/**
 * Cron: starts the recompute of segments whose result is older than a day or than their
 * definition (STALE_SECONDS), a few per tick. A tenant's default segment exists from its first
 * use (the segments API or a reference endpoint), so tenants that never ask for personas cost
 * nothing.
 */
export async function recomputeStaleSegments(s: Services): Promise<number> {
  const now = s.clock.seconds();
  const due = await staleSegmentsUnscoped(s.db, now, STALE_SECONDS, CRON_BATCH);
  let started = 0;
  for (const seg of due) {
    const r = await startRecompute(s, seg, "cron").catch((err) => {
      console.error(JSON.stringify({ segment: seg.id, tenant: seg.tenant_id, recompute_failed: String(err) }));
      return { started: false };
    });
    if (r.started) started++;
  }
  return started;
}
