import { type ChainJob, LeaseLost, type StepContext, type StepOutcome, startChain, yieldToRuntime } from "../chain";
import { manifestKey } from "./keys";
import {
  claimUploadId,
  failRunStatement,
  finishRunStatement,
  getRun,
  latestCheckpoint,
  markProcessing,
  partsOf,
  recordStep,
  setRetryError,
  setRunFile,
  setTotalRows,
} from "../db/runs";
import type { CheckpointRow, RunRow } from "../db/schema";
import { getTenant } from "../db/tenants";
import { shardAt } from "../db/tenant-moves";
import { countExportRows, readExportChunk } from "../db/shards";
import type { ExportBody } from "../exports/definition";
import { defaultEngine, type ExportEngine } from "../exports/engine";
import { customFieldsOf } from "../tenants/custom-fields";
import { encryptObject } from "../exports/post/encrypt";
import { type RunOptions, type StepState, step as stepBytes } from "../exports/step";
import type { Compressor, Cursor, ExportCompiler, Formatter, Row } from "../exports/types";
import { isoSeconds } from "../lib/time";
import type { Services } from "../services";
import { readSnapshot } from "./snapshot";
import { runEvent, type RunEvent } from "./webhook";

/**
 * The export run lifecycle: pending -> processing -> finished | failed, driven by the
 * `export_run` chain (src/chain/). Each link produces up to `steps_per_message` checkpoints; a
 * step reads keyset-paginated chunks from the tenant's shard, turns them into file bytes (the
 * pure src/exports/step.ts), uploads every full part of exactly `part_size` bytes, keeps the
 * remainder in a temporary R2 object (never in the message: a queue message is at most 128 KB,
 * https://developers.cloudflare.com/queues/platform/limits/), and records cursor, parts, rows,
 * bytes and formatter/compressor/hash state in one D1 batch. Steps are pipelined: step n+1 reads
 * and formats while step n uploads and records (`advance`, at most one in flight), which hides
 * the upload behind the reads when R2 and D1 answer over the network.
 *
 * Where a step ends depends only on the data and the run's options, so a step redone after a
 * crash produces the same bytes. A lost link (killed worker, dropped message) is resent by the
 * chain's sweep once its lease ran out; a link that throws is retried with backoff, and after
 * the chain's attempts the run fails with the last error (giveUp).
 */

/** A failure that retrying cannot fix (bad definition, query the shard refuses): the run fails at once. */
export class ExportFailure extends Error {}

/** How often a working link extends its lease (LEASE_SECONDS in src/chain/ is 60 s). */
const HEARTBEAT_EVERY_MS = 10_000;

/**
 * Rows one link reads before it hands over to the next link (it ends after the step that reaches
 * this, or after `steps_per_message` steps). A link is one queue message, and the `ferry-jobs`
 * consumer takes one message per batch (wrangler.toml), so a link has a Worker invocation's
 * budget to itself:
 * - CPU time, 30 s per invocation by default (https://developers.cloudflare.com/workers/platform/limits/#cpu-time).
 *   A row costs a few microseconds (decoding D1's result, formatting, compressing, SHA-256;
 *   bench/formats measures 2-6 µs per row for the formatters alone), so 1,000,000 rows plus one
 *   step (at most `chunks_per_step` x `chunk_rows` = 500,000 rows by default) stays far inside it.
 * - D1 queries, 1000 per invocation (https://developers.cloudflare.com/d1/platform/limits/): a
 *   step makes at most `chunks_per_step` reads and ~8 other queries (checkpoint batch, heartbeats,
 *   chain), so 16 steps (the default `steps_per_message`, src/runs/create.ts) stay under 1000.
 */
export const LINK_ROWS = 1_000_000;

/** D1 rows are at most 100 KB per statement; larger state goes to R2. https://developers.cloudflare.com/d1/platform/limits/ */
const MAX_INLINE_STATE = 32 * 1024;

const tmpPrefix = (runId: string) => `tmp/runs/${runId}/`;
const carryKey = (runId: string, step: number) => `${tmpPrefix(runId)}carry-${step}`;
const stateKey = (runId: string, step: number) => `${tmpPrefix(runId)}state-${step}.json`;

/**
 * The bytes of the part being built. A link keeps two (RunCtx.bufs): a step formats into one
 * while the other is still being uploaded by the step before it (`commitStep`), and the
 * remainder of a step (the carry) is copied to the front of the other one for the next step.
 * Each holds at most one part plus one chunk's output and is reused by every other step; a new
 * buffer per step (6-12 MiB each, 10 of them in a 1M-row link) is what made the dev server's
 * memory grow with the rows (bench/README.md, "Export memory").
 */
class Bytes {
  private buf: Uint8Array;
  length = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }
  /** Room for `n` more bytes; grows by doubling, keeping what is held. */
  reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  append(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  view(from: number, to: number): Uint8Array {
    return this.buf.subarray(from, to);
  }
  clear(): void {
    this.length = 0;
  }
}

const PERMANENT_SQL = /SQLITE_ERROR|no such (table|column|function)|syntax error|SQLITE_MISMATCH/i;

function permanent<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new ExportFailure(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

interface RunCtx {
  s: Services;
  run: RunRow;
  /** the file's key in R2 before encryption (run.file_key is the .pgp one after it) */
  plainKey: string;
  fileName: string;
  contentType: string;
  opts: RunOptions;
  def: ExportBody;
  compiler: ExportCompiler;
  formatter: Formatter;
  compressor: Compressor;
  shard: D1Database;
  heartbeat: () => Promise<void>;
  /** The link's two part buffers (Bytes), made by the first steps that need them; steps take turns. */
  bufs: [Bytes | null, Bytes | null];
  /** The buffer the next step formats into (0 or 1). */
  turn: number;
}

/** The `export_run` chain job; tests pass an engine that breaks on purpose. */
export function exportRunJob(engine: ExportEngine = defaultEngine): ChainJob {
  return {
    step: (ctx) => stepRun(ctx, engine),
    giveUp: (s, chain, reason) => failRun(s, chain.tenant_id, chain.subject_id, `The export job kept failing and was given up: ${reason}`),
  };
}

async function stepRun(ctx: StepContext, engine: ExportEngine): Promise<StepOutcome> {
  const s = ctx.services;
  const run = await getRun(s.db, ctx.chain.tenant_id, ctx.chain.subject_id);
  // No run: the chain of a scheduled slot that another caller created first (src/runs/create.ts).
  if (!run) return { done: true };
  if (run.status === "finished") {
    await deleteTemp(s, run.id); // a link that died after marking the run finished
    return { done: true };
  }
  if (run.status === "failed") {
    await cleanUpFailed(s, run);
    return { failed: run.error ?? "the run failed" };
  }
  try {
    return await advance(ctx, run, engine);
  } catch (err) {
    if (err instanceof LeaseLost) throw err;
    if (err instanceof ExportFailure) {
      await failRun(s, run.tenant_id, run.id, err.message);
      return { failed: err.message };
    }
    // Kept while retrying so the runs API shows why a run is slow; cleared when it finishes.
    await setRetryError(s.db, run.id, `retrying after: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  }
}

async function advance(ctx: StepContext, run: RunRow, engine: ExportEngine): Promise<StepOutcome> {
  const s = ctx.services;
  const opts = JSON.parse(run.options ?? "null") as RunOptions | null;
  if (!opts) throw new ExportFailure("run has no options snapshot");
  // A heartbeat is a D1 write: at most one per HEARTBEAT_EVERY_MS, far inside the lease.
  let last = Number.NEGATIVE_INFINITY;
  const heartbeat = async () => {
    if (s.clock.now() - last < HEARTBEAT_EVERY_MS) return;
    last = s.clock.now();
    await ctx.heartbeat();
  };
  const rc = await runContext(s, run, opts, engine, heartbeat);
  const until = ctx.chain.position + opts.steps_per_message;
  /** The last checkpoint recorded. */
  let cp: CheckpointRow | null = (await latestCheckpoint(s.db, run.id)) ?? null;
  if (!cp?.done) await markProcessing(s.db, run.id, { file_name: rc.fileName, file_key: rc.plainKey, content_type: rc.contentType, now: s.clock.seconds() });
  const rowsAtStart = cp?.rows ?? 0;
  const linkEnds = (c: CheckpointRow) => c.done === 1 || c.step >= until || c.rows - rowsAtStart >= LINK_ROWS;
  // The count for progress (countRows never throws): started once the first step did not finish
  // the run (a run of one step never needs it), and read while the next step reads its rows.
  let counting: Promise<void> | null = null;
  // Pipelined: step n+1 reads and formats while step n's parts upload and its checkpoint is
  // recorded (`inflight`, at most one). `from` is the checkpoint the next step starts from: `cp`,
  // or the one `inflight` is recording; `held` its carry, in memory.
  let inflight: Promise<CheckpointRow | null> | null = null;
  let from = cp;
  let held: Uint8Array | null = null;
  /** Waits for the step in flight; false when another worker recorded that step first. */
  const settle = async (): Promise<boolean> => {
    if (!inflight) return true;
    const recorded = await inflight;
    inflight = null;
    // null: another worker recorded that step first; go on from whatever is recorded now.
    cp = recorded ?? (await latestCheckpoint(s.db, run.id)) ?? null;
    if (!recorded) {
      from = cp;
      held = null;
    }
    if (cp && !cp.done && rc.run.total_rows === null && !counting) counting = countRows(rc);
    return recorded !== null;
  };
  try {
    for (;;) {
      if (from && linkEnds(from)) await settle();
      if (!inflight) {
        if (cp?.done) {
          await counting;
          await finalize(rc, cp);
          return { done: true };
        }
        if (cp && linkEnds(cp)) return { next: cp.step };
      }
      const made = await makeStep(rc, from, (from?.step ?? 0) + 1, held);
      // The step before is recorded before this one is committed; if another worker recorded
      // it first, this one is dropped and the link goes on from what is recorded.
      if (!(await settle())) continue;
      if (!made) {
        // another worker moved the run on past `from` (its carry is gone)
        cp = (await latestCheckpoint(s.db, run.id)) ?? null;
        from = cp;
        held = null;
        continue;
      }
      inflight = commitStep(rc, from, made);
      // settle() awaits it; until then a failure is held, not reported as unhandled
      inflight.catch(() => {});
      from = made.cp;
      held = made.done ? null : made.rest;
      await heartbeat();
    }
  } finally {
    // A link that stops (an error, a lost lease) leaves no upload or count of its own running.
    if (inflight) await (inflight as Promise<unknown>).catch(() => {});
    await counting;
  }
}

async function runContext(s: Services, run: RunRow, opts: RunOptions, engine: ExportEngine, heartbeat: () => Promise<void>): Promise<RunCtx> {
  const def = permanent("reading the run's definition", () => readSnapshot(run));
  const watermark =
    run.watermark_after !== null || run.watermark_until !== null
      ? { ...(run.watermark_after !== null ? { after: run.watermark_after } : {}), ...(run.watermark_until !== null ? { until: run.watermark_until } : {}) }
      : undefined;
  // The tenant's custom fields as they are now: a field removed mid-run fails the run with the compiler's reason.
  const customFields = await customFieldsOf(s, run.tenant_id, def.model);
  // `now` is the run's creation time, so relative dates mean the same in every link.
  const compiler = permanent("compiling the export", () =>
    engine.compile(def, { tenantId: run.tenant_id, now: new Date(run.created_at * 1000), customFields, ...(watermark ? { watermark } : {}) }),
  );
  const formatter = permanent("setting up the formatter", () => engine.formatter(def, compiler.columns, customFields));
  const inner = `${def.name}.${formatter.extension}`;
  const compressor = permanent("setting up the compressor", () => engine.compressor(def, inner));
  const fileName = compressor.extension ? `${inner}.${compressor.extension}` : inner;
  const tenant = await getTenant(s.db, run.tenant_id);
  if (!tenant) throw new ExportFailure(`tenant ${run.tenant_id} no longer exists`);
  return {
    s,
    run,
    plainKey: `exports/${run.tenant_id}/${run.export_id}/${run.id}/${fileName}`,
    fileName,
    contentType: compressor.contentType ?? formatter.contentType,
    opts,
    def,
    compiler,
    formatter,
    compressor,
    // pinned: the shard the tenant was on when the run was made, across a move (src/tenants/moves.ts)
    shard: s.shards.db(await shardAt(s.db, tenant.id, tenant.shard, run.created_at)),
    heartbeat,
    bufs: [null, null],
    turn: 0,
  };
}

/** Total rows, for progress only; a failure here leaves progress unknown until the end. */
async function countRows(rc: RunCtx): Promise<void> {
  try {
    const n = await countExportRows(rc.shard, rc.compiler.count());
    await setTotalRows(rc.s.db, rc.run.id, n);
    rc.run.total_rows = n;
  } catch (err) {
    console.warn(JSON.stringify({ run: rc.run.id, count_failed: String(err) }));
  }
}

async function loadState(rc: RunCtx, cp: CheckpointRow): Promise<StepState> {
  if (cp.state !== null) return JSON.parse(cp.state) as StepState;
  if (!cp.state_key) throw new Error(`checkpoint ${cp.step} has no state`);
  const obj = await rc.s.files.get(cp.state_key);
  if (!obj) throw new Error(`state object ${cp.state_key} is missing`);
  return (await obj.json()) as StepState;
}

async function readChunk(rc: RunCtx, cursor: Cursor): Promise<Row[]> {
  const q = permanent("building the chunk query", () => rc.compiler.chunk(cursor, rc.opts.chunk_rows));
  try {
    return await readExportChunk(rc.shard, q);
  } catch (err) {
    const m = err instanceof Error ? err.message : String(err);
    if (PERMANENT_SQL.test(m)) throw new ExportFailure(`reading rows: ${m}`);
    throw err;
  }
}

/** A step read and formatted, not yet uploaded nor recorded. */
interface MadeStep {
  /** Its checkpoint, as `commitStep` records it (`last_part` and `carry_bytes` of a done step are set there). */
  cp: CheckpointRow;
  /** The buffer holding its bytes: `full` parts of `part_size`, then `rest`. */
  buf: Bytes;
  full: number;
  rest: Uint8Array;
  done: boolean;
}

/**
 * Reads and formats step `stepNo` from checkpoint `prev` into the link's next buffer. `held` is
 * the carry of `prev` when this link made that step (otherwise it is read from R2). Returns null
 * when the carry is gone because another worker recorded `stepNo` first.
 */
async function makeStep(rc: RunCtx, prev: CheckpointRow | null, stepNo: number, held: Uint8Array | null): Promise<MadeStep | null> {
  const { s, run, opts } = rc;
  const partSize = opts.part_size;
  let state: StepState | null = prev ? await loadState(rc, prev) : null;
  let bytes = prev?.bytes ?? 0;
  let rows = prev?.rows ?? 0;
  let cursor: Cursor = prev?.cursor ? (JSON.parse(prev.cursor) as Cursor) : null;

  const turn = rc.turn;
  rc.turn = 1 - turn;
  const buf = rc.bufs[turn] ?? new Bytes(partSize + (prev?.carry_bytes ?? 0) + 1024 * 1024);
  rc.bufs[turn] = buf;
  buf.clear();
  if (held) buf.append(held);
  else if (prev && prev.carry_bytes > 0) {
    // The carry comes from R2 only when this link did not make the step before (the first step of a link).
    const obj = await s.files.get(carryKey(run.id, prev.step));
    if (!obj) {
      const latest = await latestCheckpoint(s.db, run.id);
      if (latest && latest.step >= stepNo) return null;
      throw new Error(`carry of step ${prev.step} is missing`);
    }
    buf.append(new Uint8Array(await obj.arrayBuffer()));
  }
  const pipeline = { formatter: rc.formatter, compressor: rc.compressor };
  let sha: string | null = null;
  const feed = (input: Row[] | "end") => {
    const out = permanent("formatting", () => stepBytes(pipeline, state, input));
    state = out.state;
    sha = out.sha256;
    buf.append(out.bytes);
    bytes += out.bytes.length;
  };

  let done = false;
  for (let chunks = 0; !done && buf.length < partSize && chunks < opts.chunks_per_step; chunks++) {
    const list = await readChunk(rc, cursor);
    // Other requests get the runtime once per chunk, between its read and its formatting, the
    // link's two long pieces of work (yieldToRuntime).
    await yieldToRuntime();
    feed(list);
    if (list.length > 0) {
      cursor = rc.compiler.nextCursor(list[list.length - 1] as Row);
      rows += list.length;
    }
    if (list.length < opts.chunk_rows) {
      feed("end");
      done = true;
    }
    await rc.heartbeat();
  }

  // Parts: every one exactly part_size, the last may be shorter.
  // https://developers.cloudflare.com/r2/objects/multipart-objects/
  const full = Math.floor(buf.length / partSize);
  const rest = buf.view(full * partSize, buf.length);
  const cp: CheckpointRow = {
    run_id: run.id,
    step: stepNo,
    cursor: cursor ? JSON.stringify(cursor) : null,
    rows,
    bytes,
    last_part: (prev?.last_part ?? 0) + full,
    carry_bytes: done ? 0 : rest.length,
    state: JSON.stringify(state),
    state_key: null,
    done: done ? 1 : 0,
    sha256: done ? sha : null,
    created_at: s.clock.seconds(),
  };
  return { cp, buf, full, rest, done };
}

/**
 * Uploads a made step's full parts (and, when it is the last, the rest), stores its carry and
 * state, and records its checkpoint. Returns null when another worker recorded that step first.
 * The step's buffer is not changed until this resolved (the next step formats into the other).
 */
async function commitStep(rc: RunCtx, prev: CheckpointRow | null, made: MadeStep): Promise<CheckpointRow | null> {
  const { s, run, opts } = rc;
  const { buf, full, rest, done } = made;
  // A copy: made.cp is what the next step starts from, with its state inline.
  const cp: CheckpointRow = { ...made.cp };
  const partSize = opts.part_size;
  const parts: { n: number; etag: string; size: number }[] = [];
  let lastPart = prev?.last_part ?? 0;
  let upload: R2MultipartUpload | null = null;
  if (full > 0 || (done && run.upload_id)) upload = await ensureUpload(rc);
  for (let i = 0; i < full; i++) {
    lastPart++;
    const p = await (upload as R2MultipartUpload).uploadPart(lastPart, buf.view(i * partSize, (i + 1) * partSize));
    parts.push({ n: lastPart, etag: p.etag, size: partSize });
    await rc.heartbeat();
  }
  if (done) {
    if (upload) {
      if (rest.length > 0) {
        lastPart++;
        const p = await upload.uploadPart(lastPart, rest);
        parts.push({ n: lastPart, etag: p.etag, size: rest.length });
      }
    } else {
      await s.files.put(rc.plainKey, rest, { httpMetadata: { contentType: rc.contentType } });
    }
    cp.last_part = lastPart;
  } else if (rest.length > 0) {
    await s.files.put(carryKey(run.id, cp.step), rest);
  }

  if ((cp.state as string).length > MAX_INLINE_STATE) {
    cp.state_key = stateKey(run.id, cp.step);
    await s.files.put(cp.state_key, cp.state as string);
    cp.state = null;
  }
  const total = run.total_rows;
  const progress = done ? 0.99 : total ? Math.min(0.99, cp.rows / total) : 0;
  if (!(await recordStep(s.db, cp, parts, progress))) return null;
  if (prev && prev.carry_bytes > 0) await s.files.delete(carryKey(run.id, prev.step)).catch(() => {});
  return cp;
}

/** The run's multipart upload, created once; a concurrent creator's duplicate is aborted. */
async function ensureUpload(rc: RunCtx): Promise<R2MultipartUpload> {
  const { s, run } = rc;
  if (run.upload_id) return s.files.resumeMultipartUpload(rc.plainKey, run.upload_id);
  const created = await s.files.createMultipartUpload(rc.plainKey, { httpMetadata: { contentType: rc.contentType } });
  if (!(await claimUploadId(s.db, run.id, created.uploadId))) {
    await created.abort().catch(() => {});
    const row = await getRun(s.db, run.tenant_id, run.id);
    if (!row?.upload_id) throw new Error("multipart upload id vanished");
    run.upload_id = row.upload_id;
    return s.files.resumeMultipartUpload(rc.plainKey, row.upload_id);
  }
  run.upload_id = created.uploadId;
  return created;
}

/**
 * Completes the upload, encrypts, writes the manifest, then in ONE batch marks the run
 * finished and starts its delivery (push targets), its webhook and its email: a worker that dies after
 * that batch cannot lose either, the chains' sweep resends them. Safe to repeat.
 */
async function finalize(rc: RunCtx, cp: CheckpointRow): Promise<void> {
  const { s, run, def } = rc;
  let key = rc.plainKey;
  let file = { bytes: cp.bytes, sha256: cp.sha256, name: rc.fileName, contentType: rc.contentType };
  // An encrypted run whose encryption already happened (a repeated last link) keeps its .pgp file.
  const alreadyEncrypted = def.encryption !== undefined && run.file_key === `${rc.plainKey}.pgp`;
  if (alreadyEncrypted) {
    key = run.file_key as string;
    file = { bytes: run.bytes, sha256: run.sha256, name: run.file_name ?? `${rc.fileName}.pgp`, contentType: run.content_type ?? "application/pgp-encrypted" };
  }
  if (run.upload_id && !alreadyEncrypted) {
    const parts = await partsOf(s.db, run.id, cp.last_part);
    try {
      await s.files.resumeMultipartUpload(key, run.upload_id).complete(parts.map((p) => ({ partNumber: p.part_number, etag: p.etag })));
    } catch (err) {
      // Completed by an earlier link that died before marking the run finished.
      const head = await s.files.head(key);
      if (!head || head.size !== cp.bytes) throw err;
    }
  }
  if (def.encryption && !alreadyEncrypted) {
    // Encrypted to the customer's key, streamed into a new object; then only the .pgp file is kept.
    // One invocation streams the whole file: CPU time grows with the file size
    // (https://developers.cloudflare.com/workers/platform/limits/#cpu-time).
    const encKey = `${key}.pgp`;
    const enc = await encryptObject(s.files, key, encKey, def.encryption.public_key);
    file = { bytes: enc.bytes, sha256: enc.sha256, name: `${rc.fileName}.pgp`, contentType: "application/pgp-encrypted" };
    await setRunFile(s.db, run.id, { file_key: encKey, file_name: file.name, content_type: file.contentType, bytes: file.bytes, sha256: file.sha256 });
    await s.files.delete(key);
    key = encKey;
  }
  const finishedAt = s.clock.seconds();
  const expiresAt = finishedAt + def.retention_days * 86_400;
  const manifest = {
    run_id: run.id,
    export_id: run.export_id,
    name: def.name,
    files: [{ key, name: file.name, content_type: file.contentType, rows: cp.rows, bytes: file.bytes, sha256: file.sha256 }],
    rows: cp.rows,
    bytes: file.bytes,
    sha256: file.sha256,
    created_at: isoSeconds(run.created_at),
    finished_at: isoSeconds(finishedAt),
    expires_at: isoSeconds(expiresAt),
  };
  await s.files.put(manifestKey(run), JSON.stringify(manifest, null, 2), { httpMetadata: { contentType: "application/json" } });

  const followUps = [
    // Push targets (S3, FTP, ...): the delivery job (src/deliveries/) is keyed by the run id.
    ...(def.target.type !== "download" ? [startChain(s, { kind: "delivery", tenantId: run.tenant_id, subjectId: run.id })] : []),
    ...notification(s, def, run, "export.run.finished"),
  ];
  await s.db.batch([
    finishRunStatement(s.db, run.id, { rows: cp.rows, bytes: file.bytes, sha256: file.sha256, finished_at: finishedAt, expires_at: expiresAt }),
    ...followUps.map((c) => c.statement),
  ]);
  for (const c of followUps) await c.kick();
  await deleteTemp(s, run.id);
}

/** The notification chains of a run event the definition asks for: its webhook, its email (0 to 2). */
function notification(s: Services, def: ExportBody | null, run: Pick<RunRow, "id" | "tenant_id">, event: RunEvent) {
  const n = def?.notification;
  const subjectId = runEvent(run.id, event);
  return [
    ...(n?.webhook_url ? [startChain(s, { kind: "webhook", tenantId: run.tenant_id, subjectId })] : []),
    ...(n?.email ? [startChain(s, { kind: "email", tenantId: run.tenant_id, subjectId })] : []),
  ];
}

async function deleteTemp(s: Services, runId: string): Promise<void> {
  let cursor: string | undefined;
  do {
    const list = await s.files.list({ prefix: tmpPrefix(runId), ...(cursor ? { cursor } : {}) });
    if (list.objects.length) await s.files.delete(list.objects.map((o) => o.key));
    cursor = list.truncated ? list.cursor : undefined;
  } while (cursor);
}

/** A failed run keeps nothing: its multipart upload is aborted, its partial file and temp objects deleted. */
async function cleanUpFailed(s: Services, run: RunRow): Promise<void> {
  if (run.upload_id && run.file_key) {
    await s.files
      .resumeMultipartUpload(run.file_key, run.upload_id)
      .abort()
      .catch((err) => console.warn(JSON.stringify({ run: run.id, abort_failed: String(err) })));
  }
  if (run.file_key) await s.files.delete(run.file_key);
  await deleteTemp(s, run.id);
}

/**
 * Marks a run failed with a reason a person can act on and, in the same batch, starts its
 * `export.run.failed` webhook; then aborts its upload and removes its temporary objects.
 * Does nothing to a run that already finished or failed.
 */
export async function failRun(s: Services, tenantId: string, runId: string, reason: string): Promise<void> {
  const run = await getRun(s.db, tenantId, runId);
  if (!run || (run.status !== "pending" && run.status !== "processing")) return;
  let def: ExportBody | null = null;
  try {
    def = readSnapshot(run);
  } catch {
    // an unreadable snapshot names no webhook; the run still fails with its reason
  }
  const followUps = notification(s, def, run, "export.run.failed");
  const [res] = await s.db.batch([failRunStatement(s.db, run.id, reason, s.clock.seconds()), ...followUps.map((c) => c.statement)]);
  if ((res as D1Result).meta.changes === 0) return;
  await cleanUpFailed(s, run);
  for (const c of followUps) await c.kick();
}
