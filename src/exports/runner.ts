import { startChainNow } from "../chain";
import { nowSeconds } from "../db/client";
import type { Env } from "../env";
import { createServices } from "../services";
import type { JobMessage } from "../jobs/messages";
import { Sha256, type Sha256State } from "../lib/sha256";
import { type RunOptions, type RunRow, chunkMessage, isoSeconds, parseDefinition } from "../services/runs/runs";
import { tenantData } from "../db/shards";
import { queueRunNotification } from "./notify";
import { encryptObject } from "./post/encrypt";
import type { CompileContext } from "./compiler";
import type { ExportBody } from "./definition";
import type { Compressor, Cursor, ExportCompiler, Formatter, FormatterState, Row } from "./types";

/**
 * The run chain (DESIGN.md, Chunked generation). Each `export_chunk` message produces
 * up to `steps_per_message` checkpoints; a step reads keyset-paginated chunks, formats
 * and compresses them, uploads every full part of exactly `part_size` bytes, keeps the
 * remainder in a temporary R2 object (never in the message: a queue message is at most
 * 128 KB, https://developers.cloudflare.com/queues/platform/limits/), and records
 * cursor, parts, rows, bytes and formatter/compressor/hash state in one D1 batch.
 *
 * Where a step ends depends only on the data and the run's options, so a step redone
 * after a crash produces the same bytes. A message whose checkpoints are all recorded
 * does nothing (beyond making sure the next message exists).
 */

/** The three parts the runner drives; the real ones are wired in exports/engine.ts. */
export interface ExportEngine {
  compile(def: ExportBody, ctx: CompileContext): ExportCompiler;
  formatter(def: ExportBody, columns: string[]): Formatter;
  compressor(def: ExportBody, innerFileName: string): Compressor;
}

export type ExportChunkMessage = Extract<JobMessage, { type: "export_chunk" }>;

/** A failure that retrying cannot fix (bad definition, query the shard refuses): the run fails at once. */
export class ExportFailure extends Error {}

interface CheckpointRow {
  run_id: string;
  step: number;
  cursor: string | null;
  rows: number;
  bytes: number;
  last_part: number;
  carry_bytes: number;
  state: string | null;
  state_key: string | null;
  done: number;
  sha256: string | null;
}

interface StepState {
  formatter: FormatterState;
  compressor: FormatterState;
  hash: Sha256State | null;
}

/** D1 rows are at most 100 KB per statement; larger state goes to R2. https://developers.cloudflare.com/d1/platform/limits/ */
const MAX_INLINE_STATE = 32 * 1024;

const tmpPrefix = (runId: string) => `tmp/runs/${runId}/`;
const carryKey = (runId: string, step: number) => `${tmpPrefix(runId)}carry-${step}`;
const stateKey = (runId: string, step: number) => `${tmpPrefix(runId)}state-${step}.json`;
export const manifestKey = (run: Pick<RunRow, "tenant_id" | "export_id" | "id">) =>
  `exports/${run.tenant_id}/${run.export_id}/${run.id}/manifest.json`;

/** Test-only crash hook: `FERRY_FAULT=point` or `point@step` throws there. */
function fault(env: Env, point: string, step?: number): void {
  const f = env.FERRY_FAULT;
  if (!f) return;
  if (f === point || (step !== undefined && f === `${point}@${step}`)) throw new Error(`injected fault at ${f}`);
}

/** A growable byte buffer; holds at most one part plus one chunk's output. */
class Bytes {
  private buf: Uint8Array;
  length = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }
  append(b: Uint8Array): void {
    if (this.length + b.length > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + b.length));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  view(from: number, to: number): Uint8Array {
    return this.buf.subarray(from, to);
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
  env: Env;
  run: RunRow;
  opts: RunOptions;
  def: ExportBody;
  compiler: ExportCompiler;
  formatter: Formatter;
  compressor: Compressor;
  db: D1Database;
}

async function loadRun(env: Env, runId: string): Promise<RunRow | null> {
  return env.DB.prepare("SELECT * FROM export_runs WHERE id = ?1").bind(runId).first<RunRow>();
}

async function latestCheckpoint(env: Env, runId: string): Promise<CheckpointRow | null> {
  return env.DB.prepare("SELECT * FROM export_run_checkpoints WHERE run_id = ?1 ORDER BY step DESC LIMIT 1")
    .bind(runId)
    .first<CheckpointRow>();
}

/** Handles one `export_chunk` message. Throws on transient failure (the queue retries). */
export async function runExportChunk(env: Env, msg: ExportChunkMessage, engine: ExportEngine): Promise<void> {
  const run = await loadRun(env, msg.run_id);
  if (!run || run.status === "finished" || run.status === "failed") return;
  try {
    await advance(env, run, msg, engine);
  } catch (err) {
    if (err instanceof ExportFailure) {
      await failRun(env, run.id, err.message);
      return;
    }
    // Kept while retrying so the runs API shows why a run is slow; cleared when it finishes.
    await env.DB.prepare("UPDATE export_runs SET error = ?2 WHERE id = ?1 AND status IN ('pending', 'processing')")
      .bind(run.id, `retrying after: ${err instanceof Error ? err.message : String(err)}`.slice(0, 1000))
      .run();
    throw err;
  }
}

async function advance(env: Env, run: RunRow, msg: ExportChunkMessage, engine: ExportEngine): Promise<void> {
  const opts = JSON.parse(run.options ?? "null") as RunOptions | null;
  if (!opts) throw new ExportFailure("run has no options snapshot");
  const lastStep = msg.step + opts.steps_per_message - 1;
  let cp = await latestCheckpoint(env, run.id);
  const ctx = await prepare(env, run, opts, engine);
  if (cp?.done) return finalize(ctx, cp);
  if (cp && cp.step >= lastStep) {
    // Redelivered after its checkpoints were recorded. If the crash came before the
    // hand-over, send the next message (the next message is itself idempotent).
    if (cp.step === lastStep) await env.JOBS.send(chunkMessage(run.id, lastStep + 1));
    return;
  }
  if ((cp?.step ?? 0) < msg.step - 1) throw new Error(`run ${run.id}: message for step ${msg.step} ahead of checkpoint ${cp?.step ?? 0}`);

  const started = nowSeconds();
  await env.DB.prepare(
    `UPDATE export_runs SET status = 'processing', started_at = COALESCE(started_at, ?2), file_name = ?3, file_key = ?4,
       content_type = ?5 WHERE id = ?1 AND status IN ('pending', 'processing')`,
  )
    .bind(run.id, started, ctx.run.file_name, ctx.run.file_key, ctx.run.content_type)
    .run();
  if (!cp && run.total_rows === null) await countRows(ctx);

  for (;;) {
    const step = (cp?.step ?? 0) + 1;
    const next = await runStep(ctx, cp, step);
    if (!next) return; // another delivery of this message recorded the step first
    cp = next;
    fault(env, "after_checkpoint", step);
    if (cp.done) return finalize(ctx, cp);
    if (cp.step >= lastStep) {
      await env.JOBS.send(chunkMessage(run.id, lastStep + 1));
      return;
    }
  }
}

async function prepare(env: Env, run: RunRow, opts: RunOptions, engine: ExportEngine): Promise<RunCtx> {
  const def = parseDefinition(run);
  const watermark =
    run.watermark_after !== null || run.watermark_until !== null
      ? { ...(run.watermark_after !== null ? { after: run.watermark_after } : {}), ...(run.watermark_until !== null ? { until: run.watermark_until } : {}) }
      : undefined;
  // `now` is the run's creation time, so relative dates mean the same in every message.
  const compiler = permanent("compiling the export", () =>
    engine.compile(def, { tenantId: run.tenant_id, now: new Date(run.created_at * 1000), ...(watermark ? { watermark } : {}) }),
  );
  const formatter = permanent("setting up the formatter", () => engine.formatter(def, compiler.columns));
  const inner = `${def.name}.${formatter.extension}`;
  const compressor = permanent("setting up the compressor", () => engine.compressor(def, inner));
  const fileName = compressor.extension ? `${inner}.${compressor.extension}` : inner;
  const fileKey = `exports/${run.tenant_id}/${run.export_id}/${run.id}/${fileName}`;
  return {
    env,
    run: { ...run, file_name: fileName, file_key: fileKey, content_type: compressor.contentType ?? formatter.contentType },
    opts,
    def,
    compiler,
    formatter,
    compressor,
    db: await tenantShard(env, run.tenant_id),
  };
}

async function tenantShard(env: Env, tenantId: string): Promise<D1Database> {
  const t = await env.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(tenantId).first<{ shard: number }>();
  if (!t) throw new ExportFailure(`tenant ${tenantId} no longer exists`);
  return tenantData(env, { tenantId, shard: t.shard }).db;
}

/** Total rows, for progress only; a failure here leaves progress unknown until the end. */
async function countRows(ctx: RunCtx): Promise<void> {
  try {
    const q = ctx.compiler.chunk(null, 2_147_483_647);
    const r = await ctx.db.prepare(`SELECT count(*) AS n FROM (${q.sql})`).bind(...q.params).first<{ n: number }>();
    if (r) await ctx.env.DB.prepare("UPDATE export_runs SET total_rows = ?2 WHERE id = ?1").bind(ctx.run.id, r.n).run();
    ctx.run.total_rows = r?.n ?? null;
  } catch (err) {
    console.warn(JSON.stringify({ run: ctx.run.id, count_failed: String(err) }));
  }
}

async function loadState(ctx: RunCtx, cp: CheckpointRow): Promise<StepState> {
  if (cp.state !== null) return JSON.parse(cp.state) as StepState;
  if (!cp.state_key) throw new Error(`checkpoint ${cp.step} has no state`);
  const obj = await ctx.env.FILES.get(cp.state_key);
  if (!obj) throw new Error(`state object ${cp.state_key} is missing`);
  return (await obj.json()) as StepState;
}

async function readChunk(ctx: RunCtx, cursor: Cursor): Promise<Row[]> {
  const q = permanent("building the chunk query", () => ctx.compiler.chunk(cursor, ctx.opts.chunk_rows));
  try {
    const { results } = await ctx.db.prepare(q.sql).bind(...q.params).all<Row>();
    return results;
  } catch (err) {
    const m = err instanceof Error ? err.message : String(err);
    if (PERMANENT_SQL.test(m)) throw new ExportFailure(`reading rows: ${m}`);
    throw err;
  }
}

/**
 * One step: from checkpoint `prev` to checkpoint `step`. Returns null when another
 * delivery recorded `step` first.
 */
async function runStep(ctx: RunCtx, prev: CheckpointRow | null, step: number): Promise<CheckpointRow | null> {
  const { env, run, opts, formatter, compressor } = ctx;
  const partSize = opts.part_size;
  const state: StepState = prev ? await loadState(ctx, prev) : { formatter: {}, compressor: {}, hash: null };
  const hash = new Sha256(state.hash ?? undefined);
  const buf = new Bytes(partSize + (prev?.carry_bytes ?? 0) + 1024 * 1024);
  let bytes = prev?.bytes ?? 0;
  let rows = prev?.rows ?? 0;
  let cursor: Cursor = prev?.cursor ? (JSON.parse(prev.cursor) as Cursor) : null;

  if (prev && prev.carry_bytes > 0) {
    const obj = await env.FILES.get(carryKey(run.id, prev.step));
    if (!obj) {
      const latest = await latestCheckpoint(env, run.id);
      if (latest && latest.step >= step) return null;
      throw new Error(`carry of step ${prev.step} is missing`);
    }
    buf.append(new Uint8Array(await obj.arrayBuffer()));
  }
  const emit = (b: Uint8Array) => {
    if (b.length === 0) return;
    buf.append(b);
    hash.update(b);
    bytes += b.length;
  };
  const fs = state.formatter;
  const cs = state.compressor;
  if (!prev) {
    emit(permanent("compressing", () => compressor.start(cs)));
    emit(permanent("formatting", () => compressor.push(formatter.start(fs), cs)));
  }

  let done = false;
  for (let chunks = 0; !done && buf.length < partSize && chunks < opts.chunks_per_step; chunks++) {
    const list = await readChunk(ctx, cursor);
    if (list.length > 0) {
      emit(permanent("formatting", () => compressor.push(formatter.rows(list, fs), cs)));
      cursor = ctx.compiler.nextCursor(list[list.length - 1] as Row);
      rows += list.length;
    }
    if (list.length < opts.chunk_rows) {
      emit(permanent("formatting", () => compressor.push(formatter.finish(fs), cs)));
      emit(permanent("compressing", () => compressor.finish(cs)));
      done = true;
    }
    fault(env, "after_chunk", step);
  }

  // Parts: every one exactly part_size, the last may be shorter.
  // https://developers.cloudflare.com/r2/objects/multipart-objects/
  const full = Math.floor(buf.length / partSize);
  const rest = buf.view(full * partSize, buf.length);
  const parts: { n: number; etag: string; size: number }[] = [];
  let lastPart = prev?.last_part ?? 0;
  let upload: R2MultipartUpload | null = null;
  if (full > 0 || (done && run.upload_id)) upload = await ensureUpload(ctx);
  for (let i = 0; i < full; i++) {
    lastPart++;
    const p = await (upload as R2MultipartUpload).uploadPart(lastPart, buf.view(i * partSize, (i + 1) * partSize));
    parts.push({ n: lastPart, etag: p.etag, size: partSize });
    fault(env, "after_part_upload", step);
  }
  let carry = 0;
  if (done) {
    if (upload) {
      if (rest.length > 0) {
        lastPart++;
        const p = await upload.uploadPart(lastPart, rest);
        parts.push({ n: lastPart, etag: p.etag, size: rest.length });
        fault(env, "after_part_upload", step);
      }
    } else {
      await env.FILES.put(run.file_key as string, rest, { httpMetadata: { contentType: run.content_type ?? undefined } });
    }
  } else if (rest.length > 0) {
    await env.FILES.put(carryKey(run.id, step), rest);
    carry = rest.length;
    fault(env, "after_carry_write", step);
  }

  const sha = done ? hash.digestHex() : null;
  const nextState: StepState = { formatter: fs, compressor: cs, hash: done ? null : hash.state() };
  let stateJson: string | null = JSON.stringify(nextState);
  let stKey: string | null = null;
  if (stateJson.length > MAX_INLINE_STATE) {
    stKey = stateKey(run.id, step);
    await env.FILES.put(stKey, stateJson);
    stateJson = null;
  }
  const total = run.total_rows;
  const progress = done ? 0.99 : total ? Math.min(0.99, rows / total) : 0;
  const now = nowSeconds();
  const stmts = [
    ...parts.map((p) =>
      env.DB.prepare(
        "INSERT OR REPLACE INTO export_run_parts (run_id, part_number, etag, size, step) VALUES (?1, ?2, ?3, ?4, ?5)",
      ).bind(run.id, p.n, p.etag, p.size, step),
    ),
    env.DB.prepare(
      `INSERT INTO export_run_checkpoints (run_id, step, cursor, rows, bytes, last_part, carry_bytes, state, state_key, done, sha256, created_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (run_id, step) DO NOTHING`,
    ).bind(run.id, step, cursor ? JSON.stringify(cursor) : null, rows, bytes, lastPart, carry, stateJson, stKey, done ? 1 : 0, sha, now),
    env.DB.prepare(
      "UPDATE export_runs SET rows = ?2, bytes = ?3, progress = ?4 WHERE id = ?1 AND status = 'processing'",
    ).bind(run.id, rows, bytes, progress),
  ];
  const results = await env.DB.batch(stmts);
  if ((results[parts.length]?.meta.changes ?? 0) === 0) return null;
  if (prev && prev.carry_bytes > 0) await env.FILES.delete(carryKey(run.id, prev.step)).catch(() => {});
  return {
    run_id: run.id,
    step,
    cursor: cursor ? JSON.stringify(cursor) : null,
    rows,
    bytes,
    last_part: lastPart,
    carry_bytes: carry,
    state: stateJson,
    state_key: stKey,
    done: done ? 1 : 0,
    sha256: sha,
  };
}

/** The run's multipart upload, created once; a concurrent creator's duplicate is aborted. */
async function ensureUpload(ctx: RunCtx): Promise<R2MultipartUpload> {
  const { env, run } = ctx;
  const key = run.file_key as string;
  if (run.upload_id) return env.FILES.resumeMultipartUpload(key, run.upload_id);
  const created = await env.FILES.createMultipartUpload(key, { httpMetadata: { contentType: run.content_type ?? undefined } });
  const r = await env.DB.prepare("UPDATE export_runs SET upload_id = ?2 WHERE id = ?1 AND upload_id IS NULL")
    .bind(run.id, created.uploadId)
    .run();
  if (r.meta.changes === 0) {
    await created.abort().catch(() => {});
    const row = await loadRun(env, run.id);
    if (!row?.upload_id) throw new Error("multipart upload id vanished");
    run.upload_id = row.upload_id;
    return env.FILES.resumeMultipartUpload(key, row.upload_id);
  }
  run.upload_id = created.uploadId;
  return created;
}

/** Completes the upload, writes the manifest and marks the run finished. Safe to repeat. */
async function finalize(ctx: RunCtx, cp: CheckpointRow): Promise<void> {
  const { env, run, def } = ctx;
  let key = run.file_key as string;
  let file = { bytes: cp.bytes, sha256: cp.sha256, name: run.file_name, contentType: run.content_type };
  // An encrypted run whose encryption already happened (a repeated last message) keeps its .pgp file.
  const alreadyEncrypted = def.encryption !== undefined && key.endsWith(".pgp");
  if (alreadyEncrypted) file = { ...file, bytes: run.bytes, sha256: run.sha256 };
  if (run.upload_id && !alreadyEncrypted) {
    const { results } = await env.DB.prepare(
      "SELECT part_number, etag FROM export_run_parts WHERE run_id = ?1 AND part_number <= ?2 ORDER BY part_number",
    )
      .bind(run.id, cp.last_part)
      .all<{ part_number: number; etag: string }>();
    try {
      await env.FILES.resumeMultipartUpload(key, run.upload_id).complete(
        results.map((p) => ({ partNumber: p.part_number, etag: p.etag })),
      );
    } catch (err) {
      // Completed by an earlier delivery that crashed before marking the run finished.
      const head = await env.FILES.head(key);
      if (!head || head.size !== cp.bytes) throw err;
    }
  }
  fault(env, "after_complete");
  if (def.encryption && !alreadyEncrypted) {
    // Encrypted to the customer's key, streamed into a new object; then only the .pgp file is kept.
    // One invocation streams the whole file: CPU time grows with the file size
    // (https://developers.cloudflare.com/workers/platform/limits/#cpu-time).
    const encKey = `${key}.pgp`;
    const enc = await encryptObject(env.FILES, key, encKey, def.encryption.public_key);
    file = { bytes: enc.bytes, sha256: enc.sha256, name: `${run.file_name}.pgp`, contentType: "application/pgp-encrypted" };
    await env.DB.prepare("UPDATE export_runs SET file_key = ?2, file_name = ?3, content_type = ?4, bytes = ?5, sha256 = ?6 WHERE id = ?1")
      .bind(run.id, encKey, file.name, file.contentType, file.bytes, file.sha256)
      .run();
    await env.FILES.delete(key);
    key = encKey;
  }
  const finishedAt = nowSeconds();
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
  await env.FILES.put(manifestKey(run), JSON.stringify(manifest, null, 2), {
    httpMetadata: { contentType: "application/json" },
  });
  fault(env, "after_manifest");
  // Push targets (S3, FTP, ...): the delivery chain starts before the run is marked finished
  // so a crash in between cannot lose it; its first link waits (retries) until the run is
  // finished. (Until the run lifecycle starts it in the batch that marks the run finished.)
  if (def.target.type !== "download") await startChainNow(createServices(env), { kind: "delivery", tenantId: run.tenant_id, subjectId: run.id });
  const done = await env.DB.prepare(
    `UPDATE export_runs SET status = 'finished', rows = ?2, bytes = ?3, sha256 = ?4, progress = 1, error = NULL,
       finished_at = ?5, expires_at = ?6 WHERE id = ?1 AND status IN ('pending', 'processing')`,
  )
    .bind(run.id, cp.rows, file.bytes, file.sha256, finishedAt, expiresAt)
    .run();
  // Only the message that moved the run to finished notifies (a redelivered last message does not).
  if (done.meta.changes === 1) await queueRunNotification(env, def, run, "export.run.finished");
  await deleteTemp(env, run.id);
}

async function deleteTemp(env: Env, runId: string): Promise<void> {
  let cursor: string | undefined;
  do {
    const list = await env.FILES.list({ prefix: tmpPrefix(runId), ...(cursor ? { cursor } : {}) });
    if (list.objects.length) await env.FILES.delete(list.objects.map((o) => o.key));
    cursor = list.truncated ? list.cursor : undefined;
  } while (cursor);
}

/**
 * Marks a run failed with a reason a person can act on, aborts its multipart upload
 * and removes its temporary objects. Does nothing to a run that already finished.
 */
export async function failRun(env: Env, runId: string, reason: string): Promise<void> {
  const res = await env.DB.prepare(
    "UPDATE export_runs SET status = 'failed', error = ?2, finished_at = ?3 WHERE id = ?1 AND status IN ('pending', 'processing')",
  )
    .bind(runId, reason.slice(0, 1000), nowSeconds())
    .run();
  if (res.meta.changes === 0) return;
  const run = await loadRun(env, runId);
  if (run?.upload_id && run.file_key) {
    await env.FILES.resumeMultipartUpload(run.file_key, run.upload_id)
      .abort()
      .catch((err) => console.warn(JSON.stringify({ run: runId, abort_failed: String(err) })));
  }
  if (run?.file_key) await env.FILES.delete(run.file_key);
  await deleteTemp(env, runId);
  if (run) await queueRunNotification(env, parseDefinition(run), run, "export.run.failed");
}
