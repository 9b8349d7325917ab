import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { BOOKMARK_HEADER, BookmarkError, openSessions, parseBookmarks } from "../db/sessions";
import { ApiError } from "../lib/errors";
import { markReadReplica } from "../lib/router";
import { createServices, type ServiceOverrides } from "../services";

/**
 * Every request: the services are built on session-backed D1 bindings whose first query goes
 * to the primary (so a write, and a read that follows it, are as fresh as can be), and the
 * response carries `x-d1-bookmark`, the point the request's databases reached. A client that
 * sends it back reads its own writes on the read-replica routes below (docs/architecture.md,
 * "Read replicas").
 */
export const d1Sessions = (overrides: ServiceOverrides = {}) =>
  createMiddleware<AppEnv>(async (c, next) => {
    let given: Map<string, string>;
    try {
      given = parseBookmarks(c.req.header(BOOKMARK_HEADER));
    } catch (err) {
      if (!(err instanceof BookmarkError)) throw err;
      throw new ApiError(
        "bad_request",
        `${BOOKMARK_HEADER} is not one ferry issued (${err.message}); send back the header of an earlier response, or leave it out`,
      );
    }
    c.set("bookmarks", given);
    const sessions = openSessions(c.env, "first-primary", given);
    c.set("sessions", sessions);
    c.set("serviceOverrides", overrides);
    c.set("services", createServices(sessions.env, overrides));
    await next();
    const bookmark = c.var.sessions.bookmark();
    if (bookmark) c.header(BOOKMARK_HEADER, bookmark);
  });

/**
 * Read-only routes: their queries may be served by any read replica at least as fresh as the
 * bookmark the client sent (its own earlier writes), or by the nearest one when it sent none.
 * Goes before the route's auth, so the whole request reads the same way. Declare it in the
 * route's `middleware`: /openapi.json then documents the request header there (src/lib/router.ts).
 */
export const readReplica = () =>
  markReadReplica(
    createMiddleware<AppEnv>(async (c, next) => {
      const sessions = openSessions(c.env, "first-unconstrained", c.var.bookmarks);
      c.set("sessions", sessions);
      // The services again, on the replica sessions, with the same overrides as the request's
      // first set (cheap: createServices opens no connection; the first query does).
      c.set("services", createServices(sessions.env, c.var.serviceOverrides));
      await next();
    }),
  );
