/**
 * Signed webhooks (export finished / failed, source unreachable, ...).
 *
 * Every delivery carries `Ferry-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the HMAC
 * key is the endpoint's secret and the signed message is `<t>.<raw body>`. A receiver recomputes
 * it, compares in constant time and rejects timestamps older than a few minutes (replay).
 */

export type WebhookEvent = {
  /** e.g. export.run.finished, export.run.failed, source.file.failed, source.unreachable */
  type: string;
  /** unique per event; receivers de-duplicate on it (deliveries are at least once) */
  id: string;
  created_at: string;
  /** null for operator events (shard.capacity) */
  tenant_id: string | null;
  data: Record<string, unknown>;
};

const enc = new TextEncoder();

export async function webhookSignature(secret: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(`${timestamp}.${body}`)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Verifies a `Ferry-Signature` header; what a customer's receiver does (also used in tests). */
export async function verifyWebhookSignature(
  secret: string,
  header: string | null,
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = 300,
): Promise<boolean> {
  const parts = Object.fromEntries((header ?? "").split(",").map((p) => p.split("=", 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = await webhookSignature(secret, t, body);
  if (expected.length !== parts.v1.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ parts.v1.charCodeAt(i);
  return diff === 0;
}

export class WebhookError extends Error {
  constructor(
    message: string,
    /** false for answers that retrying cannot fix (4xx other than 408/429) */
    readonly retryable: boolean,
    /** the receiver's HTTP status; null when it did not answer */
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

/** POSTs one event and answers the receiver's (2xx) status; throws WebhookError on anything else. */
export async function sendWebhook(url: string, secret: string, event: WebhookEvent, timeoutMs = 10_000): Promise<number> {
  const body = JSON.stringify(event);
  // signed at the event's own time (each caller stamps created_at from services.clock as it sends)
  const t = Math.floor(Date.parse(event.created_at) / 1000);
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "ferry-webhooks/1",
        "ferry-event": event.type,
        "ferry-delivery": event.id,
        "ferry-signature": `t=${t},v1=${await webhookSignature(secret, t, body)}`,
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new WebhookError(`webhook ${url} unreachable: ${(err as Error).message}`, true);
  }
  await res.body?.cancel();
  if (res.ok) return res.status;
  const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
  throw new WebhookError(`webhook ${url} answered ${res.status}`, retryable, res.status);
}
