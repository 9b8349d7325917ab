CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`key_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_tenant` ON `api_keys` (`tenant_id`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`details` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_log_tenant_time` ON `audit_log` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `clients` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`secret_hash` text NOT NULL,
	`permissions` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `clients_tenant` ON `clients` (`tenant_id`);--> statement-breakpoint
CREATE TABLE `export_run_checkpoints` (
	`run_id` text NOT NULL,
	`step` integer NOT NULL,
	`cursor` text,
	`rows` integer NOT NULL,
	`bytes` integer NOT NULL,
	`last_part` integer NOT NULL,
	`carry_bytes` integer NOT NULL,
	`state` text,
	`state_key` text,
	`done` integer DEFAULT 0 NOT NULL,
	`sha256` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`run_id`, `step`),
	FOREIGN KEY (`run_id`) REFERENCES `export_runs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `export_run_parts` (
	`run_id` text NOT NULL,
	`part_number` integer NOT NULL,
	`etag` text NOT NULL,
	`size` integer NOT NULL,
	`step` integer NOT NULL,
	PRIMARY KEY(`run_id`, `part_number`),
	FOREIGN KEY (`run_id`) REFERENCES `export_runs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `export_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`export_id` text NOT NULL,
	`status` text NOT NULL,
	`trigger` text DEFAULT 'manual' NOT NULL,
	`definition` text NOT NULL,
	`rows` integer DEFAULT 0 NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL,
	`progress` real DEFAULT 0 NOT NULL,
	`sha256` text,
	`error` text,
	`file_key` text,
	`file_name` text,
	`content_type` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`expires_at` integer,
	`scheduled_for` integer,
	`watermark_after` integer,
	`watermark_until` integer,
	`options` text,
	`total_rows` integer,
	`upload_id` text,
	`expired_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`export_id`) REFERENCES `exports`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "export_runs_status" CHECK("export_runs"."status" IN ('pending', 'processing', 'finished', 'failed'))
);
--> statement-breakpoint
CREATE INDEX `export_runs_export_created` ON `export_runs` (`tenant_id`,`export_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `export_runs_expires` ON `export_runs` (`expires_at`) WHERE "export_runs"."expires_at" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `export_runs_export_scheduled` ON `export_runs` (`export_id`,`scheduled_for`) WHERE "export_runs"."scheduled_for" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `export_runs_tenant_id` ON `export_runs` (`tenant_id`,`id`);--> statement-breakpoint
CREATE TABLE `exports` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`model` text NOT NULL,
	`status` text NOT NULL,
	`favourite` integer DEFAULT 0 NOT NULL,
	`definition` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`deleted_at` integer,
	`next_run_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "exports_status" CHECK("exports"."status" IN ('draft', 'active', 'disabled'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `exports_tenant_name` ON `exports` (`tenant_id`,`name`) WHERE "exports"."deleted_at" IS NULL;--> statement-breakpoint
CREATE INDEX `exports_tenant_created` ON `exports` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `exports_due` ON `exports` (`next_run_at`) WHERE "exports"."next_run_at" IS NOT NULL AND "exports"."deleted_at" IS NULL;--> statement-breakpoint
CREATE TABLE `ingestion_errors` (
	`ingestion_id` text NOT NULL,
	`line` integer NOT NULL,
	`field` text DEFAULT '' NOT NULL,
	`message` text NOT NULL,
	PRIMARY KEY(`ingestion_id`, `line`, `field`),
	FOREIGN KEY (`ingestion_id`) REFERENCES `ingestions`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `ingestions` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`model` text NOT NULL,
	`status` text NOT NULL,
	`file_key` text NOT NULL,
	`file_name` text,
	`file_bytes` integer NOT NULL,
	`columns` text NOT NULL,
	`chunk_bytes` integer NOT NULL,
	`chunk_rows` integer NOT NULL,
	`next_offset` integer NOT NULL,
	`next_line` integer NOT NULL,
	`prev_offset` integer,
	`enqueued_offset` integer,
	`chunks` integer DEFAULT 0 NOT NULL,
	`rows_accepted` integer DEFAULT 0 NOT NULL,
	`rows_rejected` integer DEFAULT 0 NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "ingestions_status" CHECK("ingestions"."status" IN ('pending', 'processing', 'completed', 'failed'))
);
--> statement-breakpoint
CREATE INDEX `ingestions_tenant_created` ON `ingestions` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `ingestions_status_updated` ON `ingestions` (`status`,`updated_at`);--> statement-breakpoint
CREATE TABLE `run_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`run_id` text NOT NULL,
	`target_type` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`location` text,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`delivered_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`run_id`) REFERENCES `export_runs`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "run_deliveries_status" CHECK("run_deliveries"."status" IN ('pending', 'delivering', 'retrying', 'delivered', 'failed'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `run_deliveries_run` ON `run_deliveries` (`tenant_id`,`run_id`);--> statement-breakpoint
CREATE TABLE `signing_keys` (
	`kid` text PRIMARY KEY NOT NULL,
	`alg` text NOT NULL,
	`status` text NOT NULL,
	`public_jwk` text NOT NULL,
	`private_jwk_sealed` text NOT NULL,
	`created_at` integer NOT NULL,
	`retired_at` integer,
	CONSTRAINT "signing_keys_status" CHECK("signing_keys"."status" IN ('active', 'previous', 'retired'))
);
--> statement-breakpoint
CREATE TABLE `source_file_errors` (
	`file_id` text NOT NULL,
	`line` integer NOT NULL,
	`field` text DEFAULT '' NOT NULL,
	`message` text NOT NULL,
	PRIMARY KEY(`file_id`, `line`, `field`),
	FOREIGN KEY (`file_id`) REFERENCES `source_files`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `source_files` (
	`id` text PRIMARY KEY NOT NULL,
	`source_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`key` text NOT NULL,
	`etag` text NOT NULL,
	`size` integer NOT NULL,
	`model` text NOT NULL,
	`format` text NOT NULL,
	`gzip` integer DEFAULT 0 NOT NULL,
	`status` text NOT NULL,
	`columns` text,
	`position` integer DEFAULT 0 NOT NULL,
	`next_line` integer DEFAULT 1 NOT NULL,
	`prev_position` integer,
	`enqueued_position` integer,
	`chunks` integer DEFAULT 0 NOT NULL,
	`rows_accepted` integer DEFAULT 0 NOT NULL,
	`rows_rejected` integer DEFAULT 0 NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`source_id`) REFERENCES `sources`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "source_files_format" CHECK("source_files"."format" IN ('ndjson', 'csv', 'parquet')),
	CONSTRAINT "source_files_status" CHECK("source_files"."status" IN ('pending', 'processing', 'completed', 'failed'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `source_files_source_key_etag` ON `source_files` (`source_id`,`key`,`etag`);--> statement-breakpoint
CREATE INDEX `source_files_source` ON `source_files` (`source_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `source_files_status` ON `source_files` (`status`,`updated_at`);--> statement-breakpoint
CREATE TABLE `sources` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`config` text NOT NULL,
	`webhook_url` text,
	`webhook_secret` text,
	`status` text DEFAULT 'ok' NOT NULL,
	`last_error` text,
	`list_cursor` text,
	`last_listed_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "sources_type" CHECK("sources"."type" IN ('s3', 'azure')),
	CONSTRAINT "sources_status" CHECK("sources"."status" IN ('ok', 'unreachable'))
);
--> statement-breakpoint
CREATE INDEX `sources_tenant` ON `sources` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`shard` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tenants_shard` ON `tenants` (`shard`);