/**
 * S3-compatible buckets (AWS S3, R2, GCS interoperability, MinIO, Spaces, ...) over
 * aws4fetch (SigV4), as a resumable upload (TargetDriver): files up to one part go up in a
 * single PutObject; larger ones in a multipart upload whose parts, all the same size but the
 * last, are sent one per delivery chain link, so memory holds one part at a time.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html
 */
import { AwsClient } from "aws4fetch";
import type { Env } from "../env";
import type { S3Target } from "./config";
import { checkTargetHost } from "./hosts";
import { type HttpFailure, MiB, choosePartSize, parseXmlError, rangeBody, requestWithRetry, requestWithRetryAs } from "./http";
import {
  type DeliveryOptions,
  type TargetDriver,
  TargetError,
  UploadRestart,
  type UploadState,
  expandTemplate,
  partCount,
  partRange,
} from "./types";

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

/** What an S3 delivery keeps between parts. */
export interface S3UploadState extends UploadState {
  key: string;
  content_type: string;
  /** the multipart upload; null when the file fits one part and goes up in one PutObject */
  upload_id: string | null;
  /** ETag of part n at index n - 1 */
  etags: string[];
}

const xmlEscape = (v: string) => v.replace(/&/g, "&amp;").replace(/</g, "&lt;");

export const s3Driver: TargetDriver<S3Target, S3UploadState> = {
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

  /**
   * Plans the upload: all parts the same size (>= 5 MiB, S3's minimum for every part but the
   * last) but the last. A file up to one part needs no multipart upload: its one part is a
   * PutObject. https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html
   */
  async begin(s, cfg, file, ctx, opts = {}) {
    await checkTargetHost(s.env, new URL(cfg.endpoint).hostname);
    const key = expandTemplate(cfg.key, file, ctx).replace(/^\/+/, "");
    const part_size = choosePartSize(file.size, cfg.part_size_mb * MiB);
    const state: S3UploadState = { size: file.size, part_size, sent: 0, key, content_type: file.contentType, upload_id: null, etags: [] };
    if (file.size <= part_size) return state;
    const created = await requestWithRetry(
      "CreateMultipartUpload",
      (signal) => client(cfg).fetch(`${objectUrl(cfg, key)}?uploads`, { method: "POST", headers: { "content-type": file.contentType }, signal }),
      classify(cfg, "CreateMultipartUpload"),
      opts,
    );
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body)?.[1];
    if (!uploadId) throw new TargetError("refused", `CreateMultipartUpload on bucket '${cfg.bucket}' answered without an UploadId`);
    return { ...state, upload_id: xmlText(uploadId) };
  },

  async putPart(s, cfg, state, n, bytes, opts = {}) {
    await checkTargetHost(s.env, new URL(cfg.endpoint).hostname);
    const aws = client(cfg);
    const url = objectUrl(cfg, state.key);
    const range = partRange(state, n);
    if (bytes.byteLength !== range.length) throw new Error(`part ${n} has ${bytes.byteLength} bytes, expected ${range.length}`);
    if (state.upload_id === null) {
      await requestWithRetry(
        "PutObject",
        (signal) => aws.fetch(url, { method: "PUT", body: bytes, headers: { "content-type": state.content_type }, signal }),
        classify(cfg, "PutObject"),
        opts,
      );
      return { ...state, sent: state.size };
    }
    // A part sent again (a retried link) replaces the earlier copy of the same part number.
    const q = `partNumber=${n}&uploadId=${encodeURIComponent(state.upload_id)}`;
    const { res } = await requestWithRetry(
      `UploadPart ${n}`,
      (signal) => aws.fetch(`${url}?${q}`, { method: "PUT", body: bytes, signal }),
      classify(cfg, `UploadPart ${n}`),
      opts,
    );
    const etag = res.headers.get("etag");
    if (!etag) throw new TargetError("refused", `UploadPart ${n} on bucket '${cfg.bucket}' answered without an ETag`);
    const etags = [...state.etags];
    etags[n - 1] = etag;
    return { ...state, etags, sent: range.offset + range.length };
  },

  async complete(s, cfg, state, opts = {}) {
    await checkTargetHost(s.env, new URL(cfg.endpoint).hostname);
    const aws = client(cfg);
    const url = objectUrl(cfg, state.key);
    const location = `s3://${cfg.bucket}/${state.key}`;
    if (state.upload_id === null) {
      // An empty file has no part: its object is made here.
      if (state.size === 0) {
        await requestWithRetry(
          "PutObject",
          (signal) => aws.fetch(url, { method: "PUT", body: new Uint8Array(0), headers: { "content-type": state.content_type }, signal }),
          classify(cfg, "PutObject"),
          opts,
        );
      } else if (state.sent !== state.size) {
        throw new UploadRestart(`s3://${cfg.bucket}/${state.key}: the file was not sent before completing`);
      }
      return { location };
    }
    const parts = partCount(state.size, state.part_size);
    for (let i = 0; i < parts; i++) {
      if (!state.etags[i]) throw new UploadRestart(`s3://${cfg.bucket}/${state.key}: part ${i + 1} of ${parts} was not sent before completing`);
    }
    const xml = `<CompleteMultipartUpload>${state.etags
      .slice(0, parts)
      .map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${xmlEscape(e)}</ETag></Part>`)
      .join("")}</CompleteMultipartUpload>`;
    try {
      await requestWithRetry(
        "CompleteMultipartUpload",
        (signal) =>
          aws.fetch(`${url}?uploadId=${encodeURIComponent(state.upload_id!)}`, { method: "POST", body: xml, headers: { "content-type": "application/xml" }, signal }),
        classify(cfg, "CompleteMultipartUpload"),
        opts,
        completeBodyError,
      );
    } catch (err) {
      // Completed by an earlier attempt whose answer was lost? Then the upload id is gone and
      // the object is there, with the ETag S3 gives exactly this list of parts.
      const expected = await multipartEtag(state.etags.slice(0, parts));
      if (!expected || (await objectEtag(cfg, state.key, opts).catch(() => null)) !== expected) throw err;
    }
    return { location };
  },

  /** Parts of an unfinished upload are billed until it is aborted. */
  async abort(s, cfg, state, opts = {}) {
    if (state.upload_id === null) return;
    await checkTargetHost(s.env, new URL(cfg.endpoint).hostname);
    const url = `${objectUrl(cfg, state.key)}?uploadId=${encodeURIComponent(state.upload_id)}`;
    const classifyAbort = classify(cfg, "AbortMultipartUpload");
    await requestWithRetry(
      "AbortMultipartUpload",
      async (signal) => {
        const res = await client(cfg).fetch(url, { method: "DELETE", signal });
        // Already aborted or completed: nothing left to drop.
        if (res.status === 404) {
          await res.body?.cancel();
          return new Response(null, { status: 204 });
        }
        return res;
      },
      classifyAbort,
      opts,
    );
  },
};

/**
 * The ETag S3 gives a completed multipart upload: the MD5 of its parts' MD5 digests, then "-"
 * and the number of parts. Null when a part's ETag is not an MD5 (SSE-KMS, SSE-C), where the
 * completed object cannot be recognised this way.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html#large-object-checksums
 */
export async function multipartEtag(partEtags: string[]): Promise<string | null> {
  const digests = partEtags.map(unquote);
  if (!digests.every((d) => /^[0-9a-f]{32}$/i.test(d))) return null;
  const joined = new Uint8Array(digests.length * 16);
  digests.forEach((d, i) => joined.set(d.match(/../g)!.map((h) => Number.parseInt(h, 16)), i * 16));
  // MD5 is what S3 uses here; workerd's WebCrypto offers it for such interoperability.
  const md5 = new Uint8Array(await crypto.subtle.digest("MD5", joined));
  return `${Array.from(md5, (b) => b.toString(16).padStart(2, "0")).join("")}-${digests.length}`;
}

/** The ETag of an object (HeadObject, without quotes), or null when there is none. */
async function objectEtag(cfg: S3Bucket, key: string, opts: DeliveryOptions): Promise<string | null> {
  let missing = false;
  const { res } = await requestWithRetry(
    "HeadObject",
    async (signal) => {
      const r = await client(cfg).fetch(objectUrl(cfg, key), { method: "HEAD", signal });
      if (r.status === 404) {
        missing = true;
        return new Response(null, { status: 200 });
      }
      return r;
    },
    classify(cfg, "HeadObject", "read objects of"),
    opts,
  );
  return missing ? null : unquote(res.headers.get("etag") ?? "");
}

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

