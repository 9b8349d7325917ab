import type { Env } from "../env";
import type { Services } from "../services";

/** A finished run's file in R2 (binding FILES), as the export run chain leaves it. */
export interface DeliveryFile {
  key: string;
  size: number;
  /** file name, e.g. `win-info-2026-11-25.csv.gz` */
  name: string;
  contentType: string;
}

export interface DeliveryContext {
  exportName: string;
  runId: string;
  /** the run's date, `YYYY-MM-DD` (UTC) */
  date: string;
}

/** Knobs tests and the job runner may tighten; users never set these. */
export interface DeliveryOptions {
  /** per network request (S3, Azure) or per protocol step (FTP, SFTP), ms */
  timeoutMs?: number;
  /** attempts per request for transient failures (S3, Azure) */
  attempts?: number;
  /** first backoff delay, doubled each retry, ms */
  backoffMs?: number;
  /** part size of FTP and SFTP uploads, bytes (S3 and Azure take theirs from the target) */
  partBytes?: number;
  /**
   * Called before each retry of a request (S3, Azure): the delivery chain extends its lease
   * there, so a link that waits out a few backoffs is not taken for dead. It may throw (the
   * lease was lost): the request then stops with that error.
   */
  heartbeat?: () => Promise<void>;
  /**
   * The clock signed tokens are dated and cached by (GCS's service-account JWT), epoch ms:
   * services.clock.now wherever the caller has services; the system clock otherwise.
   */
  now?: () => number;
}

/**
 * What every driver keeps between parts. Stored as JSON in run_deliveries.upload_state between
 * chain links, so it stays small: ids and counters, never data.
 */
export interface UploadState {
  /** the file's size, bytes */
  size: number;
  /** bytes per part; every part but the last has exactly this size */
  part_size: number;
  /** bytes the target has acknowledged, i.e. the offset of the next part */
  sent: number;
  /** how often the delivery job started this upload over (UploadRestart); the job keeps it */
  restarts?: number;
}

/**
 * One protocol, as a resumable upload: `begin` plans it (and starts it where the protocol has a
 * start), `putPart` sends part n (1-based, parts cut at `part_size`) and answers the new state,
 * `complete` makes the file appear at its destination, `abort` drops what was sent. Each call
 * may run in a different invocation, from the state the previous one answered; each must be
 * safe to repeat after a crash (a part sent again, a complete that already happened).
 */
export interface TargetDriver<C, S extends UploadState = UploadState> {
  /** Connects and authenticates (and checks the destination exists where the protocol allows). */
  test(env: Env, cfg: C, opts?: DeliveryOptions): Promise<void>;
  begin(s: Services, cfg: C, file: DeliveryFile, ctx: DeliveryContext, opts?: DeliveryOptions): Promise<S>;
  putPart(s: Services, cfg: C, state: S, partNumber: number, bytes: Uint8Array, opts?: DeliveryOptions): Promise<S>;
  /** Answers where the file landed (`s3://bucket/key`, `ftp://host:21/path`, ...). */
  complete(s: Services, cfg: C, state: S, opts?: DeliveryOptions): Promise<{ location: string }>;
  /** Drops a begun upload; harmless when there is nothing (left) to drop. */
  abort(s: Services, cfg: C, state: S, opts?: DeliveryOptions): Promise<void>;
}

/**
 * The copy at the target is not what the recorded state says (an FTP temp file longer or
 * shorter than the bytes acknowledged: a part appended twice, or the file removed meanwhile).
 * FTP cannot truncate, so the upload starts again from its first part.
 */
export class UploadRestart extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UploadRestart";
  }
}

/**
 * FTP and SFTP part size: one part per chain link, so the part bounds a link's CPU time (SFTP
 * encrypts in JavaScript at about 3 MB/s, docs/targets.md) while the per-part login costs little.
 */
export const STREAM_PART_BYTES = 8 * 1024 * 1024;

/** Parts of a file of `size` bytes cut at `partSize` (0 for an empty file). */
export const partCount = (size: number, partSize: number) => Math.ceil(size / partSize);

/** The byte range of part `n` (1-based). */
export const partRange = (state: Pick<UploadState, "size" | "part_size">, n: number) => {
  const offset = (n - 1) * state.part_size;
  return { offset, length: Math.min(state.part_size, state.size - offset) };
};

/**
 * Why a delivery failed. `transient` failures (5xx, throttling, timeouts, dropped
 * connections) are worth retrying; the others need the customer to change something.
 */
export type TargetErrorKind = "auth" | "not_found" | "config" | "refused" | "transient";

export class TargetError extends Error {
  readonly kind: TargetErrorKind;
  constructor(kind: TargetErrorKind, message: string) {
    super(message);
    this.kind = kind;
    this.name = "TargetError";
  }
  get retryable(): boolean {
    return this.kind === "transient";
  }
}

/**
 * The extension of a run's file, everything after the export's name: `csv`, `txt.gz`,
 * `csv.zip.pgp`. A name that does not start with the export's takes what follows its first dot.
 */
export function fileExtension(fileName: string, exportName: string): string {
  if (fileName.startsWith(`${exportName}.`)) return fileName.slice(exportName.length + 1);
  const dot = fileName.indexOf(".");
  return dot > 0 ? fileName.slice(dot + 1) : "";
}

/**
 * Expands `{name}`, `{date}`, `{run_id}`, `{export}` and `{ext}` in a key or path template
 * (`.{ext}` disappears whole when the file has no extension).
 */
export function expandTemplate(template: string, file: DeliveryFile, ctx: DeliveryContext): string {
  const ext = fileExtension(file.name, ctx.exportName);
  return template
    .replaceAll(".{ext}", ext ? `.${ext}` : "")
    .replaceAll("{ext}", ext)
    .replaceAll("{name}", file.name)
    .replaceAll("{date}", ctx.date)
    .replaceAll("{run_id}", ctx.runId)
    .replaceAll("{export}", ctx.exportName);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `fn` with a deadline; a timeout is a transient failure. */
export async function withTimeout<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TargetError("transient", `${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
