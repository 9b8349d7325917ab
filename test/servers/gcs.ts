/**
 * A loopback stand-in for Google Cloud Storage's JSON API and Google's OAuth token endpoint.
 * It is NOT Google; what it checks, it checks the way Google does:
 *
 * - POST /token (the JWT bearer grant, RFC 7523): the assertion's RS256 signature is verified
 *   with node:crypto against the public key of the service account it names (`iss`) and `kid`,
 *   and its `aud`, `iat`/`exp` (at most an hour) and `scope` are checked; anything else is
 *   400 invalid_grant, as Google answers. Tokens it issues expire after `tokenSeconds`.
 * - Every other request needs a bearer token it issued and that has not expired (else 401),
 *   but for requests to an upload session's URI, which is a credential of its own.
 * - objects.list (prefix, maxResults, pageToken), media download (alt=media, Range,
 *   ifGenerationMatch), resumable uploads (session, chunks with Content-Range that must start at
 *   the persisted offset and be multiples of 256 KiB but the last, 308 with Range, status query
 *   `bytes * /total`, 200 on the last chunk, DELETE answers 499).
 * https://cloud.google.com/storage/docs/performing-resumable-uploads
 * https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 */
import { createPublicKey, randomBytes, verify } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { readBody } from "./body";

export const GCS_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write";
const CHUNK_MULTIPLE = 256 * 1024;

interface StoredObject {
  data: Buffer;
  generation: string;
  contentType: string;
}
interface Session {
  bucket: string;
  name: string;
  total: number | null;
  contentType: string;
  chunks: Buffer[];
  persisted: number;
  done: StoredObject | null;
  cancelled: boolean;
}

export interface GcsFault {
  bucket: string;
  /** "chunk": a chunk PUT; "token": the token endpoint */
  op: "chunk" | "token";
  count: number;
  status: number;
  /** for "chunk" with status 308: keep only this many bytes of the chunk (Google may keep part of one) */
  keep?: number;
}

const b64url = (s: string) => Buffer.from(s, "base64url");

export async function startGcs(opts: { accounts: { client_email: string; private_key_id: string; public_key: string }[]; tokenSeconds?: number }) {
  const buckets = new Map<string, Map<string, StoredObject>>();
  const sessions = new Map<string, Session>();
  const issued = new Map<string, { email: string; until: number }>();
  const log: { op: string; bucket: string; status: number; detail?: string }[] = [];
  const faults: GcsFault[] = [];
  let generation = 1_700_000_000_000_000;
  let port = 0;
  const tokenUri = () => `http://127.0.0.1:${port}/token`;

  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json; charset=UTF-8", ...headers });
    res.end(JSON.stringify(body));
  };
  const apiError = (res: http.ServerResponse, status: number, reason: string, message: string) =>
    json(res, status, { error: { code: status, message, errors: [{ reason, message, domain: "global" }] } });
  const meta = (bucket: string, name: string, o: StoredObject) => ({
    kind: "storage#object",
    bucket,
    name,
    generation: o.generation,
    size: String(o.data.length),
    contentType: o.contentType,
    etag: Buffer.from(o.generation).toString("base64"),
  });
  const store = (bucket: string, name: string, data: Buffer, contentType = "application/octet-stream") => {
    const o = { data, generation: String(generation++), contentType };
    buckets.get(bucket)?.set(name, o);
    return o;
  };

  function token(form: URLSearchParams): { status: number; body: unknown } {
    const refuse = (description: string) => ({ status: 400, body: { error: "invalid_grant", error_description: description } });
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      return { status: 400, body: { error: "unsupported_grant_type", error_description: "Invalid grant_type" } };
    }
    const parts = (form.get("assertion") ?? "").split(".");
    if (parts.length !== 3) return refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.");
    let header: { alg?: string; kid?: string };
    let claims: { iss?: string; aud?: string; scope?: string; iat?: number; exp?: number };
    try {
      header = JSON.parse(b64url(parts[0]!).toString("utf8"));
      claims = JSON.parse(b64url(parts[1]!).toString("utf8"));
    } catch {
      return refuse("Invalid JWT: unreadable");
    }
    const account = opts.accounts.find((a) => a.client_email === claims.iss);
    if (!account) return refuse("Invalid JWT Signature."); // Google does not say whether the account exists
    if (header.alg !== "RS256") return refuse("Invalid JWT Signature.");
    if (header.kid !== undefined && header.kid !== account.private_key_id) return refuse("Invalid JWT Signature.");
    const ok = verify("RSA-SHA256", Buffer.from(`${parts[0]}.${parts[1]}`), createPublicKey(account.public_key), b64url(parts[2]!));
    if (!ok) return refuse("Invalid JWT Signature.");
    const now = Math.floor(Date.now() / 1000);
    if (claims.aud !== tokenUri()) return refuse("Invalid JWT: Failed audience check.");
    if (typeof claims.iat !== "number" || typeof claims.exp !== "number" || claims.exp - claims.iat > 3600 || claims.exp < now || claims.iat > now + 300) {
      return refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");
    }
    const scopes = (claims.scope ?? "").split(" ");
    if (!scopes.includes(GCS_SCOPE) && !scopes.includes("https://www.googleapis.com/auth/devstorage.full_control")) {
      return { status: 400, body: { error: "invalid_scope", error_description: "Invalid OAuth scope or ID token audience provided." } };
    }
    const seconds = opts.tokenSeconds ?? 3599;
    const access = `ya29.test-${randomBytes(18).toString("base64url")}`;
    issued.set(access, { email: account.client_email, until: Date.now() + seconds * 1000 });
    return { status: 200, body: { access_token: access, expires_in: seconds, token_type: "Bearer" } };
  }

  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url ?? "/", "http://x");
    const q = url.searchParams;
    const done = (op: string, bucket: string, status: number, detail?: string) => log.push({ op, bucket, status, ...(detail ? { detail } : {}) });

    if (req.method === "POST" && url.pathname === "/token") {
      const fault = faults.find((f) => f.op === "token" && f.count > 0);
      if (fault) {
        fault.count--;
        done("token", "", fault.status);
        return json(res, fault.status, { error: "internal_failure", error_description: "injected fault" });
      }
      const r = token(new URLSearchParams(body.toString("utf8")));
      done("token", "", r.status);
      return json(res, r.status, r.body);
    }

    const m = /^\/(upload\/)?storage\/v1\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(url.pathname);
    const bucket = m ? decodeURIComponent(m[2]!) : "";
    const auth = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
    const grant = auth ? issued.get(auth) : undefined;
    // A session URI is a credential of its own: requests to it need no token (but a token they
    // bring must be valid).
    const sessionRequest = Boolean(m?.[1] && q.get("upload_id"));
    if (!(sessionRequest && req.headers.authorization === undefined) && (!grant || grant.until < Date.now())) {
      done("unauthorized", bucket, 401);
      return apiError(res, 401, "authError", "Invalid Credentials");
    }
    if (!m) return apiError(res, 404, "notFound", "Not Found");
    const objects = buckets.get(bucket);
    if (!objects) {
      done("no_bucket", bucket, 404);
      return apiError(res, 404, "notFound", "The specified bucket does not exist.");
    }

    // Resumable uploads. https://cloud.google.com/storage/docs/performing-resumable-uploads
    if (m[1]) {
      if (req.method === "POST" && q.get("uploadType") === "resumable") {
        const name = q.get("name") ?? "";
        if (!name) return done("create_session", bucket, 400), apiError(res, 400, "required", "Required parameter: name");
        const id = randomBytes(12).toString("hex");
        const total = req.headers["x-upload-content-length"];
        sessions.set(id, {
          bucket,
          name,
          total: total === undefined ? null : Number(total),
          contentType: String(req.headers["x-upload-content-type"] ?? "application/octet-stream"),
          chunks: [],
          persisted: 0,
          done: null,
          cancelled: false,
        });
        done("create_session", bucket, 200, name);
        res.writeHead(200, { location: `http://127.0.0.1:${port}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}` });
        return res.end();
      }
      const s = sessions.get(q.get("upload_id") ?? "");
      if (!s || s.bucket !== bucket) return done("session", bucket, 404), apiError(res, 404, "notFound", "No such upload session");
      if (req.method === "DELETE") {
        s.cancelled = true;
        done("cancel", bucket, 499);
        res.writeHead(499);
        return res.end();
      }
      if (s.cancelled) return done("session", bucket, 499), apiError(res, 499, "clientClosedRequest", "The upload was cancelled");
      if (req.method !== "PUT") return apiError(res, 405, "methodNotAllowed", "PUT the chunks");
      const cr = String(req.headers["content-range"] ?? "");
      const status = () => {
        if (s.done) return json(res, 200, meta(bucket, s.name, s.done));
        res.writeHead(308, s.persisted ? { range: `bytes=0-${s.persisted - 1}` } : {});
        res.end();
      };
      const st = /^bytes \*\/(\d+|\*)$/.exec(cr);
      if (st) {
        // A status query; for an empty object, `bytes */0` is also its (only) final request.
        if (!s.done && st[1] === "0" && s.persisted === 0) s.done = store(bucket, s.name, Buffer.alloc(0), s.contentType);
        done("status", bucket, s.done ? 200 : 308);
        return status();
      }
      const c = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr);
      if (!c) return done("chunk", bucket, 400), apiError(res, 400, "invalid", `Invalid Content-Range: ${cr}`);
      const [from, to] = [Number(c[1]), Number(c[2])];
      const total = c[3] === "*" ? null : Number(c[3]);
      if (s.done) return done("chunk", bucket, 200), status();
      if (to - from + 1 !== body.length) return done("chunk", bucket, 400), apiError(res, 400, "invalid", "Content-Range does not match the body's length");
      if (from !== s.persisted) return done("chunk", bucket, 400), apiError(res, 400, "invalid", `the chunk starts at ${from}, the session holds ${s.persisted} bytes`);
      if (total !== null && s.total !== null && total !== s.total) return done("chunk", bucket, 400), apiError(res, 400, "invalid", "total size changed");
      const last = total !== null && to + 1 === total;
      if (!last && body.length % CHUNK_MULTIPLE !== 0) {
        return done("chunk", bucket, 400), apiError(res, 400, "invalid", `a chunk that is not the last must be a multiple of ${CHUNK_MULTIPLE} bytes`);
      }
      const fault = faults.find((f) => f.bucket === bucket && f.op === "chunk" && f.count > 0);
      if (fault) {
        fault.count--;
        if (fault.status === 308 && fault.keep !== undefined) {
          s.chunks.push(body.subarray(0, fault.keep));
          s.persisted += fault.keep;
          done("chunk", bucket, 308, "partial");
          return status();
        }
        done("chunk", bucket, fault.status, "fault");
        return apiError(res, fault.status, "backendError", "injected fault");
      }
      s.chunks.push(body);
      s.persisted += body.length;
      if (last) {
        s.done = store(bucket, s.name, Buffer.concat(s.chunks), s.contentType);
        done("chunk", bucket, 200, "final");
        return status();
      }
      done("chunk", bucket, 308);
      return status();
    }

    // objects.list https://cloud.google.com/storage/docs/json_api/v1/objects/list
    if (req.method === "GET" && !m[3]) {
      const prefix = q.get("prefix") ?? "";
      const names = [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
      const max = Math.min(Number(q.get("maxResults") ?? 1000), 1000);
      const from = q.get("pageToken") ? Number(Buffer.from(q.get("pageToken")!, "base64url").toString()) : 0;
      const page = names.slice(from, from + max);
      done("list", bucket, 200);
      return json(res, 200, {
        kind: "storage#objects",
        items: page.map((k) => meta(bucket, k, objects.get(k)!)),
        ...(from + max < names.length ? { nextPageToken: Buffer.from(String(from + max)).toString("base64url") } : {}),
      });
    }

    // media download https://cloud.google.com/storage/docs/json_api/v1/objects/get
    if (req.method === "GET" && m[3]) {
      const name = decodeURIComponent(m[3]);
      const o = objects.get(name);
      if (!o) return done("get", bucket, 404), apiError(res, 404, "notFound", `No such object: ${bucket}/${name}`);
      const want = q.get("ifGenerationMatch");
      if (want && want !== o.generation) return done("get", bucket, 412), apiError(res, 412, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.");
      if (q.get("alt") !== "media") return done("get", bucket, 200), json(res, 200, meta(bucket, name, o));
      const r = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ""));
      if (r) {
        const part = o.data.subarray(Number(r[1]), Number(r[2]) + 1);
        done("get", bucket, 206);
        res.writeHead(206, { "content-length": String(part.length), "x-goog-generation": o.generation });
        return res.end(part);
      }
      done("get", bucket, 200);
      res.writeHead(200, { "content-length": String(o.data.length), "x-goog-generation": o.generation });
      return res.end(o.data);
    }
    return apiError(res, 405, "methodNotAllowed", "not supported by the stand-in");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    tokenUri: tokenUri(),
    createBucket: (name: string) => void (buckets.has(name) || buckets.set(name, new Map())),
    putObject: (bucket: string, name: string, data: Buffer) => store(bucket, name, data),
    object: (bucket: string, name: string) => buckets.get(bucket)?.get(name)?.data,
    openSessions: (bucket: string) => [...sessions.values()].filter((s) => s.bucket === bucket && !s.done && !s.cancelled).length,
    addFault: (f: GcsFault) => faults.push(f),
    /** what was asked of `bucket`; token requests are logged under "" */
    log: (bucket: string) => log.filter((l) => l.bucket === bucket),
    async close() {
      await new Promise((r) => server.close(r));
    },
  };
}
