/**
 * An S3 server for the target tests: s3rver stores objects (it speaks S3, multipart
 * included, but accepts any signature), and a proxy in front of it refuses what S3
 * refuses. The proxy recomputes every SigV4 signature with the `aws4` package, an
 * implementation independent of the `aws4fetch` the worker signs with, and checks the
 * payload hash, the credential scope and the clock skew.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
 *
 * Faults can be injected per bucket (see S3Fault) to exercise retries and failures.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
// @ts-expect-error no types shipped
import aws4 from "aws4";
// @ts-expect-error no types shipped
import S3rver from "s3rver";
import { readBody } from "./body";

export type S3Op = "put_object" | "create_multipart" | "upload_part" | "complete" | "abort" | "other";

export interface S3Fault {
  bucket: string;
  op: S3Op;
  /** how many matching requests get the fault */
  count: number;
  /** error: answer `status` with an S3 error `code`; complete_error: 200 with an <Error> body; hang: never answer */
  kind: "error" | "complete_error" | "hang";
  status?: number;
  code?: string;
}

export interface S3LogEntry {
  method: string;
  op: S3Op;
  key: string;
  status: number;
  faulted: boolean;
  /** the Range header of a GET, when there was one */
  range?: string | undefined;
}

export interface S3Creds {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

function s3Error(res: http.ServerResponse, status: number, code: string, message: string) {
  res.writeHead(status, { "content-type": "application/xml" });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>test</RequestId></Error>`);
}


function classify(method: string, query: URLSearchParams): S3Op {
  if (method === "PUT" && query.has("partNumber")) return "upload_part";
  if (method === "PUT") return "put_object";
  if (method === "POST" && query.has("uploads")) return "create_multipart";
  if (method === "POST" && query.has("uploadId")) return "complete";
  if (method === "DELETE" && query.has("uploadId")) return "abort";
  return "other";
}

/** Returns an error [status, code, message] when the request's SigV4 signature does not hold. */
function verifySigV4(req: http.IncomingMessage, body: Buffer, creds: S3Creds): [number, string, string] | null {
  const auth = req.headers.authorization;
  if (!auth) return [403, "AccessDenied", "Anonymous access is not allowed"];
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return [400, "AuthorizationHeaderMalformed", "The authorization header is malformed"];
  const [, akid, scopeDate, region, signedHeaders, signature] = m as unknown as string[];
  if (akid !== creds.accessKeyId) return [403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."];
  if (region !== creds.region) return [400, "AuthorizationHeaderMalformed", `the region '${region}' is wrong; expecting '${creds.region}'`];
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  if (!amzDate.startsWith(scopeDate!)) return [403, "SignatureDoesNotMatch", "credential scope date differs from x-amz-date"];
  const when = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"));
  if (!Number.isFinite(when) || Math.abs(Date.now() - when) > 15 * 60_000) {
    return [403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."];
  }
  const payloadHash = String(req.headers["x-amz-content-sha256"] ?? "");
  if (!payloadHash) return [400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"];
  if (payloadHash !== "UNSIGNED-PAYLOAD" && payloadHash !== createHash("sha256").update(body).digest("hex")) {
    return [400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."];
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders!.split(";")) {
    const v = req.headers[name];
    if (v === undefined) return [403, "SignatureDoesNotMatch", `signed header '${name}' is missing`];
    headers[name] = Array.isArray(v) ? v.join(",") : v;
  }
  const signer = new aws4.RequestSigner(
    { service: "s3", region, method: req.method, host: headers.host, path: req.url, headers },
    { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
  );
  // Before signature(): aws4 otherwise takes the date from the clock, not from x-amz-date.
  signer.prepareRequest();
  const expected: string = signer.signature();
  const expectedHeaders: string = signer.signedHeaders();
  if (expectedHeaders !== signedHeaders || expected !== signature) {
    if (process.env.FERRY_S3_DEBUG) console.error("SIGV4 MISMATCH", req.url, expectedHeaders, signedHeaders, expected, signature);
    return [403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."];
  }
  return null;
}

export async function startS3(creds: S3Creds) {
  const directory = mkdtempSync(join(tmpdir(), "ferry-s3-"));
  const s3rver = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory });
  const backend: AddressInfo = await s3rver.run();

  const faults: S3Fault[] = [];
  /** multipart uploads created and neither completed nor aborted: upload id -> bucket */
  const openUploads = new Map<string, string>();
  /** `bucket/key` -> the S3-style ETag of an object made by a multipart upload */
  const multipartEtags = new Map<string, string>();
  const log = new Map<string, S3LogEntry[]>();

  const forward = (method: string, path: string, headers: http.OutgoingHttpHeaders, body: Buffer) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const r = http.request({ host: "127.0.0.1", port: backend.port, method, path, headers }, async (res) => {
        resolve({ status: res.statusCode ?? 500, headers: res.headers, body: await readBody(res) });
      });
      r.on("error", reject);
      r.end(body);
    });

  /**
   * ListObjectsV2 through s3rver's V1 listing: s3rver answers a truncated V2 page with a 500
   * on Node >= 17 (its continuation tokens use DES, which OpenSSL 3 dropped). The token here
   * is the base64 of the page's last key, and `start-after` / `continuation-token` become
   * V1's `marker`. https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
   */
  async function listV2(path: string, q: URLSearchParams, headers: http.OutgoingHttpHeaders) {
    const v1 = new URLSearchParams();
    for (const k of ["prefix", "delimiter", "max-keys"]) if (q.has(k)) v1.set(k, q.get(k)!);
    const token = q.get("continuation-token");
    const marker = token ? Buffer.from(token, "base64url").toString() : q.get("start-after");
    if (marker) v1.set("marker", marker);
    const out = await forward("GET", `${path}?${v1}`, headers, Buffer.alloc(0));
    if (out.status !== 200) return out;
    let xml = out.body.toString();
    const keys = [...xml.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map((m) => m[1]!);
    xml = xml.replace(/<Marker>[\s\S]*?<\/Marker>/, q.get("start-after") ? `<StartAfter>${q.get("start-after")}</StartAfter>` : "");
    xml = xml.replace("<MaxKeys>", `<KeyCount>${keys.length}</KeyCount><MaxKeys>`);
    const last = keys.at(-1);
    if (/<IsTruncated>true<\/IsTruncated>/.test(xml) && last) {
      const next = Buffer.from(last.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&")).toString("base64url");
      xml = xml.replace("</IsTruncated>", `</IsTruncated><NextContinuationToken>${next}</NextContinuationToken>`);
    }
    return { ...out, body: Buffer.from(xml) };
  }

  const proxy = http.createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const url = new URL(req.url ?? "/", "http://x");
      // Path style only (`/<bucket>/<key>`): workerd cannot resolve `<bucket>.localhost`.
      const path = url.pathname;
      const [, bucket = "", ...keyParts] = path.split("/");
      const key = decodeURIComponent(keyParts.join("/"));
      const op = classify(req.method ?? "GET", url.searchParams);
      const entries = log.get(bucket) ?? [];
      log.set(bucket, entries);

      const bad = verifySigV4(req, body, creds);
      if (bad) {
        entries.push({ method: req.method ?? "", op, key, status: bad[0], faulted: false });
        return s3Error(res, ...bad);
      }
      const fault = faults.find((f) => f.bucket === bucket && f.op === op && f.count > 0);
      if (fault) {
        fault.count--;
        if (fault.kind === "hang") {
          entries.push({ method: req.method ?? "", op, key, status: 0, faulted: true });
          setTimeout(() => res.destroy(), 60_000).unref();
          return;
        }
        if (fault.kind === "complete_error") {
          entries.push({ method: req.method ?? "", op, key, status: 200, faulted: true });
          res.writeHead(200, { "content-type": "application/xml" });
          // S3 can answer CompleteMultipartUpload 200 and report the failure in the body.
          // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
          return res.end(`<?xml version="1.0" encoding="UTF-8"?>\n\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>`);
        }
        entries.push({ method: req.method ?? "", op, key, status: fault.status ?? 500, faulted: true });
        return s3Error(res, fault.status ?? 500, fault.code ?? "InternalError", "injected fault");
      }
      // As S3 (s3rver differs): parts, complete and abort of an upload that is no longer open
      // (completed or aborted) answer 404 NoSuchUpload.
      const uploadId = url.searchParams.get("uploadId");
      if (uploadId !== null && !openUploads.has(uploadId)) {
        entries.push({ method: req.method ?? "", op, key, status: 404, faulted: false });
        return s3Error(res, 404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.");
      }
      if (op === "abort" && uploadId !== null) {
        // s3rver has no AbortMultipartUpload: drop its staged parts here, as S3 would.
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html
        openUploads.delete(uploadId);
        rmSync(join(directory, bucket, "._S3rver_uploads", uploadId), { recursive: true, force: true });
        entries.push({ method: req.method ?? "", op, key, status: 204, faulted: false });
        res.writeHead(204);
        return res.end();
      }
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (k === "authorization" || k.startsWith("x-amz-") || k === "host") continue;
        headers[k] = v;
      }
      headers["content-length"] = String(body.length);
      const v2 = req.method === "GET" && url.searchParams.get("list-type") === "2" && keyParts.length === 0;
      const out = v2 ? await listV2(path, url.searchParams, headers) : await forward(req.method ?? "GET", path + url.search, headers, body);
      entries.push({ method: req.method ?? "", op, key, status: out.status, faulted: false, range: req.headers.range });
      const objectId = `${bucket}/${key}`;
      if (out.status < 300) {
        if (op === "create_multipart") {
          const id = /<UploadId>([^<]+)<\/UploadId>/.exec(out.body.toString())?.[1];
          if (id) openUploads.set(id, bucket);
        } else if (op === "complete") {
          openUploads.delete(uploadId ?? "");
        }
        if (op === "complete") {
          // As S3 (s3rver gives the MD5 of the whole object): a multipart object's ETag is the MD5
          // of its parts' MD5 digests, "-", the number of parts.
          // https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
          const parts = [...body.toString().matchAll(/<ETag>([^<]+)<\/ETag>/g)].map((m) => m[1]!.replace(/&quot;|"/g, ""));
          const etag = `"${createHash("md5").update(Buffer.concat(parts.map((p) => Buffer.from(p, "hex")))).digest("hex")}-${parts.length}"`;
          multipartEtags.set(objectId, etag);
          out.body = Buffer.from(out.body.toString().replace(/<ETag>[^<]*<\/ETag>/, `<ETag>${etag.replace(/"/g, "&quot;")}</ETag>`));
        } else if (op === "put_object" || (req.method === "DELETE" && uploadId === null)) {
          multipartEtags.delete(objectId);
        }
      }
      if ((req.method === "GET" || req.method === "HEAD") && multipartEtags.has(objectId) && out.headers.etag) out.headers.etag = multipartEtags.get(objectId);
      const outHeaders = { ...out.headers };
      delete outHeaders["transfer-encoding"];
      outHeaders["content-length"] = String(out.body.length);
      res.writeHead(out.status, outHeaders);
      res.end(out.body);
    } catch (err) {
      s3Error(res, 500, "InternalError", String(err));
    }
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const port = (proxy.address() as AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory,
    async createBucket(name: string) {
      const r = await forward("PUT", `/${name}`, { "content-length": "0" }, Buffer.alloc(0));
      if (r.status !== 200 && r.status !== 409) throw new Error(`create bucket ${name}: ${r.status} ${r.body}`);
    },
    async getObject(bucket: string, key: string) {
      const path = `/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
      return forward("GET", path, {}, Buffer.alloc(0));
    },
    /** ListMultipartUploads, reduced to the upload ids (s3rver does not implement it). */
    async listUploads(bucket: string) {
      const ids = [...openUploads].filter(([, b]) => b === bucket).map(([id]) => `<Upload><UploadId>${id}</UploadId></Upload>`);
      return { status: 200, body: Buffer.from(`<ListMultipartUploadsResult><Bucket>${bucket}</Bucket>${ids.join("")}</ListMultipartUploadsResult>`) };
    },
    addFault(f: S3Fault) {
      faults.push(f);
    },
    log(bucket: string) {
      return log.get(bucket) ?? [];
    },
    async close() {
      await new Promise((r) => proxy.close(r));
      await s3rver.close();
    },
  };
}
