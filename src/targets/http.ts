import { type DeliveryOptions, TargetError, sleep } from "./types";

export interface HttpFailure {
  status: number;
  /** service error code from the body (`<Code>`), or the x-ms-error-code header */
  code: string;
  message: string;
}

/**
 * The failure an error answer describes: a JSON body (Google's JSON API
 * `{ error: { code, message, errors: [{ reason }] } }`, OAuth's `{ error, error_description }`),
 * else an S3 or Azure XML body.
 */
export function parseErrorBody(status: number, body: string, headerCode?: string | null): HttpFailure {
  if (body.trimStart().startsWith("{")) {
    try {
      const j = JSON.parse(body) as { error?: string | { message?: string; status?: string; errors?: { reason?: string }[] }; error_description?: string };
      if (typeof j.error === "string") return { status, code: j.error, message: j.error_description ?? "" };
      if (j.error) return { status, code: j.error.errors?.[0]?.reason ?? j.error.status ?? `HTTP${status}`, message: j.error.message ?? "" };
    } catch {
      // not JSON after all: read it as XML
    }
  }
  return parseXmlError(status, body, headerCode);
}

/** Reads `<Code>` and `<Message>` from an S3 or Azure XML error body. */
export function parseXmlError(status: number, body: string, headerCode?: string | null): HttpFailure {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? headerCode ?? `HTTP${status}`;
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? "";
  return { status, code, message };
}

/**
 * One HTTP call against a storage service with bounded retries: exponential backoff
 * (backoffMs, 2x, 4x, ...) on failures `classify` calls transient, on timeouts and on
 * dropped connections; anything else fails at once. `send` must build a fresh request
 * each time (bodies are ArrayBuffers, so they can be sent again).
 */
export async function requestWithRetry(
  what: string,
  send: (signal: AbortSignal) => Promise<Response>,
  classify: (f: HttpFailure) => TargetError,
  opts: DeliveryOptions,
  check?: (res: Response, body: string) => HttpFailure | null,
): Promise<{ res: Response; body: string }> {
  return requestWithRetryAs(what, send, classify, opts, async (res) => {
    const body = await res.text();
    return check?.(res, body) ?? { res, body };
  });
}

const isFailure = (v: unknown): v is HttpFailure =>
  typeof v === "object" && v !== null && "status" in v && "code" in v && "message" in v && !("res" in v);

/**
 * requestWithRetry with the caller reading a successful response: `read` returns the value
 * (bytes of a ranged GET, the unread Response of a stream, ...) or an HttpFailure found in it.
 * Error answers are read here (their XML or JSON body names the code). `success` says which
 * answers `read` gets (2xx unless told: GCS answers a chunk it kept with 308).
 */
export async function requestWithRetryAs<T>(
  what: string,
  send: (signal: AbortSignal) => Promise<Response>,
  classify: (f: HttpFailure) => TargetError,
  opts: DeliveryOptions,
  read: (res: Response) => Promise<T | HttpFailure>,
  success: (res: Response) => boolean = (res) => res.ok,
): Promise<T> {
  const attempts = opts.attempts ?? 4;
  const backoff = opts.backoffMs ?? 500;
  let last: TargetError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await send(AbortSignal.timeout(opts.timeoutMs ?? 60_000));
      const out = success(res) ? await read(res) : parseErrorBody(res.status, await res.text(), res.headers.get("x-ms-error-code"));
      if (!isFailure(out)) return out;
      last = classify(out);
      if (!last.retryable) throw last;
    } catch (err) {
      if (err instanceof TargetError && !err.retryable) throw err;
      if (!(err instanceof TargetError)) {
        const name = (err as Error)?.name;
        last = new TargetError(
          "transient",
          name === "TimeoutError" || name === "AbortError" ? `${what} timed out after ${opts.timeoutMs ?? 60_000} ms` : `${what}: ${String((err as Error)?.message ?? err)}`,
        );
      } else {
        last = err;
      }
    }
    if (attempt < attempts) {
      await sleep(backoff * 2 ** (attempt - 1));
      await opts.heartbeat?.();
    }
  }
  throw new TargetError("transient", `${last?.message ?? what} (gave up after ${attempts} attempts)`);
}

export const MiB = 1024 * 1024;

/**
 * Part size of an upload: the configured size, raised so a file needs at most `maxParts`
 * parts. Each part is one link of the delivery chain (one queue message, one ranged R2 read,
 * one upload request, two D1 writes), so the cap bounds the messages per delivery; S3 allows
 * 10,000 parts and Azure 50,000 blocks per blob. A link holds its part in memory (a Worker has
 * 128 MB), which is why parts are read one at a time.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
 * https://developers.cloudflare.com/workers/platform/limits/#memory
 */
export function choosePartSize(size: number, configuredBytes: number, maxParts = 400): number {
  if (size <= configuredBytes * maxParts) return configuredBytes;
  return Math.ceil(size / maxParts / MiB) * MiB;
}

/** The bytes of a ranged GET; a server that ignored the Range header (200, whole body) is cut to the range. */
export async function rangeBody(res: Response, range: { offset: number; length: number }): Promise<Uint8Array> {
  const bytes = new Uint8Array(await res.arrayBuffer());
  return res.status === 206 ? bytes : bytes.subarray(range.offset, range.offset + range.length);
}
