import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type ControlDb = ReturnType<typeof controlDb>;

export function controlDb(env: { DB: D1Database }) {
  return drizzle(env.DB, { schema });
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
