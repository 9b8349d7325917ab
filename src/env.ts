import type { D1Migration } from "cloudflare:test";
import type { Services } from "./services";

/** Bindings from wrangler.toml plus secrets from `.dev.vars` / `wrangler secret put`. */
export interface Env {
  DB: D1Database;
  DATA_0: D1Database;
  DATA_1: D1Database;
  FILES: R2Bucket;
  JOBS: Queue<unknown>;
  JOBS_DLQ: Queue<unknown>;
  DATA_SHARDS: string;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  TOKEN_TTL_SECONDS: string;
  MAX_BODY_BYTES: string;
  MAX_UPLOAD_BYTES: string;
  /** CSV ingestion: bytes read and records handled per queue message (defaults in src/services/ingest-csv/chunks.ts). */
  CSV_CHUNK_BYTES?: string;
  CSV_CHUNK_ROWS?: string;
  /** Bucket sources: bytes read and records handled per queue message (defaults in src/services/sources/chunks.ts). */
  SOURCE_CHUNK_BYTES?: string;
  SOURCE_CHUNK_ROWS?: string;
  /** Bearer token for `/api/1/admin/*`. Secret. */
  ADMIN_TOKEN: string;
  /** base64 of 32 random bytes: encrypts signing keys and target credentials at rest. Secret. */
  SECRETS_KEY: string;
  /** Export run tuning (src/runs/create.ts); defaults there. Snapshotted per run. */
  EXPORT_PART_SIZE?: string;
  EXPORT_CHUNK_ROWS?: string;
  EXPORT_STEPS_PER_MESSAGE?: string;
  /** Lifetime of a signed download URL in seconds (capped by the file's retention). */
  DOWNLOAD_URL_TTL_SECONDS?: string;
  /** "true" lets delivery targets point at private/loopback hosts (tests, local dev). Off by default. */
  ALLOW_PRIVATE_TARGETS?: string;
  /** Only in tests: migrations read by vitest.config.ts. */
  CONTROL_MIGRATIONS?: D1Migration[];
  DATA_MIGRATIONS?: D1Migration[];
}

/** What the auth middleware resolved from the credential. The tenant always comes from here. */
export interface Principal {
  kind: "client" | "api_key";
  tenantId: string;
  shard: number;
  /** client id for tokens, key id for API keys */
  subject: string;
  permissions: readonly string[];
}

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    principal: Principal;
    /** built once per request by createServices (src/services/index.ts) */
    services: Services;
  };
};
