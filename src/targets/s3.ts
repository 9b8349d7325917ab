/**
 * S3-compatible buckets (AWS S3, R2, GCS interoperability, MinIO, Spaces, ...) over
 * aws4fetch (SigV4). Files below one part go up in a single PutObject; larger ones in
 * a multipart upload whose parts, all the same size but the last, are read from R2 by
 * range, so memory holds one part at a time.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html
 */
import { AwsClient } from "aws4fetch";
import type { Env } from "../env";
import type { S3Target } from "./config";
import { checkTargetHost } from "./hosts";
import { type HttpFailure, choosePartSize, parseXmlError, partRanges, rangeBody, requestWithRetry, requestWithRetryAs } from "./http";
import { type DeliveryOptions, type TargetDriver, TargetError, expandTemplate, readFile } from "./types";

/** Error codes worth retrying. https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html */
const TRANSIENT_CODES = new Set(["SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeTooSkewed", "OperationAborted"]);
const AUTH_CODES = new Set(["AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken", "AccountProblem"]);

/** What the read functions need of a bucket configuration (a delivery target or an ingestion source). */
export type S3Bucket = Pick<S3Target, "endpoint" | "region" | "bucket" | "access_key_id" | "secret_access_key" | "session_token" | "path_style">;

function classify(cfg: S3Bucket, what: string, access = "write to") {
  return (f: HttpFailure): TargetError => {
    const detail = `${what} on bucket '${cfg.bucket}' failed: ${f.status} ${f.code}${f.message ? ` (${f.message})` : ""}`;
    if (f.code === "NoSuchBucket") return new TargetError("not_found", `bucket '${cfg.bucket}' does not exist at ${cfg.endpoint}`);
    if (AUTH_CODES.has(f.code) || f.status === 403) {
      return new TargetError("auth", `${detail}; check access_key_id and secret_access_key, and that they may ${access} the bucket`);
    }
    if (f.code === "AuthorizationHeaderMalformed" || f.code === "PermanentRedirect" || f.status === 301) {
      return new TargetError("config", `${detail}; check the region ('${cfg.region}') and the endpoint`);
    }
    if (f.status >= 500 || f.status === 429 || TRANSIENT_CODES.has(f.code)) return new TargetError("transient", detail);
    if (f.status === 404) return new TargetError("not_found", detail);
    return new TargetError("refused", detail);
  };
}

function client(cfg: S3Bucket) {
  // retries: 0 — retries are ours (requestWithRetry), bounded and classified.
  return new AwsClient({
    accessKeyId: cfg.access_key_id,
    secretAccessKey: cfg.secret_access_key,
    sessionToken: cfg.session_token,
    service: "s3",
    region: cfg.region,
    retries: 0,
  });
}

/** Path style: `<endpoint>/<bucket>/<key>`; virtual-hosted: `<bucket>.<endpoint host>/<key>`. */
export function objectUrl(cfg: Pick<S3Target, "endpoint" | "bucket" | "path_style">, key: string): URL {
  const base = new URL(cfg.endpoint);
  const prefix = base.pathname.replace(/\/+$/, "");
  const encodedKey = key.split("/").map(encodeURIComponent).join("/");
  if (cfg.path_style) {
    base.pathname = `${prefix}/${cfg.bucket}${key ? `/${encodedKey}` : ""}`;
  } else {
    base.hostname = `${cfg.bucket}.${base.hostname}`;
    base.pathname = `${prefix}/${encodedKey}`;
  }
  return base;
}

/** CompleteMultipartUpload can answer 200 and still fail: the error is in the body. */
function completeBodyError(res: Response, body: string): HttpFailure | null {
  return /<Error>/.test(body) ? parseXmlError(res.status, body) : null;
}

export const s3Driver: TargetDriver<S3Target> = {
  async test(env, cfg, opts = {}) {
    await checkTargetHost(env, new URL(cfg.endpoint).hostname);
    const aws = client(cfg);
    const url = objectUrl(cfg, "");
    // HeadBucket: needs s3:ListBucket. A HEAD error has no body, so name the status.
    await requestWithRetry(
      "HeadBucket",
      (signal) => aws.fetch(url, { method: "HEAD", signal }),
      (f) => (f.status === 404 ? new TargetError("not_found", `bucket '${cfg.bucket}' does not exist at ${cfg.endpoint}`) : classify(cfg, "HeadBucket")(f)),
      opts,
    );
  },

  async deliver(env, cfg, file, ctx, opts: DeliveryOptions = {}) {
    await checkTargetHost(env, new URL(cfg.endpoint).hostname);
    const aws = client(cfg);
    const key = expandTemplate(cfg.key, file, ctx).replace(/^\/+/, "");
    const url = objectUrl(cfg, key);
    const location = `s3://${cfg.bucket}/${key}`;
    const partSize = choosePartSize(file.size, cfg.part_size_mb);

    if (file.size <= partSize) {
      const body = await (await readFile(env, file.key)).arrayBuffer();
      await requestWithRetry(
        "PutObject",
        (signal) => aws.fetch(url, { method: "PUT", body, headers: { "content-type": file.contentType }, signal }),
        classify(cfg, "PutObject"),
        opts,
      );
      return { location };
    }

    const created = await requestWithRetry(
      "CreateMultipartUpload",
      (signal) => aws.fetch(`${url}?uploads`, { method: "POST", headers: { "content-type": file.contentType }, signal }),
      classify(cfg, "CreateMultipartUpload"),
      opts,
    );
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body)?.[1];
    if (!uploadId) throw new TargetError("refused", `CreateMultipartUpload on bucket '${cfg.bucket}' answered without an UploadId`);
    const q = `uploadId=${encodeURIComponent(uploadId)}`;
    try {
      const etags: string[] = [];
      for (const [i, range] of partRanges(file.size, partSize).entries()) {
        const body = await (await readFile(env, file.key, range)).arrayBuffer();
        const { res } = await requestWithRetry(
          `UploadPart ${i + 1}`,
          (signal) => aws.fetch(`${url}?partNumber=${i + 1}&${q}`, { method: "PUT", body, signal }),
          classify(cfg, `UploadPart ${i + 1}`),
          opts,
        );
        const etag = res.headers.get("etag");
        if (!etag) throw new TargetError("refused", `UploadPart ${i + 1} on bucket '${cfg.bucket}' answered without an ETag`);
        etags.push(etag);
      }
      const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</ETag></Part>`).join("")}</CompleteMultipartUpload>`;
      await requestWithRetry(
        "CompleteMultipartUpload",
        (signal) => aws.fetch(`${url}?${q}`, { method: "POST", body: xml, headers: { "content-type": "application/xml" }, signal }),
        classify(cfg, "CompleteMultipartUpload"),
        opts,
        completeBodyError,
      );
      return { location };
    } catch (err) {
      // Parts of an unfinished upload are billed until aborted.
      await aws.fetch(`${url}?${q}`, { method: "DELETE", signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) }).then((r) => r.body?.cancel(), () => {});
      throw err;
    }
  },
};

/** One object of a listing. `etag` keeps S3's quotes off. */
export interface ListedObject {
  key: string;
  etag: string;
  size: number;
}

export interface ObjectPage {
  objects: ListedObject[];
  /** continuation token of the next page; null at the end of the listing */
  next: string | null;
}

export const xmlText = (s: string) =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, "&");
export const unquote = (etag: string) => etag.replace(/^W\//, "").replace(/^"|"$/g, "");

/**
 * One page of ListObjectsV2 (at most `maxKeys`, S3 caps it at 1000), from `token` or after
 * `startAfter`. Needs s3:ListBucket.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
 */
export async function listObjects(
  env: Env,
  cfg: S3Bucket,
  page: { prefix?: string; token?: string | null; startAfter?: string | null; maxKeys?: number },
  opts: DeliveryOptions = {},
): Promise<ObjectPage> {
  await checkTargetHost(env, new URL(cfg.endpoint).hostname);
  const url = objectUrl(cfg, "");
  url.searchParams.set("list-type", "2");
  url.searchParams.set("max-keys", String(page.maxKeys ?? 1000));
  if (page.prefix) url.searchParams.set("prefix", page.prefix);
  if (page.token) url.searchParams.set("continuation-token", page.token);
  else if (page.startAfter) url.searchParams.set("start-after", page.startAfter);
  const { body } = await requestWithRetry("ListObjectsV2", (signal) => client(cfg).fetch(url, { signal }), classify(cfg, "ListObjectsV2", "list"), opts);
  const objects: ListedObject[] = [];
  for (const m of body.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const c = m[1] ?? "";
    const key = /<Key>([\s\S]*?)<\/Key>/.exec(c)?.[1];
    if (key === undefined) continue;
    objects.push({
      key: xmlText(key),
      etag: unquote(xmlText(/<ETag>([\s\S]*?)<\/ETag>/.exec(c)?.[1] ?? "")),
      size: Number(/<Size>(\d+)<\/Size>/.exec(c)?.[1] ?? 0),
    });
  }
  const truncated = /<IsTruncated>true<\/IsTruncated>/.test(body);
  const token = /<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(body)?.[1];
  return { objects, next: truncated && token ? xmlText(token) : null };
}

function readClassify(cfg: S3Bucket, what: string, key: string) {
  const base = classify(cfg, what, "read objects of");
  return (f: HttpFailure) =>
    f.status === 412 || f.code === "PreconditionFailed"
      ? new TargetError("refused", `s3://${cfg.bucket}/${key} changed while it was read (its ETag no longer matches)`)
      : f.status === 404 && f.code !== "NoSuchBucket"
        ? new TargetError("not_found", `s3://${cfg.bucket}/${key} is gone`)
        : base(f);
}

/**
 * Bytes `[offset, offset + length)` of one object version: a ranged GetObject with If-Match,
 * so a file rewritten since it was listed is refused instead of read half old, half new.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
 */
export async function getObjectRange(
  env: Env,
  cfg: S3Bucket,
  key: string,
  etag: string,
  range: { offset: number; length: number },
  opts: DeliveryOptions = {},
): Promise<Uint8Array> {
  await checkTargetHost(env, new URL(cfg.endpoint).hostname);
  const url = objectUrl(cfg, key);
  const headers = { range: `bytes=${range.offset}-${range.offset + range.length - 1}`, "if-match": `"${etag}"` };
  return requestWithRetryAs(
    "GetObject",
    (signal) => client(cfg).fetch(url, { headers, signal }),
    readClassify(cfg, "GetObject", key),
    opts,
    async (res) => rangeBody(res, range),
  );
}

/** The whole object version as a stream (for gzip, which cannot be read from the middle). */
export async function getObjectStream(env: Env, cfg: S3Bucket, key: string, etag: string, opts: DeliveryOptions = {}): Promise<ReadableStream<Uint8Array>> {
  await checkTargetHost(env, new URL(cfg.endpoint).hostname);
  const url = objectUrl(cfg, key);
  return requestWithRetryAs(
    "GetObject",
    (signal) => client(cfg).fetch(url, { headers: { "if-match": `"${etag}"` }, signal }),
    readClassify(cfg, "GetObject", key),
    opts,
    async (res) => {
      if (!res.body) throw new TargetError("refused", `GetObject s3://${cfg.bucket}/${key} answered without a body`);
      return res.body;
    },
  );
}

