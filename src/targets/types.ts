import type { Env } from "../env";

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
}

export interface TargetDriver<C> {
  /** Connects and authenticates (and checks the destination exists where the protocol allows). */
  test(env: Env, cfg: C, opts?: DeliveryOptions): Promise<void>;
  /** Uploads the file; answers where it landed (`s3://bucket/key`, `ftp://host/path`, ...). */
  deliver(env: Env, cfg: C, file: DeliveryFile, ctx: DeliveryContext, opts?: DeliveryOptions): Promise<{ location: string }>;
}

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

/** Expands `{name}`, `{date}`, `{run_id}` and `{export}` in a key or path template. */
export function expandTemplate(template: string, file: DeliveryFile, ctx: DeliveryContext): string {
  return template
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

/** Reads a finished file from R2, whole or a byte range. */
export async function readFile(env: Env, key: string, range?: { offset: number; length: number }): Promise<R2ObjectBody> {
  const obj = await env.FILES.get(key, range ? { range } : undefined);
  if (!obj) throw new TargetError("not_found", `the export file ${key} is no longer in storage`);
  return obj;
}
