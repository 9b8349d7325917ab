/**
 * A small loopback stand-in for Azure Blob Storage: Put Blob, Put Block, Put Block List
 * (Latest, Uncommitted and Committed blocks) and Get Blob on `/<account>/<container>/<blob>` (the path style Azurite uses).
 * It is NOT Azure: it checks that a SAS is present, unexpired, grants write and carries
 * the expected signature, and that the request headers Azure requires are there; it
 * does not recompute the SAS HMAC.
 * https://learn.microsoft.com/en-us/rest/api/storageservices/put-block
 * https://learn.microsoft.com/en-us/rest/api/storageservices/put-block-list
 */
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { readBody } from "./body";

export interface AzureFault {
  container: string;
  op: "put_blob" | "put_block" | "put_block_list";
  count: number;
  status: number;
  code: string;
}

const etagOf = (data: Buffer) => `"0x${createHash("md5").update(data).digest("hex").slice(0, 16).toUpperCase()}"`;

function azError(res: http.ServerResponse, status: number, code: string, message: string) {
  res.writeHead(status, { "content-type": "application/xml", "x-ms-error-code": code });
  res.end(`<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}


export async function startAzure(opts: { account: string; sig: string }) {
  const blobs = new Map<string, Buffer>();
  const staged = new Map<string, Map<string, Buffer>>();
  /** the blocks each committed blob is made of */
  const committed = new Map<string, Map<string, Buffer>>();
  const faults: AzureFault[] = [];
  const log: { op: string; container: string; blob: string; status: number }[] = [];

  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url ?? "/", "http://x");
    const [, account, container = "", ...rest] = url.pathname.split("/");
    const blob = decodeURIComponent(rest.join("/"));
    const q = url.searchParams;
    const comp = q.get("comp");
    const op = req.method === "PUT" ? (comp === "block" ? "put_block" : comp === "blocklist" ? "put_block_list" : "put_blob") : "get";
    const done = (status: number) => log.push({ op, container, blob, status });

    if (account !== opts.account) return done(400), azError(res, 400, "InvalidUri", "unknown account");
    const se = Date.parse(q.get("se") ?? "");
    if (!q.get("sv") || !q.get("sig") || !q.get("sp")) {
      return done(403), azError(res, 403, "AuthenticationFailed", "Server failed to authenticate the request: no SAS in the query string.");
    }
    if (q.get("sig") !== opts.sig) {
      return done(403), azError(res, 403, "AuthenticationFailed", "Signature did not match.");
    }
    if (!Number.isFinite(se) || se < Date.now()) return done(403), azError(res, 403, "AuthenticationFailed", "Signed expiry time has passed.");
    const perms = q.get("sp") ?? "";
    if (req.method === "PUT" && !/[wc]/.test(perms)) return done(403), azError(res, 403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.");
    if (req.method === "GET" && !perms.includes("r")) return done(403), azError(res, 403, "AuthorizationPermissionMismatch", "read not permitted");
    if (!req.headers["x-ms-version"]) return done(400), azError(res, 400, "MissingRequiredHeader", "x-ms-version is required");

    const fault = faults.find((f) => f.container === container && f.op === op && f.count > 0);
    if (fault) {
      fault.count--;
      return done(fault.status), azError(res, fault.status, fault.code, "injected fault");
    }
    const id = `${container}/${blob}`;
    if (op === "put_blob") {
      if (req.headers["x-ms-blob-type"] !== "BlockBlob") return done(400), azError(res, 400, "MissingRequiredHeader", "x-ms-blob-type must be BlockBlob");
      blobs.set(id, body);
      // A Put Blob replaces the blob: its blocks and any staged ones are gone.
      committed.delete(id);
      staged.delete(id);
      done(201);
      return res.writeHead(201, { etag: `"${body.length}"` }), res.end();
    }
    if (op === "put_block") {
      const blockId = q.get("blockid") ?? "";
      if (!blockId) return done(400), azError(res, 400, "InvalidQueryParameterValue", "blockid is required");
      const s = staged.get(id) ?? new Map<string, Buffer>();
      const first = s.keys().next().value;
      if (first !== undefined && Buffer.from(first, "base64").length !== Buffer.from(blockId, "base64").length) {
        return done(400), azError(res, 400, "InvalidBlobOrBlock", "block ids of one blob must have the same length");
      }
      s.set(blockId, body);
      staged.set(id, s);
      done(201);
      return res.writeHead(201), res.end();
    }
    if (op === "put_block_list") {
      // As Azure: <Uncommitted> names a staged block, <Committed> a block of the current blob,
      // <Latest> the staged one if there is one, else the committed one. Committing discards
      // the staged blocks; the blob remembers its blocks, so the same list commits again.
      const s = staged.get(id) ?? new Map<string, Buffer>();
      const c = committed.get(id) ?? new Map<string, Buffer>();
      const list = [...body.toString("utf8").matchAll(/<(Latest|Uncommitted|Committed)>([^<]+)<\/\1>/g)].map((m) => [m[1]!, m[2]!] as const);
      const parts: Buffer[] = [];
      const blocks = new Map<string, Buffer>();
      for (const [kind, b] of list) {
        const part = kind === "Uncommitted" ? s.get(b) : kind === "Committed" ? c.get(b) : (s.get(b) ?? c.get(b));
        if (!part) return done(400), azError(res, 400, "InvalidBlockList", `block ${b} was not staged`);
        parts.push(part);
        blocks.set(b, part);
      }
      blobs.set(id, Buffer.concat(parts));
      committed.set(id, blocks);
      staged.delete(id);
      done(201);
      return res.writeHead(201), res.end();
    }
    // List Blobs (needs `l`), ranged Get Blob with If-Match: what bucket sources read.
    // https://learn.microsoft.com/en-us/rest/api/storageservices/list-blobs
    if (q.get("restype") === "container" && comp === "list") {
      if (!perms.includes("l")) return done(403), azError(res, 403, "AuthorizationPermissionMismatch", "list not permitted");
      const prefix = `${container}/${q.get("prefix") ?? ""}`;
      const names = [...blobs.keys()].filter((k) => k.startsWith(prefix)).sort();
      const max = Number(q.get("maxresults") ?? 5000);
      const from = q.get("marker") ? names.indexOf(q.get("marker")!) : 0;
      const page = names.slice(Math.max(0, from), Math.max(0, from) + max);
      const next = names[Math.max(0, from) + max];
      const esc = (x: string) => x.replace(/&/g, "&amp;").replace(/</g, "&lt;");
      const items = page
        .map((k) => `<Blob><Name>${esc(k.slice(container.length + 1))}</Name><Properties><Etag>${etagOf(blobs.get(k)!)}</Etag><Content-Length>${blobs.get(k)!.length}</Content-Length></Properties></Blob>`)
        .join("");
      done(200);
      res.writeHead(200, { "content-type": "application/xml" });
      return res.end(`<?xml version="1.0" encoding="utf-8"?><EnumerationResults><Blobs>${items}</Blobs><NextMarker>${next ?? ""}</NextMarker></EnumerationResults>`);
    }
    const data = blobs.get(id);
    if (!data) return done(404), azError(res, 404, "BlobNotFound", "The specified blob does not exist.");
    const ifMatch = req.headers["if-match"];
    if (ifMatch && ifMatch !== etagOf(data)) return done(412), azError(res, 412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.");
    const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? req.headers["x-ms-range"] ?? ""));
    if (range) {
      const part = data.subarray(Number(range[1]), Number(range[2]) + 1);
      done(206);
      res.writeHead(206, { "content-length": String(part.length), etag: etagOf(data) });
      return res.end(part);
    }
    done(200);
    res.writeHead(200, { "content-length": String(data.length), etag: etagOf(data) });
    res.end(data);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}/${opts.account}`,
    blob: (container: string, blob: string) => blobs.get(`${container}/${blob}`),
    addFault: (f: AzureFault) => faults.push(f),
    log: (container: string) => log.filter((l) => l.container === container),
    async close() {
      await new Promise((r) => server.close(r));
    },
  };
}
