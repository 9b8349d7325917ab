import { OpenAPIHono } from "@hono/zod-openapi";
import type { z } from "zod";
import type { AppEnv } from "../app-env";
import { ApiError } from "./errors";

/** Turns zod issues into `{ path, message }` details a person can act on. */
export function zodDetails(error: z.ZodError) {
  return error.issues.map((i) => ({ path: i.path.map(String).join(".") || "(body)", message: i.message }));
}

export function validationError(error: z.ZodError, where: string): ApiError {
  const details = zodDetails(error);
  const first = details[0];
  const summary = first ? `${first.path}: ${first.message}` : "invalid input";
  return new ApiError("validation_failed", `Invalid ${where}: ${summary}`, { details });
}

/** Every router is made here so that validation failures all answer the same way. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, result.target === "json" ? "body" : result.target);
    },
  });
}
