import { bodyLimit as honoBodyLimit } from "hono/body-limit";
import type { Context } from "hono";
import type { Env } from "../env";
import type { AppEnv } from "../app-env";
import { ApiError } from "../lib/errors";

type LimitVar = keyof Pick<Env, "MAX_BODY_BYTES" | "MAX_UPLOAD_BYTES">;

/** Refuses bodies larger than the configured limit with a 413 that names the limit. */
export const bodyLimit = (limitVar: LimitVar = "MAX_BODY_BYTES") =>
  async (c: Context<AppEnv>, next: () => Promise<void>) => {
    const maxSize = Number.parseInt(c.env[limitVar], 10);
    return honoBodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError("payload_too_large", `Request body is larger than the limit of ${maxSize} bytes`);
      },
    })(c, next);
  };
