import { type DeliveryOptions, TargetError, sleep } from "./types";

export interface HttpFailure {
  status: number;
  /** service error code from the body (`<Code>`), or the x-ms-error-code header */
  code: string;
  message: string;
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
 * Error answers are read here (their XML body names the code).
 */
export async function requestWithRetryAs<T>(
  what: string,
  send: (signal: AbortSignal) => Promise<Response>,
  classify: (f: HttpFailure) => TargetError,
  opts: DeliveryOptions,
  read: (res: Response) => Promise<T | HttpFailure>,
): Promise<T> {
  const attempts = opts.attempts ?? 4;
  const backoff = opts.backoffMs ?? 500;
  let last: TargetError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await send(AbortSignal.timeout(opts.timeoutMs ?? 60_000));
      const out = res.ok ? await read(res) : parseXmlError(res.status, await res.text(), res.headers.get("x-ms-error-code"));
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
