import { applyD1Migrations, env } from "cloudflare:test";
import type { Env } from "../../src/env";

const e = env as unknown as Env;
await applyD1Migrations(e.DB, e.CONTROL_MIGRATIONS ?? []);
await applyD1Migrations(e.DATA_0, e.DATA_MIGRATIONS ?? []);
await applyD1Migrations(e.DATA_1, e.DATA_MIGRATIONS ?? []);
