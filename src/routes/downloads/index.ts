import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { notFound } from "../../lib/errors";
import { createRouter } from "../../lib/router";
import { contentDisposition, openDownload, parseRange } from "../../runs";

/** Signed download links: no token, the signature is the credential. */
export const downloadsRouter = createRouter();

downloadsRouter.openapi(
  createRoute({
    method: "get",
    path: "/{run_id}",
    tags: ["exports"],
    summary: "Download a run's file through its signed link (supports Range)",
    request: {
      params: z.object({ run_id: z.string().min(1) }),
      query: z.object({
        expires: z.string().regex(/^\d{1,12}$/, "expires must be epoch seconds"),
        sig: z.string().min(1).max(200),
      }),
      headers: z.object({ range: z.string().optional() }),
    },
    responses: {
      200: { description: "The file", content: { "application/octet-stream": { schema: z.any() } } },
      206: { description: "The requested byte range" },
      403: { description: "Signature invalid or link expired" },
      416: { description: "Range not satisfiable" },
    },
  }),
  async (c) => {
    const { run_id } = c.req.valid("param");
    const { expires, sig } = c.req.valid("query");
    const s = c.get("services");
    const run = await openDownload(s, run_id, Number(expires), sig);
    const head = await s.files.head(run.file_key);
    if (!head) throw notFound(`The file of run ${run.id}`);
    const range = parseRange(c.req.header("range"), head.size);
    const headers = new Headers({
      "Accept-Ranges": "bytes",
      "Content-Type": run.content_type ?? "application/octet-stream",
      "Content-Disposition": contentDisposition(run.file_name ?? `${run.id}.bin`),
      ETag: head.httpEtag,
      "Cache-Control": "private, no-store",
    });
    if (range === "unsatisfiable") {
      headers.set("Content-Range", `bytes */${head.size}`);
      return new Response(JSON.stringify({ error: { code: "range_not_satisfiable", message: `The file has ${head.size} bytes`, request_id: c.get("requestId") } }), {
        status: 416,
        headers: { "Content-Range": `bytes */${head.size}`, "Content-Type": "application/json" },
      });
    }
    const obj = await s.files.get(run.file_key, range ? { range } : {});
    if (!obj) throw notFound(`The file of run ${run.id}`);
    if (range) {
      headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${head.size}`);
      headers.set("Content-Length", String(range.length));
      return new Response(obj.body, { status: 206, headers });
    }
    headers.set("Content-Length", String(head.size));
    return new Response(obj.body, { status: 200, headers });
  },
);
