/**
 * The `delivery` chain job: pushes a finished run's file to its target, one part per link, so
 * a delivery survives a killed worker, a lost message and a flaky target, and always ends
 * visibly as `delivered` or `failed` (run_deliveries, shown on the run).
 *
 * Chain subject = the run id; position = the next step of the upload:
 *   0        begin (the driver plans the parts and starts the upload where the protocol has a start)
 *   1 .. n   part n: read from R2 by range, sent with the driver's putPart
 *   n + 1    complete (the file appears at its destination)
 * After every step the driver's state, the bytes sent and the status are recorded in D1 as a
 * compare-and-set on the state the link started from, then the chain moves on. A link that
 * runs again after a crash finds its step recorded and moves on, or redoes it (every driver
 * call is safe to repeat). A failure the customer must fix (credentials, missing bucket,
 * refused path: TargetError auth/config/refused/not_found) ends the delivery at once; any
 * other failure is thrown, so the chain retries it with backoff (counted in D1) and gives up
 * after MAX_ATTEMPTS through `giveUp`.
 */
import { type ChainJob, LeaseLost, type StepOutcome } from "../chain";
import { getDelivery, insertDelivery, recordDelivered, recordFailed, recordProgress, recordRetrying } from "../db/deliveries";
import { getRun } from "../db/runs";
import type { ChainRow, DeliveryRow, RunRow } from "../db/schema";
import { newId } from "../lib/ids";
import type { Services } from "../services";
import { driverFor } from "../targets";
import type { DeliveryTarget } from "../targets/config";
import {
  type DeliveryContext,
  type DeliveryFile,
  type DeliveryOptions,
  type TargetDriver,
  TargetError,
  UploadRestart,
  type UploadState,
  partCount,
  partRange,
} from "../targets/types";
import { type ResolvedTarget, resolveTarget, rowTarget, snapshotTarget } from "./target";

/** Times an upload may start over (UploadRestart) before the delivery fails. */
export const MAX_RESTARTS = 3;

type Driver = TargetDriver<DeliveryTarget, UploadState>;

export interface DeliveryJobOptions {
  /** request timeouts and in-link retries for the drivers (their defaults otherwise) */
  driver?: DeliveryOptions;
  /** the driver of a target; tests wrap the real ones to break them at a chosen point */
  drivers?: (target: DeliveryTarget) => Driver;
}

/** What a link works from: the run, its delivery row, the target, the driver. */
interface Link {
  s: Services;
  run: RunRow;
  row: DeliveryRow;
  target: ResolvedTarget;
  driver: Driver;
  opts: DeliveryOptions;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 1000);

function deliveryContext(run: RunRow): DeliveryContext {
  const def = JSON.parse(run.definition) as { name?: string };
  return { exportName: def.name ?? run.export_id, runId: run.id, date: new Date(run.created_at * 1000).toISOString().slice(0, 10) };
}

/** The run's file in R2; gone after the run's retention (or never written). */
async function runFile(s: Services, run: RunRow): Promise<DeliveryFile> {
  const key = run.file_key;
  const head = key ? await s.files.head(key) : null;
  if (!key || !head) throw new TargetError("not_found", `the export file of run ${run.id} is no longer in storage (its retention ended?)`);
  return { key, size: head.size, name: run.file_name ?? key.split("/").pop()!, contentType: run.content_type ?? "application/octet-stream" };
}

/** Part `n` of the file: one ranged R2 read, so a link holds one part in memory. */
async function readPart(s: Services, run: RunRow, state: UploadState, n: number): Promise<Uint8Array> {
  const range = partRange(state, n);
  const obj = run.file_key ? await s.files.get(run.file_key, { range }) : null;
  if (!obj) throw new TargetError("not_found", `the export file of run ${run.id} is no longer in storage (its retention ended?)`);
  if (obj.size !== state.size) throw new UploadRestart(`the export file of run ${run.id} is ${obj.size} bytes now, ${state.size} when the upload began`);
  return new Uint8Array(await obj.arrayBuffer());
}

/** Records the state a step produced; a worker whose link moved on meanwhile stops here. */
async function record(l: Link, prev: string | null, state: UploadState): Promise<void> {
  const ok = await recordProgress(l.s.db, l.row.id, prev, {
    uploadState: JSON.stringify(state),
    sentBytes: state.sent,
    partSize: state.part_size,
    now: l.s.clock.seconds(),
  });
  if (!ok) throw new LeaseLost(`delivery of run ${l.run.id} moved on in another worker`);
}

/** Begins the upload (again): a fresh driver state, recorded in place of `prev`. */
async function begin(l: Link, prev: string | null, restarts: number, heartbeat: () => Promise<void>): Promise<StepOutcome> {
  const file = await runFile(l.s, l.run);
  const state = { ...(await l.driver.begin(l.s, l.target.plain, file, deliveryContext(l.run), l.opts)), ...(restarts ? { restarts } : {}) };
  try {
    await heartbeat();
    await record(l, prev, state);
  } catch (err) {
    // Another worker recorded its own begin first: this upload is nobody's.
    await l.driver.abort(l.s, l.target.plain, state, l.opts).catch(() => {});
    throw err;
  }
  return { next: 1 };
}

/** One link at `position` (see the file comment). */
async function advance(l: Link, position: number, heartbeat: () => Promise<void>): Promise<StepOutcome> {
  const prev = l.row.upload_state;
  if (position === 0) {
    // Begun by an earlier try whose hand-over to the next link was lost: go on from there.
    if (prev !== null) return { next: 1 };
    return begin(l, null, 0, heartbeat);
  }
  if (prev === null) return { next: 0 }; // no upload recorded (a state lost by hand?): begin it
  const state = JSON.parse(prev) as UploadState;
  try {
    const parts = partCount(state.size, state.part_size);
    if (position <= parts) {
      const range = partRange(state, position);
      // Sent by an earlier try that crashed before the chain moved on.
      if (state.sent === range.offset + range.length) return { next: position + 1 };
      if (state.sent !== range.offset) throw new UploadRestart(`part ${position} is due but ${state.sent} bytes are recorded as sent`);
      const bytes = await readPart(l.s, l.run, state, position);
      const next = await l.driver.putPart(l.s, l.target.plain, state, position, bytes, l.opts);
      await heartbeat();
      await record(l, prev, next);
      return { next: position + 1 };
    }
    if (state.sent !== state.size) throw new UploadRestart(`${state.sent} of ${state.size} bytes are recorded as sent at complete`);
    const { location } = await l.driver.complete(l.s, l.target.plain, state, l.opts);
    if (!(await recordDelivered(l.s.db, l.row.id, prev, location, l.s.clock.seconds()))) {
      throw new LeaseLost(`delivery of run ${l.run.id} moved on in another worker`);
    }
    return { done: true };
  } catch (err) {
    if (!(err instanceof UploadRestart)) throw err;
    // The copy at the target is not what the state says (see UploadRestart): start over.
    const restarts = (state.restarts ?? 0) + 1;
    if (restarts > MAX_RESTARTS) {
      throw new TargetError("refused", `the upload started over ${MAX_RESTARTS} times and its copy at the target still did not match what was sent (${err.message})`);
    }
    console.warn(JSON.stringify({ delivery: l.run.id, restart: restarts, reason: err.message }));
    // The new upload is recorded before the old one is dropped: a begin that fails (and is
    // retried) leaves the old state in place, to be found wrong and restarted again.
    const outcome = await begin(l, prev, restarts, heartbeat);
    await l.driver.abort(l.s, l.target.plain, state, l.opts).catch(() => {});
    return outcome;
  }
}

/** Drops the upload a row recorded, if any; best effort (a failed abort leaves what a target's own expiry cleans). */
export async function abortRecorded(s: Services, row: DeliveryRow | undefined, run: RunRow, opts: DeliveryJobOptions = {}): Promise<void> {
  if (!row?.upload_state) return;
  try {
    const sealed = rowTarget(row, run);
    if (!sealed) return;
    const target = await resolveTarget(s, sealed);
    await (opts.drivers ?? driverFor)(target.plain).abort(s, target.plain, JSON.parse(row.upload_state) as UploadState, opts.driver);
  } catch (err) {
    console.warn(JSON.stringify({ delivery: run.id, abort_failed: message(err) }));
  }
}

/** The `delivery` ChainJob; `opts` is for tests (tight timeouts, wrapped drivers). */
export function deliveryJob(opts: DeliveryJobOptions = {}): ChainJob {
  return {
    async step({ services: s, chain, heartbeat }) {
      const run = await getRun(s.db, chain.tenant_id, chain.subject_id);
      if (!run) return { failed: `run ${chain.subject_id} no longer exists` };
      let row = await getDelivery(s.db, chain.tenant_id, run.id);
      if (row?.status === "delivered") return { done: true };
      const ids = { id: row?.id ?? newId("dlv"), tenantId: run.tenant_id, runId: run.id };

      if (!row) {
        if (run.status === "pending" || run.status === "processing") {
          // Started before the run is marked finished (so a crash between cannot lose it):
          // the chain retries this shortly.
          throw new Error(`run ${run.id} is ${run.status}; its delivery waits until it is finished`);
        }
        const sealed = snapshotTarget(run);
        if (!sealed) return { done: true }; // a download target: nothing to push
        const type = String(sealed.type);
        if (run.status !== "finished") {
          const reason = `run ${run.id} ${run.status}; there is no file to deliver`;
          await recordFailed(s.db, { ...ids, targetType: type, target: JSON.stringify(sealed) }, reason, s.clock.seconds(), false);
          return { failed: reason };
        }
        await insertDelivery(s.db, { ...ids, targetType: type, target: JSON.stringify(sealed), now: s.clock.seconds() });
        row = await getDelivery(s.db, chain.tenant_id, run.id);
        if (!row) throw new Error(`delivery row of run ${run.id} vanished`);
      }
      if (row.status === "failed") return { failed: row.error ?? "failed" };

      let target: ResolvedTarget | undefined;
      const prev = row.upload_state;
      try {
        const sealed = rowTarget(row, run);
        if (!sealed) return { done: true };
        target = await resolveTarget(s, sealed);
        const driverOpts: DeliveryOptions = { ...opts.driver, heartbeat };
        const link: Link = { s, run, row, target, driver: (opts.drivers ?? driverFor)(target.plain), opts: driverOpts };
        return await advance(link, chain.position, heartbeat);
      } catch (err) {
        if (err instanceof LeaseLost) throw err;
        if (err instanceof TargetError && !err.retryable) {
          // The customer must change something: no retry will help. Drop what was sent.
          if (target) await abortRecorded(s, await getDelivery(s.db, chain.tenant_id, run.id), run, opts);
          await recordFailed(s.db, { ...ids, targetType: row.target_type, target: row.target }, err.message, s.clock.seconds(), true);
          console.warn(JSON.stringify({ delivery: run.id, failed: err.kind, error: err.message }));
          return { failed: err.message };
        }
        // Transient: shown as retrying with its reason; the chain retries with backoff.
        await recordRetrying(s.db, row.id, prev, message(err), s.clock.seconds()).catch(() => {});
        throw err;
      }
    },

    /** The chain gave up (MAX_ATTEMPTS transient failures, or a dead letter): the delivery failed. */
    async giveUp(s: Services, chain: ChainRow, reason: string) {
      const run = await getRun(s.db, chain.tenant_id, chain.subject_id);
      if (!run) return;
      const row = await getDelivery(s.db, chain.tenant_id, run.id);
      const sealed = row?.target ?? snapshotTarget(run);
      if (!row && !sealed) return; // a download target
      await recordFailed(
        s.db,
        { id: row?.id ?? newId("dlv"), tenantId: run.tenant_id, runId: run.id, targetType: row?.target_type ?? String((sealed as { type?: string }).type), target: row?.target ?? JSON.stringify(sealed) },
        reason.slice(0, 1000),
        s.clock.seconds(),
        false,
      );
      await abortRecorded(s, row, run, opts);
    },
  };
}
