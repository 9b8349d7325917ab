import { startChain } from "../chain";
import { getExportRow } from "../db/exports";
import { getCampaignTrigger, insertCampaignTrigger } from "../db/campaign-triggers";
import { getRun, insertRun } from "../db/runs";
import type { ExportRow, RunRow } from "../db/schema";
import type { BatchItem } from "drizzle-orm/batch";
import type { Env } from "../env";
import { MIN_PART_SIZE, type RunOptions } from "../exports/step";
import { ApiError, notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import { getField, getModel } from "../models";
import type { Services } from "../services";

function intVar(value: string | undefined, fallback: number, min: number, name: string): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${value}`);
  return n;
}

/** The tuning a new run snapshots (EXPORT_* vars; defaults here). */
export function runOptionsFromEnv(env: Env): RunOptions {
  return {
    part_size: intVar(env.EXPORT_PART_SIZE, MIN_PART_SIZE, MIN_PART_SIZE, "EXPORT_PART_SIZE"),
    // One D1 query answers at most 50 MB and runs at most 30 s
    // (https://developers.cloudflare.com/d1/platform/limits/), and the isolate holds the chunk's
    // rows in its 128 MB (https://developers.cloudflare.com/workers/platform/limits/#memory):
    // 10,000 rows is ~0.5 MB of result at 50 bytes a row and stays under 50 MB up to 5 KB a row.
    // Fewer, larger queries read faster (10,000 rows per query vs 5,000: bench/README.md, Export).
    chunk_rows: intVar(env.EXPORT_CHUNK_ROWS, 10_000, 1, "EXPORT_CHUNK_ROWS"),
    chunks_per_step: 50,
    // Up to 16 parts per queue message: each hand-over to the next message waits for the queue;
    // what a link may spend (CPU time, D1 queries per invocation) is LINK_ROWS in src/runs/job.ts.
    steps_per_message: intVar(env.EXPORT_STEPS_PER_MESSAGE, 16, 1, "EXPORT_STEPS_PER_MESSAGE"),
  };
}

export interface CreateRunInput {
  tenantId: string;
  exportId: string;
  /**
   * `publish`: the run a definition with schedule `now` starts when it is published;
   * `operation_end`: the run a campaign's end starts (schedule `operation_end`).
   */
  trigger: "manual" | "schedule" | "api" | "publish" | "operation_end";
  /** The schedule slot (epoch seconds); one run per (export, slot) whoever asks twice. */
  scheduledFor?: number;
  /** Incremental exports: only rows with time after / until these epoch seconds. */
  watermark?: { after?: number; until?: number };
  /**
   * The campaign whose end starts this run (schedule `operation_end`): one run per (export,
   * campaign) whoever asks twice, recorded in campaign_triggers in the run's batch. When the
   * model has a `campaign_code` field the run exports that campaign's rows only.
   */
  campaign?: { code: string; end: string };
}

/** The field a campaign scopes a run by, on the models that have it (campaigns, campaign_executions). */
export const CAMPAIGN_FIELD = "campaign_code";

/** Whether runs of `model` started by a campaign's end export only that campaign's rows. */
export const scopesByCampaign = (model: string): boolean => {
  const m = getModel(model);
  return m !== undefined && getField(m, CAMPAIGN_FIELD) !== undefined;
};

/** The definition with `campaign_code = code` ANDed into every filter set (sets are ORed). */
function scopeToCampaign(def: { model?: unknown; filters?: unknown }, code: string): object {
  if (typeof def.model !== "string" || !scopesByCampaign(def.model)) return def;
  const cond = { field: CAMPAIGN_FIELD, op: "eq", value: code };
  const sets = Array.isArray(def.filters) ? (def.filters as unknown[][]) : [];
  return { ...def, filters: sets.length ? sets.map((set) => [...set, cond]) : [[cond]] };
}

/**
 * Creates a pending run from a snapshot of the definition, and its `export_run` chain in the
 * same batch, so a run never exists without the job that produces it. Idempotent per
 * (export, scheduledFor): a second call for the same slot returns the existing run.
 */
export async function createRun(s: Services, input: CreateRunInput): Promise<RunRow> {
  const exp = await getExportRow(s.db, input.tenantId, input.exportId);
  if (!exp) throw notFound(`Export '${input.exportId}'`);
  if (exp.status !== "active") {
    throw new ApiError(
      "conflict",
      `Export ${exp.id} is ${exp.status}; only active exports run (${exp.status === "draft" ? "activate the draft" : "enable it"} first)`,
    );
  }
  if (input.scheduledFor !== undefined) {
    const existing = await getRun(s.db, input.tenantId, { exportId: exp.id, scheduledFor: input.scheduledFor });
    if (existing) return existing;
  }
  if (input.campaign) return createCampaignRun(s, exp, input, input.campaign);
  const prepared = prepareRun(s, exp, input);
  const [inserted] = await s.db.batch(prepared.statements);
  if ((inserted as D1Result).meta.changes === 0) {
    // Another caller made this slot's run between our read and our batch. The chain row made
    // for `id` has no run: its first link finds none and ends (src/runs/job.ts).
    const existing = await getRun(s.db, input.tenantId, { exportId: exp.id, scheduledFor: input.scheduledFor as number });
    if (!existing) throw new Error("run insert conflicted but no run exists for that slot");
    return existing;
  }
  await prepared.kick();
  const run = await getRun(s.db, input.tenantId, prepared.id);
  if (!run) throw new Error("run vanished after insert");
  return run;
}

/** createRun for a campaign's end: the trigger record, the run and its chain in one batch. */
async function createCampaignRun(s: Services, exp: ExportRow, input: CreateRunInput, campaign: { code: string; end: string }): Promise<RunRow> {
  const already = async () => {
    const t = await getCampaignTrigger(s.db, input.tenantId, exp.id, campaign.code);
    return t ? getRun(s.db, input.tenantId, t.run_id) : undefined;
  };
  const existing = await already();
  if (existing) return existing;
  const prepared = prepareRun(s, exp, input);
  try {
    await s.db.batch([
      insertCampaignTrigger(s.db, {
        export_id: exp.id,
        campaign_code: campaign.code,
        tenant_id: input.tenantId,
        run_id: prepared.id,
        campaign_end: campaign.end,
        created_at: s.clock.seconds(),
      }),
      ...prepared.statements,
    ]);
  } catch (err) {
    // Another tick recorded this campaign between our read and our batch: nothing of ours was written.
    const theirs = /UNIQUE constraint failed/.test(`${String(err)} ${String((err as { cause?: unknown })?.cause)}`) ? await already() : undefined;
    if (theirs) return theirs;
    throw err;
  }
  await prepared.kick();
  const run = await getRun(s.db, input.tenantId, prepared.id);
  if (!run) throw new Error("run vanished after insert");
  return run;
}

/**
 * The statements that create a pending run of `exp` (an active definition, stored or about to be
 * stored in the same batch) and its `export_run` chain: the run row first, the chain row second.
 * Call `kick` once the batch committed. Used by createRun, and by the definitions service so a
 * definition published with schedule `now` and its first run are written together.
 */
export function prepareRun(
  s: Services,
  exp: Pick<ExportRow, "id" | "name" | "definition">,
  input: Omit<CreateRunInput, "exportId">,
): { id: string; statements: [BatchItem<"sqlite">, BatchItem<"sqlite">]; kick: () => Promise<void> } {
  const id = newId("run");
  const chain = startChain(s, { kind: "export_run", tenantId: input.tenantId, subjectId: id });
  // The snapshot is the stored JSON named as the row is (the column is the truth for the name).
  let stored: object;
  try {
    stored = JSON.parse(exp.definition) as object;
  } catch {
    throw new ApiError("conflict", `Export ${exp.id} has an unreadable stored definition; replace it (disable, PUT, enable) before running it`);
  }
  const named: { name: string; model?: unknown; filters?: unknown } = { ...stored, name: exp.name };
  const definition = JSON.stringify(input.campaign ? scopeToCampaign(named, input.campaign.code) : named);
  return {
    id,
    statements: [
      insertRun(s.db, {
        id,
        tenant_id: input.tenantId,
        export_id: exp.id,
        status: "pending",
        trigger: input.trigger,
        definition,
        created_at: s.clock.seconds(),
        scheduled_for: input.scheduledFor ?? null,
        watermark_after: input.watermark?.after ?? null,
        watermark_until: input.watermark?.until ?? null,
        options: JSON.stringify(runOptionsFromEnv(s.env)),
      }),
      chain.statement,
    ],
    kick: chain.kick,
  };
}
