import type { D1Sessions } from "./db/sessions";
import type { Env, Principal } from "./env";
import type { Services } from "./services";

/** What a hono handler sees: the bindings, and the variables the middleware sets per request. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    principal: Principal;
    /** built once per request by createServices (src/services/index.ts) */
    services: Services;
    /** the D1 sessions the services run on, and the bookmarks the client sent (src/middleware/d1-session.ts) */
    sessions: D1Sessions<Env>;
    bookmarks: Map<string, string>;
  };
};
