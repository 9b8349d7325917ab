import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { ApiError } from "../lib/errors";
import { decodeUtf8 } from "../lib/utf8";

/** The part of /openapi.json this middleware reads: each operation's request body media types. */
export interface OpenApiPaths {
  paths?: Record<string, Record<string, { requestBody?: { content?: Record<string, unknown> } } | undefined>>;
}

interface BodyRoute {
  method: string;
  path: RegExp;
  types: string[];
}

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The routes of the OpenAPI document that take a body, with the media types each accepts. */
export function bodyRoutes(doc: OpenApiPaths): BodyRoute[] {
  const out: BodyRoute[] = [];
  for (const [template, ops] of Object.entries(doc.paths ?? {})) {
    const path = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}/?$`);
    for (const [method, op] of Object.entries(ops)) {
      const types = Object.keys(op?.requestBody?.content ?? {}).map((t) => t.toLowerCase());
      if (types.length) out.push({ method: method.toUpperCase(), path, types });
    }
  }
  return out;
}

const mediaType = (header: string | undefined) => (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
const isJson = (type: string) => type === "application/json" || type.endsWith("+json");

/**
 * A request body must have one of the media types its route documents in /openapi.json, or it
 * is a 415 (README, "Errors"); a JSON body must be well-formed UTF-8 (RFC 8259 section 8.1), or
 * it is a 400 naming the first bad byte, instead of being read with U+FFFD in place of the bytes.
 * Routes outside the document (the back office's forms) and the `except` paths are left alone.
 * https://www.rfc-editor.org/rfc/rfc8259#section-8.1
 */
export const documentedContentTypes = (document: () => OpenApiPaths, except: readonly string[] = []) => {
  let routes: BodyRoute[] | undefined;
  return createMiddleware<AppEnv>(async (c, next) => {
    const method = c.req.method;
    if (!BODY_METHODS.has(method) || !hasBody(c.req.raw) || except.includes(c.req.path)) return next();
    routes ??= bodyRoutes(document());
    const path = c.req.path;
    const accepted = new Set(routes.filter((r) => r.method === method && r.path.test(path)).flatMap((r) => r.types));
    // Routes that take no JSON (the CSV uploads) parse their multipart body themselves and answer
    // their own 415, which says how to send the file.
    if (![...accepted].some(isJson)) return next();
    const type = mediaType(c.req.header("content-type"));
    if (!accepted.has(type)) {
      const list = [...accepted].join(" or ");
      throw new ApiError(
        "unsupported_media_type",
        `Content-Type must be ${list}${type ? `, got ${type}` : "; the request has none"}`,
      );
    }
    if (isJson(type)) {
      // Read within the body limit (the middleware before this one).
      const decoded = decodeUtf8(new Uint8Array(await c.req.arrayBuffer()));
      if ("badByte" in decoded) {
        throw new ApiError("bad_request", `The JSON body is not valid UTF-8: byte ${decoded.badByte} starts an ill-formed sequence`);
      }
      // The one decode of the body: hono's c.req.text() and c.req.json() (the routes' zod
      // validators, the /v1 handlers' readJson) answer from its body cache's text entry before
      // any other, so the handler parses this text instead of decoding the bytes a second time.
      // (hono types the cache as Body's methods; it holds their promises.)
      (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(decoded.text);
    }
    return next();
  });
};

/** A request has a body when it declares a length above zero or is chunked. */
function hasBody(req: Request): boolean {
  const length = req.headers.get("content-length");
  if (length !== null) return Number(length) > 0;
  return req.body !== null;
}
