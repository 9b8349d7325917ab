import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import busboy from "busboy";

/**
 * Streams the `file` field of a multipart/form-data request into R2 without holding the
 * upload in memory: busboy parses the body as it arrives and the file's bytes go to R2 in
 * multipart-upload parts of PART_BYTES, so memory stays around one part whatever the file size
 * (a Worker has 128 MB). R2 needs parts of at least 5 MiB, all the same size but the last.
 * https://developers.cloudflare.com/r2/objects/multipart-objects/
 * https://developers.cloudflare.com/workers/platform/limits/#memory
 */
export const PART_BYTES = 5 * 1024 * 1024;
/** How much of the file's start is kept to read the header row from. */
export const HEAD_BYTES = 64 * 1024;

export class UploadError extends Error {
  constructor(
    readonly kind: "too_large" | "bad_request" | "unsupported_media_type",
    message: string,
  ) {
    super(message);
  }
}

export interface StagedFile {
  key: string;
  bytes: number;
  fileName: string | null;
  /** the first HEAD_BYTES of the file (fewer when the file is smaller) */
  head: Uint8Array;
  /** hex SHA-256 of the file, computed as it streams (the Idempotency-Key fingerprint) */
  sha256: string;
}

/** Writes a byte stream to R2 in equal parts; a file smaller than one part is one plain put. */
class R2PartWriter {
  private part = new Uint8Array(PART_BYTES);
  private fill = 0;
  private upload: R2MultipartUpload | null = null;
  private parts: R2UploadedPart[] = [];
  bytes = 0;
  head = new Uint8Array(0);
  readonly hash = createHash("sha256");

  constructor(
    private bucket: R2Bucket,
    private key: string,
    private contentType: string,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.head.length < HEAD_BYTES) {
      const add = chunk.subarray(0, HEAD_BYTES - this.head.length);
      const next = new Uint8Array(this.head.length + add.length);
      next.set(this.head);
      next.set(add, this.head.length);
      this.head = next;
    }
    this.bytes += chunk.length;
    this.hash.update(chunk);
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(PART_BYTES - this.fill, chunk.length - at);
      this.part.set(chunk.subarray(at, at + n), this.fill);
      this.fill += n;
      at += n;
      if (this.fill === PART_BYTES) await this.flushPart();
    }
  }

  private async flushPart(): Promise<void> {
    this.upload ??= await this.bucket.createMultipartUpload(this.key, { httpMetadata: { contentType: this.contentType } });
    this.parts.push(await this.upload.uploadPart(this.parts.length + 1, this.part.subarray(0, this.fill)));
    this.fill = 0;
  }

  async finish(): Promise<void> {
    if (!this.upload) {
      await this.bucket.put(this.key, this.part.subarray(0, this.fill), { httpMetadata: { contentType: this.contentType } });
      return;
    }
    if (this.fill > 0) await this.flushPart();
    await this.upload.complete(this.parts);
  }

  async abort(): Promise<void> {
    await this.upload?.abort().catch(() => {});
  }
}

/**
 * Stages the multipart field `file` of `req` at `key`. Refuses (UploadError) a body that is not
 * multipart/form-data, has no `file` field, or whose file is larger than `maxBytes`.
 */
export async function stageMultipartFile(req: Request, bucket: R2Bucket, key: string, maxBytes: number): Promise<StagedFile> {
  const contentType = req.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType) || !/boundary=/i.test(contentType)) {
    throw new UploadError("unsupported_media_type", "Send the CSV as multipart/form-data with the file in the field 'file' (curl -F file=@data.csv)");
  }
  if (!req.body) throw new UploadError("bad_request", "The request has no body: send the CSV in the multipart field 'file'");

  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: { "content-type": contentType }, limits: { files: 1, fileSize: maxBytes, fields: 20, parts: 21 } });
  } catch (err) {
    throw new UploadError("bad_request", `Malformed multipart/form-data request: ${(err as Error).message}`);
  }

  const writer = new R2PartWriter(bucket, key, "text/csv");
  let fileName: string | null = null;
  let fileDone: Promise<void> | null = null;
  let failure: UploadError | Error | null = null;

  bb.on("file", (name, stream, info) => {
    if (name !== "file" || fileDone) {
      stream.resume();
      return;
    }
    fileName = info.filename ?? null;
    fileDone = (async () => {
      let truncated = false;
      stream.on("limit", () => {
        truncated = true;
        // Stop reading the request at once: the rest of an oversized body is never read.
        failure ??= new UploadError("too_large", `The file is larger than the upload limit of ${maxBytes} bytes (MAX_UPLOAD_BYTES)`);
      });
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (truncated || failure) continue;
        await writer.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      }
      if (truncated) throw new UploadError("too_large", `The file is larger than the upload limit of ${maxBytes} bytes (MAX_UPLOAD_BYTES)`);
      await writer.finish();
    })().catch((err) => {
      failure ??= err as Error;
      stream.resume();
    });
  });
  let fileAsText = false;
  bb.on("field", (name) => {
    if (name === "file") fileAsText = true;
  });
  const closed = new Promise<void>((resolve, reject) => {
    bb.on("close", resolve);
    bb.on("error", (err) => reject(new UploadError("bad_request", `Malformed multipart/form-data body: ${(err as Error).message}`)));
  });

  const reader = req.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (failure) break;
      if (!bb.write(Buffer.from(value.buffer, value.byteOffset, value.byteLength))) {
        await new Promise<void>((resolve) => bb.once("drain", resolve));
      }
    }
    if (!failure) {
      bb.end();
      await closed;
      await fileDone;
    }
  } catch (err) {
    failure ??= err as Error;
  }
  if (failure) {
    // The rest of the body is not read (a 200 MB upload over a 100 MB limit stops at the
    // limit), and the parts staged so far are dropped.
    await reader.cancel().catch(() => {});
    bb.destroy();
    await fileDone;
    await writer.abort();
    throw failure;
  }
  if (!fileDone && fileAsText) {
    throw new UploadError("bad_request", "The field 'file' came without a filename, as a text field: send the CSV as a file (curl -F file=@data.csv)");
  }
  if (!fileDone) throw new UploadError("bad_request", "No file in the multipart field 'file' (curl -F file=@data.csv)");
  return { key, bytes: writer.bytes, fileName, head: writer.head, sha256: writer.hash.digest("hex") };
}
