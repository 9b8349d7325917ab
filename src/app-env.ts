import type { D1Sessions } from "./db/sessions";
import type { Env, Principal } from "./env";
import type { Services } from "./services";

/** What a hono handler sees: the bindings, and the variables the middleware sets per request. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    principal: Principal;
    /**
     * built by createServices (src/services/index.ts) once per request, on the request's D1
     * sessions (primary-first, or replica on the read-only routes: src/middleware/d1-session.ts)
     */
    services: Services;
    /** the D1 sessions the services run on, and the bookmarks the client sent (src/middleware/d1-session.ts) */
    sessions: D1Sessions<Env>;
    bookmarks: Map<string, string>;
  };
};
