import type { D1Sessions } from "./db/sessions";
import type { Env, Principal } from "./env";
import type { ServiceOverrides, Services } from "./services";

/** What a hono handler sees: the bindings, and the variables the middleware sets per request. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    principal: Principal;
    /**
     * built by createServices (src/services/index.ts) once per request on the primary-first
     * sessions, and once more on read-replica routes on their replica sessions
     */
    services: Services;
    /** what the app was built with in place of the default services (the toolbox), kept for that second build */
    serviceOverrides: ServiceOverrides;
    /** the D1 sessions the services run on, and the bookmarks the client sent (src/middleware/d1-session.ts) */
    sessions: D1Sessions<Env>;
    bookmarks: Map<string, string>;
  };
};
