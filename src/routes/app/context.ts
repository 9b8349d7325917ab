import { Hono } from "hono";
import type { AppEnv } from "../../app-env";
import type { SignedIn } from "../../users/users";

/** The back office's request context: the API's, plus the signed-in person (null when signed out). */
export type PageEnv = {
  Bindings: AppEnv["Bindings"];
  Variables: AppEnv["Variables"] & { who: SignedIn | null };
};

export const pageRouter = () => new Hono<PageEnv>();
