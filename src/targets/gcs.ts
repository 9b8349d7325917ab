/**
 * Google Cloud Storage over its JSON API, with a service-account key, as a resumable upload
 * (TargetDriver), and the reads a bucket source needs (objects.list, ranged media download).
 *
 * Auth: the key signs an RS256 JWT (jose) that the key's token_uri exchanges for an OAuth access
 * token (the JWT bearer grant, RFC 7523); the token is cached in the isolate until shortly
 * before it expires. https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 *
 * Upload: a resumable upload session per file (begin), one chunk per delivery chain link
 * (putPart), each PUT to the session URI with a Content-Range; the session URI (sealed) and the
 * bytes sent are the state the chain checkpoints. https://cloud.google.com/storage/docs/performing-resumable-uploads
 *
 * HMAC keys are not this driver's business: they work with the `s3` target pointed at
 * https://storage.googleapis.com (docs/targets.md).
 *
 * Verified only against the loopback stand-in in test/servers/gcs.ts, not against Google.
 */
import { SignJWT, importPKCS8 } from "jose";
import type { Env } from "../env";
import { type Services, systemClock } from "../services";
import type { GcsTarget, ServiceAccountKey } from "./config";
import { checkTargetHost } from "./hosts";
import { type HttpFailure, MiB, choosePartSize, rangeBody, requestWithRetry, requestWithRetryAs } from "./http";
import type { ObjectPage } from "./s3";
import { type DeliveryOptions, type TargetDriver, TargetError, UploadRestart, type UploadState, expandTemplate, partRange, sleep } from "./types";

/** Read and write objects; nothing else (no bucket or IAM administration). */
export const GCS_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/** Google refuses an assertion that lives longer than an hour. */
const ASSERTION_SECONDS = 3600;
/** A cached token is renewed this long before it expires, so no request starts with a token about to die. */
const RENEW_BEFORE_MS = 5 * 60_000;
const MAX_CACHED_TOKENS = 100;

/**
 * Every chunk of a resumable upload but the last must be a multiple of 256 KiB; the part size
 * is whole MiB (chunk_size_mb), which always is.
 * https://cloud.google.com/storage/docs/performing-resumable-uploads#chunked-upload
 */
export const GCS_CHUNK_MULTIPLE = 256 * 1024;

/** What the API functions need of a configuration (a delivery target or a bucket source). */
export type GcsBucket = Pick<GcsTarget, "endpoint" | "bucket" | "service_account">;

/** A 401 from the API: the (cached) access token is no longer accepted. */
class Unauthorized extends TargetError {}

const tokens = new Map<string, { token: string; until: number }>();

async function cacheKey(sa: ServiceAccountKey): Promise<string> {
  const text = [sa.token_uri, sa.client_email, sa.private_key_id, sa.private_key].join("\n");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

const nowOf = (opts: DeliveryOptions) => (opts.now ?? systemClock.now)();

function classifyToken(sa: ServiceAccountKey) {
  return (f: HttpFailure): TargetError => {
    const detail = `${sa.token_uri} refused the service account key of ${sa.client_email}: ${f.status} ${f.code}${f.message ? ` (${f.message})` : ""}`;
    if (f.status >= 500 || f.status === 429) return new TargetError("transient", detail);
    if (f.status === 400 || f.status === 401 || f.status === 403) {
      return new TargetError("auth", `${detail}; check that the key file is complete and current (a deleted or rotated key is refused)`);
    }
    return new TargetError("refused", detail);
  };
}

/**
 * An access token for the service account: from the cache while it has more than
 * RENEW_BEFORE_MS left, else exchanged for a freshly signed JWT.
 */
export async function accessToken(env: Pick<Env, "ALLOW_PRIVATE_TARGETS">, sa: ServiceAccountKey, opts: DeliveryOptions = {}, fresh = false): Promise<{ token: string; cached: boolean }> {
  const key = await cacheKey(sa);
  const now = nowOf(opts);
  const hit = tokens.get(key);
  if (!fresh && hit && hit.until - RENEW_BEFORE_MS > now) return { token: hit.token, cached: true };
  await checkTargetHost(env, new URL(sa.token_uri).hostname);
  let signingKey: CryptoKey;
  try {
    signingKey = await importPKCS8(sa.private_key, "RS256");
  } catch (err) {
    throw new TargetError("config", `service_account.private_key is not a PKCS#8 RSA private key (${err instanceof Error ? err.message : String(err)}); paste the key file as Google wrote it`);
  }
  const iat = Math.floor(now / 1000);
  const assertion = await new SignJWT({ scope: GCS_SCOPE })
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: sa.private_key_id })
    .setIssuer(sa.client_email)
    .setAudience(sa.token_uri)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ASSERTION_SECONDS)
    .sign(signingKey);
  const { body } = await requestWithRetry(
    "token exchange",
    (signal) =>
      fetch(sa.token_uri, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
        signal,
      }),
    classifyToken(sa),
    opts,
  );
  let answer: { access_token?: unknown; expires_in?: unknown };
  try {
    answer = JSON.parse(body) as typeof answer;
  } catch {
    throw new TargetError("refused", `${sa.token_uri} answered the token exchange with something that is not JSON`);
  }
  if (typeof answer.access_token !== "string" || !answer.access_token) throw new TargetError("refused", `${sa.token_uri} answered without an access_token`);
  const seconds = typeof answer.expires_in === "number" && answer.expires_in > 0 ? answer.expires_in : 3600;
  if (tokens.size >= MAX_CACHED_TOKENS) tokens.delete(tokens.keys().next().value!);
  tokens.set(key, { token: answer.access_token, until: now + seconds * 1000 });
  return { token: answer.access_token, cached: false };
}

/** Runs `call` with an access token; a cached token the API no longer takes (401) is renewed once. */
async function authorized<T>(env: Env, sa: ServiceAccountKey, opts: DeliveryOptions, call: (auth: Record<string, string>) => Promise<T>): Promise<T> {
  const first = await accessToken(env, sa, opts);
  try {
    return await call({ authorization: `Bearer ${first.token}` });
  } catch (err) {
    if (!(err instanceof Unauthorized) || !first.cached) throw err;
    const renewed = await accessToken(env, sa, opts, true);
    return call({ authorization: `Bearer ${renewed.token}` });
  }
}

function classify(cfg: GcsBucket, what: string, access = "create objects in") {
  return (f: HttpFailure): TargetError => {
    const detail = `${what} on bucket '${cfg.bucket}' failed: ${f.status} ${f.code}${f.message ? ` (${f.message})` : ""}`;
    const hint = `; check that the service account ${cfg.service_account.client_email} may ${access} the bucket`;
    if (f.status === 401) return new Unauthorized("auth", `${detail}${hint}`);
    if (f.status === 403) return new TargetError("auth", `${detail}${hint}`);
    if (f.status >= 500 || f.status === 429 || f.status === 408) return new TargetError("transient", detail);
    if (f.status === 404) return new TargetError("not_found", `${detail}; check that bucket '${cfg.bucket}' exists`);
    return new TargetError("refused", detail);
  };
}

const base = (cfg: Pick<GcsTarget, "endpoint">) => cfg.endpoint.replace(/\/+$/, "");
const objectPath = (cfg: GcsBucket, name: string) => `${base(cfg)}/storage/v1/b/${encodeURIComponent(cfg.bucket)}/o/${encodeURIComponent(name)}`;

/** What a GCS delivery keeps between chunks. */
export interface GcsUploadState extends UploadState {
  object: string;
  content_type: string;
  /**
   * The resumable session URI, sealed (src/lib/secrets.ts): whoever holds it may write the
   * object without any other credential, for a week.
   */
  session: string;
}

/** Starts a resumable upload session; answers its URI. */
async function createSession(env: Env, cfg: GcsBucket, object: string, contentType: string, size: number, opts: DeliveryOptions): Promise<string> {
  await checkTargetHost(env, new URL(cfg.endpoint).hostname);
  const url = `${base(cfg)}/upload/storage/v1/b/${encodeURIComponent(cfg.bucket)}/o?uploadType=resumable&name=${encodeURIComponent(object)}`;
  const uri = await authorized(env, cfg.service_account, opts, (auth) =>
    requestWithRetryAs(
      "starting the resumable upload",
      (signal) =>
        fetch(url, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json; charset=UTF-8", "x-upload-content-type": contentType, "x-upload-content-length": String(size) },
          body: JSON.stringify({ name: object, contentType }),
          signal,
        }),
      classify(cfg, "starting the resumable upload"),
      opts,
      async (res) => {
        await res.body?.cancel();
        return res.headers.get("location") ?? "";
      },
    ),
  );
  if (!uri) throw new TargetError("refused", `starting the resumable upload of ${object}: the answer named no session URI (Location)`);
  await checkTargetHost(env, new URL(uri).hostname);
  return uri;
}

/** Where a session stands: `done` (the object exists), else the number of bytes it persisted. */
type Progress = { done: true } | { done: false; next: number };

/**
 * A 308's Range (`bytes=0-N`): N + 1 bytes persisted; no Range: none. A session is gone a week
 * after it began (404 or 410) or once cancelled (499): the upload starts over.
 */
function progressOf(res: Response): Progress | { gone: number } {
  if (res.status === 200 || res.status === 201) return { done: true };
  if (res.status !== 308) return { gone: res.status };
  const m = /^bytes=0-(\d+)$/.exec(res.headers.get("range") ?? "");
  return { done: false, next: m ? Number(m[1]) + 1 : 0 };
}

const SESSION_ANSWERS = new Set([200, 201, 308, 404, 410, 499]);

/** PUT to the session URI: `bytes` at `offset` of `size`, or (no bytes) the status query `bytes *\/size`. */
async function sessionPut(
  env: Env,
  cfg: GcsBucket,
  uri: string,
  object: string,
  size: number,
  chunk: { offset: number; bytes: Uint8Array } | null,
  opts: DeliveryOptions,
): Promise<Progress> {
  await checkTargetHost(env, new URL(uri).hostname);
  const range = chunk && chunk.bytes.byteLength ? `bytes ${chunk.offset}-${chunk.offset + chunk.bytes.byteLength - 1}/${size}` : `bytes */${size}`;
  const what = chunk ? `sending bytes ${chunk.offset}+ of ${object}` : `asking for the status of the upload of ${object}`;
  // No token: the session URI authorizes the upload by itself (so a resumed link needs no token exchange).
  const p = await requestWithRetryAs(
    what,
    // redirect: manual, or fetch would take GCS's 308 Resume Incomplete for a redirect.
    (signal) => fetch(uri, { method: "PUT", headers: { "content-range": range }, body: chunk?.bytes ?? new Uint8Array(0), redirect: "manual", signal }),
    classify(cfg, what),
    opts,
    async (res) => {
      await res.body?.cancel();
      return progressOf(res);
    },
    (res) => SESSION_ANSWERS.has(res.status),
  );
  if ("gone" in p) throw new UploadRestart(`the upload session of ${object} is gone (${p.gone}); starting over`);
  return p;
}

/**
 * Makes the session hold bytes [offset, offset + bytes.length): asks where it stands first (a
 * link cannot know whether an earlier try of it died after its chunk went out), sends what is
 * missing, and sends the rest again when Google kept only part of a chunk. A transient failure
 * starts over from the status query. Answers the bytes persisted (size once the object exists).
 */
async function sendChunk(env: Env, cfg: GcsBucket, state: GcsUploadState, uri: string, offset: number, bytes: Uint8Array, opts: DeliveryOptions): Promise<number> {
  const end = offset + bytes.byteLength;
  const attempts = opts.attempts ?? 4;
  const once = { ...opts, attempts: 1 };
  for (let attempt = 1; ; attempt++) {
    try {
      let p = await sessionPut(env, cfg, uri, state.object, state.size, null, opts);
      while (!p.done && p.next < end) {
        if (p.next < offset) throw new UploadRestart(`GCS holds ${p.next} bytes of ${state.object}, fewer than the ${offset} recorded as sent`);
        const before = p.next;
        p = await sessionPut(env, cfg, uri, state.object, state.size, { offset: before, bytes: bytes.subarray(before - offset) }, once);
        if (!p.done && p.next <= before) throw new TargetError("transient", `GCS kept none of the chunk at ${before} of ${state.object}`);
      }
      if (p.done && end !== state.size) throw new UploadRestart(`the upload of ${state.object} is complete before its last chunk was sent`);
      return p.done ? state.size : p.next;
    } catch (err) {
      if (!(err instanceof TargetError) || !err.retryable) throw err;
      if (attempt >= attempts) throw new TargetError("transient", `${err.message} (gave up after ${attempts} attempts)`);
      await sleep((opts.backoffMs ?? 500) * 2 ** (attempt - 1));
      await opts.heartbeat?.();
    }
  }
}

const withClock = (s: Services, opts: DeliveryOptions): DeliveryOptions => ({ ...opts, now: opts.now ?? (() => s.clock.now()) });

export const gcsDriver: TargetDriver<GcsTarget, GcsUploadState> = {
  /** Starts an upload session for a probe object and cancels it: proves the key and the right to create objects, leaves nothing. */
  async test(env, cfg, opts = {}) {
    const uri = await createSession(env, cfg, ".ferry-connection-test", "text/plain", 5, opts);
    await fetch(uri, { method: "DELETE", signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000) }).then((r) => r.body?.cancel(), () => {});
  },

  async begin(s, cfg, file, ctx, opts = {}) {
    const object = expandTemplate(cfg.object, file, ctx).replace(/^\/+/, "");
    const part_size = choosePartSize(file.size, cfg.chunk_size_mb * MiB);
    const uri = await createSession(s.env, cfg, object, file.contentType, file.size, withClock(s, opts));
    return { size: file.size, part_size, sent: 0, object, content_type: file.contentType, session: await s.secrets.seal(uri) };
  },

  async putPart(s, cfg, state, n, bytes, opts = {}) {
    const range = partRange(state, n);
    if (bytes.byteLength !== range.length) throw new Error(`chunk ${n} has ${bytes.byteLength} bytes, expected ${range.length}`);
    const uri = await s.secrets.unseal(state.session);
    const sent = await sendChunk(s.env, cfg, state, uri, range.offset, bytes, withClock(s, opts));
    return { ...state, sent: Math.min(sent, range.offset + range.length) };
  },

  /** The last chunk created the object; this checks that it did (an empty file is created here). */
  async complete(s, cfg, state, opts = {}) {
    const uri = await s.secrets.unseal(state.session);
    const p = await sessionPut(s.env, cfg, uri, state.object, state.size, null, withClock(s, opts));
    if (!p.done) throw new UploadRestart(`GCS holds ${p.next} of the ${state.size} bytes of ${state.object} at complete`);
    return { location: `gs://${cfg.bucket}/${state.object}` };
  },

  /** Cancels the session (Google answers 499); a finished upload is left alone. */
  async abort(s, _cfg, state, opts = {}) {
    const uri = await s.secrets.unseal(state.session);
    await checkTargetHost(s.env, new URL(uri).hostname);
    const res = await fetch(uri, { method: "DELETE", signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000) });
    await res.body?.cancel();
  },
};

/**
 * One page of objects.list from the previous page's token; the version of an object is its
 * generation. https://cloud.google.com/storage/docs/json_api/v1/objects/list
 */
export async function listGcsObjects(
  env: Env,
  cfg: GcsBucket,
  page: { prefix?: string; token?: string | null; maxKeys?: number },
  opts: DeliveryOptions = {},
): Promise<ObjectPage> {
  await checkTargetHost(env, new URL(cfg.endpoint).hostname);
  const q = new URLSearchParams({ maxResults: String(page.maxKeys ?? 1000), fields: "items(name,generation,size),nextPageToken" });
  if (page.prefix) q.set("prefix", page.prefix);
  if (page.token) q.set("pageToken", page.token);
  const url = `${base(cfg)}/storage/v1/b/${encodeURIComponent(cfg.bucket)}/o?${q}`;
  const { body } = await authorized(env, cfg.service_account, opts, (auth) =>
    requestWithRetry("objects.list", (signal) => fetch(url, { headers: auth, signal }), classify(cfg, "objects.list", "list and read objects of"), opts),
  );
  const j = JSON.parse(body) as { items?: { name?: string; generation?: string; size?: string }[]; nextPageToken?: string };
  const objects = (j.items ?? []).filter((o) => o.name && o.generation).map((o) => ({ key: o.name!, etag: String(o.generation), size: Number(o.size ?? 0) }));
  return { objects, next: j.nextPageToken || null };
}

function readClassify(cfg: GcsBucket, name: string) {
  const base = classify(cfg, `reading ${name}`, "read objects of");
  return (f: HttpFailure) =>
    f.status === 412
      ? new TargetError("refused", `object ${name} changed while it was read (its generation is no longer the one listed)`)
      : f.status === 404
        ? new TargetError("not_found", `object ${name} is gone`)
        : base(f);
}

const mediaUrl = (cfg: GcsBucket, name: string, generation: string) => `${objectPath(cfg, name)}?alt=media&ifGenerationMatch=${encodeURIComponent(generation)}`;

/** Bytes [offset, offset + length) of one generation of an object (media download with a Range). */
export async function getGcsRange(
  env: Env,
  cfg: GcsBucket,
  name: string,
  generation: string,
  range: { offset: number; length: number },
  opts: DeliveryOptions = {},
): Promise<Uint8Array> {
  await checkTargetHost(env, new URL(cfg.endpoint).hostname);
  const h = { range: `bytes=${range.offset}-${range.offset + range.length - 1}` };
  return authorized(env, cfg.service_account, opts, (auth) =>
    requestWithRetryAs("media download", (signal) => fetch(mediaUrl(cfg, name, generation), { headers: { ...auth, ...h }, signal }), readClassify(cfg, name), opts, (res) => rangeBody(res, range)),
  );
}

/** One generation of an object as a stream (for gzip). */
export async function getGcsStream(env: Env, cfg: GcsBucket, name: string, generation: string, opts: DeliveryOptions = {}): Promise<ReadableStream<Uint8Array>> {
  await checkTargetHost(env, new URL(cfg.endpoint).hostname);
  return authorized(env, cfg.service_account, opts, (auth) =>
    requestWithRetryAs("media download", (signal) => fetch(mediaUrl(cfg, name, generation), { headers: auth, signal }), readClassify(cfg, name), opts, async (res) => {
      if (!res.body) throw new TargetError("refused", `media download of ${name} answered without a body`);
      return res.body;
    }),
  );
}
