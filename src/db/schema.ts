import { sql } from "drizzle-orm";
import { check, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * The control database (binding `DB`), every table described once. Migrations in
 * migrations/control/ are generated from this file (`npm run db:generate`, drizzle-kit).
 *
 * Property names are the column names, so a row reads the same in SQL, in code and in the
 * JSON the API answers with. Times are epoch seconds (UTC) unless a comment says otherwise.
 * Tenant data (ingested records) lives on the data shards, not here: see src/db/shards/.
 */

// ---------------------------------------------------------------- tenants and credentials

export const tenants = sqliteTable(
  "tenants",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    /** the data shard (DATA_<n>) that holds the tenant's records */
    shard: integer("shard").notNull(),
    created_at: integer("created_at").notNull(),
    /** rate-limit tier per scope (src/tenants/rate-limits.ts); null or a missing scope = "standard" */
    rate_limits: text("rate_limits", { mode: "json" }).$type<TenantRateLimits>(),
  },
  (t) => [index("tenants_shard").on(t.shard)],
);

export const TENANT_MOVE_STATES = ["copying", "frozen", "switched", "failing", "done", "failed"] as const;
export type TenantMoveState = (typeof TENANT_MOVE_STATES)[number];
/** A move in one of these still runs its chain: at most one per tenant (tenant_moves_active). */
export const UNFINISHED_MOVE_STATES = ["copying", "frozen", "switched", "failing"] as const satisfies readonly TenantMoveState[];

/**
 * Moves of a tenant's data from one shard to another (src/tenants/moves.ts, docs/architecture.md
 * "Shards"), driven by a `tenant_move` chain. `state`: copying (rows are copied while writes go
 * on), frozen (writes refused until `freeze_until`: the last changes are copied and every table
 * verified), switched (`tenants.shard` names the new shard; the old copy is deleted once no
 * reader can still use it), failing (it failed before the switch, `error` says why, and its
 * partial copy on `to_shard` is being deleted), done or failed (`error`). `checkpoint` is the mover's JSON state
 * (phase, per-table cursors, checksums), compare-and-set on `link` (the chain position it was
 * written for). At most one unfinished move per tenant (unique partial index).
 */
export const tenant_moves = sqliteTable(
  "tenant_moves",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    from_shard: integer("from_shard").notNull(),
    to_shard: integer("to_shard").notNull(),
    state: text("state", { enum: TENANT_MOVE_STATES }).notNull(),
    link: integer("link").notNull().default(0),
    checkpoint: text("checkpoint").notNull(),
    rows_copied: integer("rows_copied").notNull().default(0),
    rows_deleted: integer("rows_deleted").notNull().default(0),
    /** while frozen: writes are refused until then, and past it the move reverts (cron) */
    freeze_until: integer("freeze_until"),
    frozen_at: integer("frozen_at"),
    switched_at: integer("switched_at"),
    error: text("error"),
    created_at: integer("created_at").notNull(),
    updated_at: integer("updated_at").notNull(),
    finished_at: integer("finished_at"),
  },
  (t) => [
    uniqueIndex("tenant_moves_active")
      .on(t.tenant_id)
      .where(sql`${t.state} IN ${sql.raw(`(${UNFINISHED_MOVE_STATES.map((st) => `'${st}'`).join(", ")})`)}`),
    index("tenant_moves_tenant").on(t.tenant_id, t.created_at),
  ],
);
export type TenantMove = typeof tenant_moves.$inferSelect;

/** Rate-limit tiers a tenant is given by the admin API; the tiers are bindings in wrangler.toml. */
export const RATE_LIMIT_TIERS = ["low", "standard", "high", "unlimited"] as const;
export type RateLimitTier = (typeof RATE_LIMIT_TIERS)[number];
/** `ingest`: per API key on /v1; `api`: per client on /api/1. */
export type TenantRateLimits = { ingest?: RateLimitTier; api?: RateLimitTier };

/**
 * Failed client authentications at the token endpoint, per client id (known or not, so that
 * an unknown id and a wrong secret behave alike). Enough failures inside the window lock the
 * id out until `locked_until` (src/tenants/lockout.ts); a success deletes the row.
 */
export const client_auth_failures = sqliteTable("client_auth_failures", {
  client_id: text("client_id").primaryKey(),
  failures: integer("failures").notNull(),
  /** start of the counting window */
  first_failed_at: integer("first_failed_at").notNull(),
  locked_until: integer("locked_until"),
});

/** OAuth2 client-credentials clients of the `/api/1` API. */
export const clients = sqliteTable(
  "clients",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    name: text("name").notNull(),
    secret_hash: text("secret_hash").notNull(),
    permissions: text("permissions", { mode: "json" }).$type<string[]>().notNull(),
    created_at: integer("created_at").notNull(),
    revoked_at: integer("revoked_at"),
    /** lifetime of the access tokens issued to this client; NULL = TOKEN_TTL_SECONDS (src/tenants/tokens.ts) */
    token_ttl_seconds: integer("token_ttl_seconds"),
  },
  (t) => [index("clients_tenant").on(t.tenant_id)],
);

/** Ingestion API keys (`/v1`). */
export const api_keys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    name: text("name").notNull(),
    key_hash: text("key_hash").notNull(),
    created_at: integer("created_at").notNull(),
    revoked_at: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash").on(t.key_hash), index("api_keys_tenant").on(t.tenant_id)],
);

/** JWT signing keys. `status`: active (signs), previous (verifies only), retired (neither). */
export const signing_keys = sqliteTable(
  "signing_keys",
  {
    kid: text("kid").primaryKey(),
    alg: text("alg").notNull(),
    status: text("status", { enum: ["active", "previous", "retired"] }).notNull(),
    public_jwk: text("public_jwk").notNull(),
    private_jwk_sealed: text("private_jwk_sealed").notNull(),
    created_at: integer("created_at").notNull(),
    retired_at: integer("retired_at"),
  },
  (t) => [check("signing_keys_status", sql`${t.status} IN ('active', 'previous', 'retired')`)],
);

/** When the capacity alert of a data shard last went to the operator (at most once a day). */
export const shard_alerts = sqliteTable("shard_alerts", {
  shard: integer("shard").primaryKey(),
  alerted_at: integer("alerted_at").notNull(),
});

/**
 * A tenant's custom fields on a model that allows them (src/models/custom.ts: members). The
 * values are on the tenant's data shard, in the model's `custom_fields` JSON column.
 */
export const custom_fields = sqliteTable(
  "custom_fields",
  {
    tenant_id: text("tenant_id").notNull(),
    model: text("model").notNull(),
    name: text("name").notNull(),
    /** one of CUSTOM_FIELD_TYPES (src/models/custom.ts) */
    type: text("type").notNull(),
    description: text("description").notNull().default(""),
    /** order in the model's field list */
    position: integer("position").notNull(),
    created_at: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant_id, t.model, t.name] })],
);
export type CustomFieldRow = typeof custom_fields.$inferSelect;

export const audit_log = sqliteTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id"),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    details: text("details", { mode: "json" }).$type<Record<string, unknown>>(),
    created_at: integer("created_at").notNull(),
  },
  (t) => [index("audit_log_tenant_time").on(t.tenant_id, t.created_at)],
);

// ---------------------------------------------------------------- exports and their runs

export const EXPORT_STATUSES = ["draft", "active", "disabled"] as const;

/** Export definitions. `definition` holds the validated ExportBody JSON (src/exports/definition.ts). */
export const exports = sqliteTable(
  "exports",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    name: text("name").notNull(),
    model: text("model").notNull(),
    status: text("status", { enum: EXPORT_STATUSES }).notNull(),
    favourite: integer("favourite").notNull().default(0),
    definition: text("definition").notNull(),
    created_by: text("created_by").notNull(),
    created_at: integer("created_at").notNull(),
    updated_at: integer("updated_at").notNull(),
    deleted_at: integer("deleted_at"),
    /** when the definition runs next; NULL when it never runs on its own. Written with the definition. */
    next_run_at: integer("next_run_at"),
    /**
     * Why the scheduler stopped running this definition (its stored JSON no longer parses, or
     * its run could not be made); next_run_at is NULL then. Cleared when the definition is saved
     * or enabled again.
     */
    schedule_error: text("schedule_error"),
  },
  (t) => [
    check("exports_status", sql`${t.status} IN ('draft', 'active', 'disabled')`),
    uniqueIndex("exports_tenant_name").on(t.tenant_id, t.name).where(sql`${t.deleted_at} IS NULL`),
    index("exports_tenant_created").on(t.tenant_id, t.created_at),
    index("exports_due").on(t.next_run_at).where(sql`${t.next_run_at} IS NOT NULL AND ${t.deleted_at} IS NULL`),
  ],
);

export const RUN_STATUSES = ["pending", "processing", "finished", "failed"] as const;

/** Runs ("results"). `definition` is the snapshot the run was made from; `options` its tuning (RunOptions JSON). */
export const export_runs = sqliteTable(
  "export_runs",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    export_id: text("export_id")
      .notNull()
      .references(() => exports.id),
    status: text("status", { enum: RUN_STATUSES }).notNull(),
    trigger: text("trigger").notNull().default("manual"),
    definition: text("definition").notNull(),
    rows: integer("rows").notNull().default(0),
    bytes: integer("bytes").notNull().default(0),
    progress: real("progress").notNull().default(0),
    sha256: text("sha256"),
    error: text("error"),
    file_key: text("file_key"),
    file_name: text("file_name"),
    content_type: text("content_type"),
    created_at: integer("created_at").notNull(),
    started_at: integer("started_at"),
    finished_at: integer("finished_at"),
    expires_at: integer("expires_at"),
    /** the schedule slot; one run per (export, slot) */
    scheduled_for: integer("scheduled_for"),
    watermark_after: integer("watermark_after"),
    watermark_until: integer("watermark_until"),
    options: text("options"),
    total_rows: integer("total_rows"),
    upload_id: text("upload_id"),
    /** set when retention deleted the file */
    expired_at: integer("expired_at"),
  },
  (t) => [
    check("export_runs_status", sql`${t.status} IN ('pending', 'processing', 'finished', 'failed')`),
    index("export_runs_export_created").on(t.tenant_id, t.export_id, t.created_at),
    index("export_runs_expires").on(t.expires_at).where(sql`${t.expires_at} IS NOT NULL`),
    uniqueIndex("export_runs_export_scheduled").on(t.export_id, t.scheduled_for).where(sql`${t.scheduled_for} IS NOT NULL`),
    index("export_runs_tenant_id").on(t.tenant_id, t.id),
  ],
);

/**
 * Where a run's chain stands after each step. `state` is the formatter/compressor/hash state
 * (JSON), or NULL when it was too large for a D1 row and lives in R2 under `state_key`.
 */
export const export_run_checkpoints = sqliteTable(
  "export_run_checkpoints",
  {
    run_id: text("run_id")
      .notNull()
      .references(() => export_runs.id),
    step: integer("step").notNull(),
    cursor: text("cursor"),
    rows: integer("rows").notNull(),
    bytes: integer("bytes").notNull(),
    last_part: integer("last_part").notNull(),
    carry_bytes: integer("carry_bytes").notNull(),
    state: text("state"),
    state_key: text("state_key"),
    done: integer("done").notNull().default(0),
    sha256: text("sha256"),
    created_at: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.run_id, t.step] })],
);

/** Multipart parts of a run's file in R2 (the etags complete the upload). */
export const export_run_parts = sqliteTable(
  "export_run_parts",
  {
    run_id: text("run_id")
      .notNull()
      .references(() => export_runs.id),
    part_number: integer("part_number").notNull(),
    etag: text("etag").notNull(),
    size: integer("size").notNull(),
    step: integer("step").notNull(),
  },
  (t) => [primaryKey({ columns: [t.run_id, t.part_number] })],
);

/**
 * "At the end of the operation" (schedule `operation_end`): one row per (definition, campaign)
 * whose end started a run, written in the batch that creates that run. The primary key makes
 * the trigger exact: a second cron tick (or two overlapping ones) cannot make a second run.
 */
export const campaign_triggers = sqliteTable(
  "campaign_triggers",
  {
    export_id: text("export_id")
      .notNull()
      .references(() => exports.id),
    campaign_code: text("campaign_code").notNull(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    run_id: text("run_id").notNull(),
    /** the campaign's end as stored on the shard (`YYYY-MM-DD HH:MM:SS`, UTC) when it triggered */
    campaign_end: text("campaign_end").notNull(),
    created_at: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.export_id, t.campaign_code] }), index("campaign_triggers_tenant").on(t.tenant_id, t.export_id)],
);
export type CampaignTriggerRow = typeof campaign_triggers.$inferSelect;

export const DELIVERY_STATUSES = ["pending", "delivering", "retrying", "delivered", "failed"] as const;

/**
 * Delivery of a finished run's file to its export's target (S3, FTP, FTPS, SFTP, Azure, GCS); one row
 * per run, written by the `delivery` chain (src/deliveries/), one part per link.
 */
export const run_deliveries = sqliteTable(
  "run_deliveries",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    run_id: text("run_id")
      .notNull()
      .references(() => export_runs.id),
    target_type: text("target_type").notNull(),
    status: text("status", { enum: DELIVERY_STATUSES }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** where the file landed, e.g. s3://bucket/key */
    location: text("location"),
    /** why the last attempt failed, for a person to act on */
    error: text("error"),
    created_at: integer("created_at").notNull(),
    updated_at: integer("updated_at").notNull(),
    delivered_at: integer("delivered_at"),
    /**
     * The target this delivery pushes to, sealed as definitions store it (JSON): the run's
     * snapshot at first, the definition's current target after a redelivery a person asked for.
     * NULL on rows from before resumable deliveries (the run's snapshot is used then).
     */
    target: text("target"),
    /** the driver's resumable state between chain links (JSON: upload id, part etags, bytes sent); NULL before the upload began */
    upload_state: text("upload_state"),
    /** bytes of the file the target has acknowledged so far */
    sent_bytes: integer("sent_bytes").notNull().default(0),
    /** bytes per part (every part but the last); NULL before the upload began */
    part_size: integer("part_size"),
  },
  (t) => [
    check("run_deliveries_status", sql`${t.status} IN ('pending', 'delivering', 'retrying', 'delivered', 'failed')`),
    uniqueIndex("run_deliveries_run").on(t.tenant_id, t.run_id),
  ],
);

// ---------------------------------------------------------------- CSV ingestions

export const INGESTION_STATUSES = ["pending", "processing", "completed", "failed"] as const;

/**
 * CSV uploads staged in R2 under `file_key`, read in byte ranges by a `csv_ingest` chain
 * (src/ingest/csv/chunks.ts). `next_offset` is the byte offset of the first record not yet
 * processed: the checkpoint, moved compare-and-set, and the position of the chain.
 */
export const ingestions = sqliteTable(
  "ingestions",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    model: text("model").notNull(),
    status: text("status", { enum: INGESTION_STATUSES }).notNull(),
    file_key: text("file_key").notNull(),
    file_name: text("file_name"),
    file_bytes: integer("file_bytes").notNull(),
    /** JSON array: the header's columns in file order */
    columns: text("columns").notNull(),
    chunk_bytes: integer("chunk_bytes").notNull(),
    chunk_rows: integer("chunk_rows").notNull(),
    next_offset: integer("next_offset").notNull(),
    next_line: integer("next_line").notNull(),
    chunks: integer("chunks").notNull().default(0),
    rows_accepted: integer("rows_accepted").notNull().default(0),
    rows_rejected: integer("rows_rejected").notNull().default(0),
    error: text("error"),
    created_at: integer("created_at").notNull(),
    updated_at: integer("updated_at").notNull(),
    finished_at: integer("finished_at"),
  },
  (t) => [
    check("ingestions_status", sql`${t.status} IN ('pending', 'processing', 'completed', 'failed')`),
    index("ingestions_tenant_created").on(t.tenant_id, t.created_at),
    index("ingestions_status_updated").on(t.status, t.updated_at),
  ],
);

/** Per-row errors of an ingestion (capped per ingestion; rows_rejected counts them all). */
export const ingestion_errors = sqliteTable(
  "ingestion_errors",
  {
    ingestion_id: text("ingestion_id")
      .notNull()
      .references(() => ingestions.id),
    line: integer("line").notNull(),
    field: text("field").notNull().default(""),
    message: text("message").notNull(),
  },
  (t) => [primaryKey({ columns: [t.ingestion_id, t.line, t.field] })],
);

// ---------------------------------------------------------------- bucket sources

/**
 * Customers' buckets that ferry ingests from (docs/sources.md). `config` is the JSON with secret
 * fields sealed; `list_cursor` the last key seen in the current sweep (NULL: start a new one).
 */
export const sources = sqliteTable(
  "sources",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    name: text("name").notNull(),
    type: text("type", { enum: ["s3", "azure", "gcs"] }).notNull(),
    config: text("config").notNull(),
    webhook_url: text("webhook_url"),
    /** sealed, never returned */
    webhook_secret: text("webhook_secret"),
    status: text("status", { enum: ["ok", "unreachable"] })
      .notNull()
      .default("ok"),
    last_error: text("last_error"),
    list_cursor: text("list_cursor"),
    last_listed_at: integer("last_listed_at"),
    created_at: integer("created_at").notNull(),
    updated_at: integer("updated_at").notNull(),
  },
  (t) => [
    check("sources_type", sql`${t.type} IN ('s3', 'azure', 'gcs')`),
    check("sources_status", sql`${t.status} IN ('ok', 'unreachable')`),
    index("sources_tenant").on(t.tenant_id, t.created_at),
  ],
);

/**
 * One row per file version found in a source: (source, key, etag) is unique, each ingested by
 * a `source_file` chain (src/ingest/sources/chunks.ts). `position` is the checkpoint and the
 * chain's position: byte offset (NDJSON/CSV), offset in the decompressed bytes (gzip) or row
 * group (Parquet).
 */
export const source_files = sqliteTable(
  "source_files",
  {
    id: text("id").primaryKey(),
    source_id: text("source_id")
      .notNull()
      .references(() => sources.id, { onDelete: "cascade" }),
    tenant_id: text("tenant_id").notNull(),
    key: text("key").notNull(),
    etag: text("etag").notNull(),
    size: integer("size").notNull(),
    model: text("model").notNull(),
    format: text("format", { enum: ["ndjson", "csv", "parquet"] }).notNull(),
    gzip: integer("gzip").notNull().default(0),
    /** 1: an OpenPGP file (`.gpg`, `.pgp`), decrypted into R2 before it is read (src/ingest/sources/decrypt.ts) */
    encrypted: integer("encrypted").notNull().default(0),
    /** encrypted files: the size of the decrypted copy in R2, once it is there (NULL before) */
    decrypted_size: integer("decrypted_size"),
    status: text("status", { enum: INGESTION_STATUSES }).notNull(),
    /** CSV: JSON array of the header's columns once read */
    columns: text("columns"),
    position: integer("position").notNull().default(0),
    next_line: integer("next_line").notNull().default(1),
    chunks: integer("chunks").notNull().default(0),
    rows_accepted: integer("rows_accepted").notNull().default(0),
    rows_rejected: integer("rows_rejected").notNull().default(0),
    error: text("error"),
    created_at: integer("created_at").notNull(),
    updated_at: integer("updated_at").notNull(),
    finished_at: integer("finished_at"),
  },
  (t) => [
    check("source_files_format", sql`${t.format} IN ('ndjson', 'csv', 'parquet')`),
    check("source_files_status", sql`${t.status} IN ('pending', 'processing', 'completed', 'failed')`),
    uniqueIndex("source_files_source_key_etag").on(t.source_id, t.key, t.etag),
    index("source_files_source").on(t.source_id, t.created_at),
    index("source_files_status").on(t.status, t.updated_at),
  ],
);

/** Per-line errors of a source file (capped per file; rows_rejected counts them all). */
export const source_file_errors = sqliteTable(
  "source_file_errors",
  {
    file_id: text("file_id")
      .notNull()
      .references(() => source_files.id, { onDelete: "cascade" }),
    line: integer("line").notNull(),
    field: text("field").notNull().default(""),
    message: text("message").notNull(),
  },
  (t) => [primaryKey({ columns: [t.file_id, t.line, t.field] })],
);

// ---------------------------------------------------------------- resumable chains

export const CHAIN_KINDS = ["export_run", "csv_ingest", "source_file", "delivery", "webhook", "email", "segment", "user_deletion", "tenant_move"] as const;
export const CHAIN_STATUSES = ["running", "done", "failed"] as const;

/**
 * One row per long job (src/chain/): which link of its chain is next, and until when the
 * current link is leased. A running chain whose lease ran out lost its message (a killed
 * process, a dropped local queue message): the cron sweep sends the message again.
 * `position` is the job's own checkpoint key (a step, an offset, a row group); `attempts`
 * counts failures at that position (a link that threw, or one whose worker died holding it,
 * counted by the sweep) and resets when it moves.
 */
export const chains = sqliteTable(
  "chains",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: CHAIN_KINDS }).notNull(),
    tenant_id: text("tenant_id").notNull(),
    subject_id: text("subject_id").notNull(),
    status: text("status", { enum: CHAIN_STATUSES }).notNull(),
    position: integer("position").notNull().default(0),
    attempts: integer("attempts").notNull().default(0),
    /** until when the current link is in flight or being worked on; past it the sweep resends it */
    lease_until: integer("lease_until").notNull(),
    /** the invocation working on the current link; NULL while its message waits in the queue */
    holder: text("holder"),
    last_error: text("last_error"),
    created_at: integer("created_at").notNull(),
    updated_at: integer("updated_at").notNull(),
    finished_at: integer("finished_at"),
  },
  (t) => [
    check("chains_status", sql`${t.status} IN ('running', 'done', 'failed')`),
    uniqueIndex("chains_kind_subject").on(t.kind, t.subject_id),
    index("chains_due").on(t.lease_until).where(sql`${t.status} = 'running'`),
  ],
);

// ---------------------------------------------------------------- user-data deletion (docs/ingestion.md)

export const USER_DELETION_STATUSES = ["pending", "running", "done", "failed"] as const;

/**
 * One row per `POST /v1/user-data`: the request is recorded, and a `user_deletion` chain deletes
 * the user's rows on the shard in bounded chunks. The chain of the first request to run claims
 * every pending request of the tenant (`batch_id` = its own id, at most a batch's worth), so
 * requests that wait together are deleted by one pass over the tenant's rows. `state` (JSON) is
 * the batch owner's checkpoint: the table and row id reached, rows deleted per user and model.
 */
export const user_deletions = sqliteTable(
  "user_deletions",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    user_id: text("user_id").notNull(),
    status: text("status", { enum: USER_DELETION_STATUSES }).notNull(),
    /** the request whose chain deletes this one's rows (itself, or the request that claimed it) */
    batch_id: text("batch_id"),
    /** the batch owner's checkpoint: the chain position it was written at */
    step: integer("step").notNull().default(0),
    state: text("state"),
    rows: integer("rows").notNull().default(0),
    /** JSON object: rows deleted per model */
    by_model: text("by_model").notNull().default("{}"),
    error: text("error"),
    requested_by: text("requested_by").notNull(),
    created_at: integer("created_at").notNull(),
    started_at: integer("started_at"),
    finished_at: integer("finished_at"),
  },
  (t) => [
    check("user_deletions_status", sql`${t.status} IN ('pending', 'running', 'done', 'failed')`),
    index("user_deletions_tenant_status").on(t.tenant_id, t.status, t.created_at),
    index("user_deletions_batch").on(t.batch_id),
  ],
);

export type UserDeletionRow = typeof user_deletions.$inferSelect;

export type Tenant = typeof tenants.$inferSelect;
export type Client = typeof clients.$inferSelect;
export type ApiKey = typeof api_keys.$inferSelect;
export type SigningKey = typeof signing_keys.$inferSelect;
export type ExportRow = typeof exports.$inferSelect;
export type RunRow = typeof export_runs.$inferSelect;
export type CheckpointRow = typeof export_run_checkpoints.$inferSelect;
export type DeliveryRow = typeof run_deliveries.$inferSelect;
export type Ingestion = typeof ingestions.$inferSelect;
export type SourceRow = typeof sources.$inferSelect;
export type SourceFile = typeof source_files.$inferSelect;
export type ChainRow = typeof chains.$inferSelect;
export type ChainKind = (typeof CHAIN_KINDS)[number];

// ---------------------------------------------------------------- segments and personas (docs/segments.md)

/** A tenant's scoring key (src/segments/scoring.ts, ScoringKey JSON). No row: the default key. */
export const scoring_keys = sqliteTable("scoring_keys", {
  tenant_id: text("tenant_id")
    .primaryKey()
    .references(() => tenants.id),
  key: text("key").notNull(),
  updated_at: integer("updated_at").notNull(),
});

/**
 * Segments of a tenant's users, clustered into personas. `id` is `default` (every user with
 * trait scores; made on first use) or `seg_...`. The published result (the last recompute that
 * finished): `computed_at` (epoch seconds), `generation` (the `computed_at` text its
 * persona_members rows carry on the shard), `users` and `result` (SegmentResult JSON: traits,
 * personas with sizes, centres and trait means). `run_id` is the latest recompute.
 */
export const segments = sqliteTable(
  "segments",
  {
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    id: text("id").notNull(),
    name: text("name").notNull(),
    /** JSON: Condition[][] (the export filter language over per-user aggregates) */
    filters: text("filters").notNull().default("[]"),
    personas: integer("personas").notNull().default(4),
    /** when filters or personas last changed, or a recompute was asked for while one ran: a result computed before is stale */
    defined_at: integer("defined_at").notNull(),
    run_id: text("run_id"),
    computed_at: integer("computed_at"),
    generation: text("generation"),
    users: integer("users"),
    result: text("result"),
    created_at: integer("created_at").notNull(),
    updated_at: integer("updated_at").notNull(),
    deleted_at: integer("deleted_at"),
  },
  (t) => [
    primaryKey({ columns: [t.tenant_id, t.id] }),
    uniqueIndex("segments_tenant_name").on(t.tenant_id, t.name).where(sql`${t.deleted_at} IS NULL`),
    index("segments_stale").on(t.computed_at).where(sql`${t.deleted_at} IS NULL`),
  ],
);

export const SEGMENT_RUN_STATUSES = ["running", "done", "failed"] as const;

/**
 * One recompute of a segment (or the purge of a deleted one), driven by a `segment` chain.
 * `definition` snapshots what it computes (filters, personas, scoring key) and `options` its
 * tuning, so edits made meanwhile wait for the next recompute. The checkpoint: `link` (the
 * chain position it was written for: compare-and-set), `phase`, `cursor` (last user id done in
 * the pass), `state` (k-means state JSON) or, when too big for a D1 row, `state_key` in R2.
 * At most one running recompute per segment (unique partial index).
 */
export const segment_runs = sqliteTable(
  "segment_runs",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    segment_id: text("segment_id").notNull(),
    status: text("status", { enum: SEGMENT_RUN_STATUSES }).notNull(),
    trigger: text("trigger").notNull(),
    definition: text("definition").notNull(),
    options: text("options").notNull(),
    link: integer("link").notNull().default(0),
    phase: text("phase").notNull(),
    cursor: text("cursor"),
    state: text("state"),
    state_key: text("state_key"),
    users: integer("users").notNull().default(0),
    progress: real("progress").notNull().default(0),
    error: text("error"),
    created_at: integer("created_at").notNull(),
    updated_at: integer("updated_at").notNull(),
    finished_at: integer("finished_at"),
  },
  (t) => [
    check("segment_runs_status", sql`${t.status} IN ('running', 'done', 'failed')`),
    uniqueIndex("segment_runs_one_running").on(t.tenant_id, t.segment_id).where(sql`${t.status} = 'running'`),
    index("segment_runs_segment").on(t.tenant_id, t.segment_id, t.created_at),
  ],
);

export type ScoringKeyRow = typeof scoring_keys.$inferSelect;
export type SegmentRow = typeof segments.$inferSelect;
export type SegmentRunRow = typeof segment_runs.$inferSelect;

// ---------------------------------------------------------------- back-office people and their sessions

export const USER_ROLES = ["admin", "editor", "viewer"] as const;

/**
 * People who sign in to the back office (/app), invited by the admin API. An email belongs to
 * one user across all tenants (the sign-in form asks only for email and password, so the email
 * alone must find the tenant); `email` is stored lower-cased. The password is PBKDF2-SHA256
 * (src/users/passwords.ts): `password_hash` and `password_salt` in base64url, with the
 * `password_iterations` it was made with, so the count can change without breaking old hashes.
 */
export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    email: text("email").notNull(),
    role: text("role", { enum: USER_ROLES }).notNull(),
    password_hash: text("password_hash").notNull(),
    password_salt: text("password_salt").notNull(),
    password_iterations: integer("password_iterations").notNull(),
    /** wrong passwords since the last sign-in (or the last lock-out) */
    failed_attempts: integer("failed_attempts").notNull().default(0),
    /** sign-in refused until then (epoch seconds), after too many wrong passwords */
    locked_until: integer("locked_until"),
    created_at: integer("created_at").notNull(),
  },
  (t) => [
    check("users_role", sql`${t.role} IN ('admin', 'editor', 'viewer')`),
    // globally unique, which makes it unique per tenant too
    uniqueIndex("users_email").on(t.email),
    index("users_tenant").on(t.tenant_id),
  ],
);

/**
 * Signed-in sessions. The cookie holds a random token; `id` is its SHA-256 (hex), so a leaked
 * table does not sign anyone in. `csrf_token` is the synchronizer token every form and mutating
 * fetch under /app must echo.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    user_id: text("user_id")
      .notNull()
      .references(() => users.id),
    tenant_id: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    csrf_token: text("csrf_token").notNull(),
    expires_at: integer("expires_at").notNull(),
    created_at: integer("created_at").notNull(),
  },
  (t) => [index("sessions_user").on(t.user_id), index("sessions_expires").on(t.expires_at)],
);

export type UserRow = typeof users.$inferSelect;
export type UserRole = (typeof USER_ROLES)[number];
export type SessionRow = typeof sessions.$inferSelect;
