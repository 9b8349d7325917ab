import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "../app-env";
import { BOOKMARK_HEADER, BookmarkError, openSessions, parseBookmarks, type SessionStart } from "../db/sessions";
import { ApiError } from "../lib/errors";
import { isReadReplica, markReadReplica } from "../lib/router";
import { createServices, type ServiceOverrides } from "../services";

/**
 * Every request: the services are built once, on session-backed D1 bindings (docs/architecture.md,
 * "Read replicas"). On a route declared with `readReplica()` the sessions start at the client's
 * bookmark, else `first-unconstrained` (any replica); on every other route the first query goes
 * to the primary (so a write, and a read that follows it, are as fresh as can be). The route is
 * known here already: hono matches it before it runs the first middleware. The response carries
 * `x-d1-bookmark`, the point the request's databases reached; a client that sends it back reads
 * its own writes on the read-replica routes.
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
    const sessions = openSessions(c.env, sessionStart(c), given);
    c.set("sessions", sessions);
    c.set("services", createServices(sessions.env, overrides));
    await next();
    const bookmark = sessions.bookmark();
    if (bookmark) setResponseHeader(c, BOOKMARK_HEADER, bookmark);
  });

/** Where the request's sessions start: `first-unconstrained` on the routes marked by readReplica(). */
function sessionStart(c: Context<AppEnv>): SessionStart {
  return matchedRoutes(c).some((r) => isReadReplica(r.handler)) ? "first-unconstrained" : "first-primary";
}

/**
 * Sets a header on the finished response in place. (hono's `c.header()` after `next()` copies the
 * whole response into a new one first, on every request.) A response passed through from fetch()
 * has immutable headers: that one is copied.
 */
function setResponseHeader(c: Context<AppEnv>, name: string, value: string) {
  try {
    c.res.headers.set(name, value);
  } catch {
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set(name, value);
  }
}

/**
 * Marks a read-only route: its queries may be served by any read replica at least as fresh as the
 * bookmark the client sent (its own earlier writes), or by the nearest one when it sent none.
 * d1Sessions opens the request's sessions so when it sees this mark among the route's handlers;
 * the middleware itself does nothing. Declare it in the route's `middleware`: /openapi.json then
 * documents the request header there (src/lib/router.ts).
 */
export const readReplica = () => markReadReplica(createMiddleware<AppEnv>((_c, next) => next()));
