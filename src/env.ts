/**
 * The Worker's environment. Bindings and [vars] come from wrangler.toml through the generated
 * src/worker-configuration.d.ts (`Cloudflare.Env`): after changing wrangler.toml, run
 * `npm run types` to regenerate it (`npm run check` fails while it is out of date). Only what
 * wrangler cannot see is listed here.
 */
import type { D1Migration } from "cloudflare:test";
import type { TenantRateLimits } from "./db/schema";

/** Secrets and optional settings that wrangler.toml does not declare, and test-only bindings. */
export interface EnvExtras {
  /** Bearer token for `/api/1/admin/*`. Secret (`.dev.vars` locally, `wrangler secret put`). */
  ADMIN_TOKEN: string;
  /** base64 of 32 random bytes: encrypts signing keys and target credentials at rest. Secret. */
  SECRETS_KEY: string;
  /** CSV ingestion: bytes read and records handled per queue message (defaults in src/ingest/csv/chunks.ts). */
  CSV_CHUNK_BYTES?: string;
  CSV_CHUNK_ROWS?: string;
  /** Bucket sources: bytes read and records handled per queue message (defaults in src/ingest/sources/chunks.ts). */
  SOURCE_CHUNK_BYTES?: string;
  SOURCE_CHUNK_ROWS?: string;
  /** Export run tuning (src/runs/create.ts); defaults there. Snapshotted per run. */
  EXPORT_PART_SIZE?: string;
  EXPORT_CHUNK_ROWS?: string;
  EXPORT_STEPS_PER_MESSAGE?: string;
  /** Operator webhook (shard.capacity alerts, src/tenants/shards.ts): where, and the HMAC secret. */
  OPERATOR_WEBHOOK_URL?: string;
  OPERATOR_WEBHOOK_SECRET?: string;
  /**
   * The API's public base URL, e.g. https://ferry.example.com: links in emails start with it (a
   * job has no request to take the host from). Defaults to http://localhost:8787 (npm run dev).
   */
  PUBLIC_URL?: string;
  /** Lifetime of a signed download URL in seconds (capped by the file's retention). */
  DOWNLOAD_URL_TTL_SECONDS?: string;
  /** Only in tests: migrations read by vitest.config.ts. */
  CONTROL_MIGRATIONS?: D1Migration[];
  DATA_MIGRATIONS?: D1Migration[];
}

/** Bindings and vars from wrangler.toml (generated) plus the above. */
export interface Env extends Cloudflare.Env, EnvExtras {}

/** What the auth middleware resolved from the credential. The tenant always comes from here. */
export interface Principal {
  kind: "client" | "api_key";
  tenantId: string;
  shard: number;
  /** client id for tokens, key id for API keys */
  subject: string;
  permissions: readonly string[];
  /** the tenant's rate-limit tiers (src/tenants/rate-limits.ts); absent = defaults */
  rateLimits?: TenantRateLimits | null;
}
