import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { randomId } from "../lib/ids";

const SAFE = /^[A-Za-z0-9._-]{8,128}$/;

/** Honours a well-formed incoming `X-Request-Id`, or makes one; echoes it on the response. */
export const requestId = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const id = incoming && SAFE.test(incoming) ? incoming : `req_${randomId(20)}`;
    c.set("requestId", id);
    c.header("X-Request-Id", id);
    await next();
  });
