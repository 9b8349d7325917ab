/**
 * The hello-world baseline of bench/upload-memory: reads the body as ferry's CSV upload does
 * (`getReader()`, chunk by chunk), stops at LIMIT, cancels the rest and answers 413. `/drop` keeps
 * nothing; `/r2` copies the bytes into one 5 MiB part buffer and sends each full part to an R2
 * multipart upload, aborted at the limit (src/ingest/csv/upload.ts does the same through busboy).
 */
interface Env {
  FILES: R2Bucket;
}

const LIMIT = 100 * 1024 * 1024;
const PART = 5 * 1024 * 1024;

export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(req.url);
    if (!req.body) return Response.json({ read: 0 }, { status: 201 });
    const toR2 = pathname === "/r2";
    const upload = toR2 ? await env.FILES.createMultipartUpload(`upload-${crypto.randomUUID()}`) : null;
    const part = toR2 ? new Uint8Array(PART) : null;
    let fill = 0;
    let partNumber = 0;
    let read = 0;
    const reader = req.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      read += value.byteLength;
      if (read > LIMIT) {
        await reader.cancel();
        await upload?.abort();
        return Response.json({ message: `larger than ${LIMIT} bytes`, read }, { status: 413 });
      }
      if (!upload || !part) continue;
      for (let at = 0; at < value.byteLength; ) {
        const n = Math.min(PART - fill, value.byteLength - at);
        part.set(value.subarray(at, at + n), fill);
        fill += n;
        at += n;
        if (fill === PART) {
          await upload.uploadPart(++partNumber, part);
          fill = 0;
        }
      }
    }
    await upload?.abort();
    return Response.json({ read }, { status: 201 });
  },
};
