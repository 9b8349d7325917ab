// The runtime floor of bench/export/run.mjs: a bench-only worker under its own `wrangler dev`
// (bench/export/wrangler.floor.toml: the same wrangler, workerd, local D1 and local R2 as the
// dev server's) that does only the local runtime's share of an export: it reads the rows with the
// statement a run reads them with (the export compiler's chunk query, keyset pages of
// `chunk_rows`, read by the shard reader, src/db/shards), formats them plainly (cells joined by
// commas, one line a row; the bench's rows need no quoting, so these are the bytes ferry's CSV
// writes) into one part buffer, and sends every full 5 MiB part to an R2 multipart upload, which
// it completes. No chain, queue, checkpoints, carry, SHA-256, count, control D1 or polls: ferry's
// figures minus these are the cost of ferry's code.
//   POST /export?tenant=<id>&key=<object key>   body: the export definition (as POST /api/1/exports)
//     -> 200 { rows, bytes, parts, chunks }
//   GET /file?key=<object key>   -> the object, to check it against ferry's file
import { readExportChunk } from "../../src/db/shards";
import { compileExport } from "../../src/exports/compiler";
import { ExportBody } from "../../src/exports/definition";
import { MIN_PART_SIZE } from "../../src/exports/step";
import type { Cursor, Row } from "../../src/exports/types";

interface FloorEnv {
  DATA: D1Database;
  FILES: R2Bucket;
}

/** What a run reads per query and uploads per part by default (src/runs/create.ts). */
const CHUNK_ROWS = 10_000;
const PART_SIZE = MIN_PART_SIZE;

async function exportRows(env: FloorEnv, tenantId: string, key: string, definition: unknown) {
  const def = ExportBody.parse(definition);
  const compiler = compileExport(def, { tenantId, now: new Date() });
  const upload = await env.FILES.createMultipartUpload(key, { httpMetadata: { contentType: "text/csv" } });
  // One buffer: one part plus one chunk's lines, as a run's link holds (src/runs/job.ts, Bytes).
  const buf = new Uint8Array(PART_SIZE + 4 * 1024 * 1024);
  const encoder = new TextEncoder();
  let fill = 0;
  const parts: R2UploadedPart[] = [];
  const append = (text: string) => {
    const { read, written } = encoder.encodeInto(text, buf.subarray(fill));
    if (read < text.length) throw new Error("a chunk's lines did not fit the part buffer");
    fill += written;
  };
  const flush = async (all: boolean) => {
    let at = 0;
    while (fill - at >= PART_SIZE || (all && fill > at)) {
      const end = Math.min(at + PART_SIZE, fill);
      parts.push(await upload.uploadPart(parts.length + 1, buf.subarray(at, end)));
      at = end;
    }
    buf.copyWithin(0, at, fill);
    fill -= at;
  };

  append(`${compiler.columns.join(",")}\n`);
  let rows = 0;
  let chunks = 0;
  for (let cursor: Cursor = null; ; ) {
    const list = await readExportChunk(env.DATA, compiler.chunk(cursor, CHUNK_ROWS));
    chunks++;
    // The same turn back to the runtime per chunk as a run's link (src/chain, yieldToRuntime).
    await scheduler.wait(0);
    let text = "";
    for (const row of list) text += `${compiler.columns.map((c) => row[c] ?? "").join(",")}\n`;
    append(text);
    await flush(false);
    rows += list.length;
    if (list.length < CHUNK_ROWS) break;
    cursor = compiler.nextCursor(list[list.length - 1] as Row);
  }
  await flush(true);
  const done = await upload.complete(parts);
  return { rows, bytes: done.size, parts: parts.length, chunks };
}

export default {
  async fetch(req: Request, env: FloorEnv): Promise<Response> {
    const url = new URL(req.url);
    const key = url.searchParams.get("key");
    if (req.method === "GET" && url.pathname === "/file" && key) {
      const obj = await env.FILES.get(key);
      return obj ? new Response(obj.body) : new Response("no such object", { status: 404 });
    }
    const tenant = url.searchParams.get("tenant");
    if (req.method !== "POST" || url.pathname !== "/export" || !tenant || !key) {
      return new Response("POST /export?tenant=<id>&key=<key> or GET /file?key=<key>", { status: 404 });
    }
    return Response.json(await exportRows(env, tenant, key, await req.json()));
  },
} satisfies ExportedHandler<FloorEnv>;
