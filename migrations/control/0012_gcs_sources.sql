-- Adds 'gcs' to the sources_type check, which SQLite can only do by rebuilding the table. D1
-- cannot turn foreign keys off (https://developers.cloudflare.com/d1/sql-api/foreign-keys/), so
-- DROP TABLE `sources` cascades into source_files and source_file_errors: their rows are kept
-- aside first and put back once the new `sources` is in place.
PRAGMA defer_foreign_keys = on;--> statement-breakpoint
CREATE TABLE `__keep_source_files` AS SELECT * FROM `source_files`;--> statement-breakpoint
CREATE TABLE `__keep_source_file_errors` AS SELECT * FROM `source_file_errors`;--> statement-breakpoint
CREATE TABLE `__new_sources` (
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
	CONSTRAINT "sources_type" CHECK("__new_sources"."type" IN ('s3', 'azure', 'gcs')),
	CONSTRAINT "sources_status" CHECK("__new_sources"."status" IN ('ok', 'unreachable'))
);
--> statement-breakpoint
INSERT INTO `__new_sources`("id", "tenant_id", "name", "type", "config", "webhook_url", "webhook_secret", "status", "last_error", "list_cursor", "last_listed_at", "created_at", "updated_at") SELECT "id", "tenant_id", "name", "type", "config", "webhook_url", "webhook_secret", "status", "last_error", "list_cursor", "last_listed_at", "created_at", "updated_at" FROM `sources`;--> statement-breakpoint
DROP TABLE `sources`;--> statement-breakpoint
ALTER TABLE `__new_sources` RENAME TO `sources`;--> statement-breakpoint
INSERT OR IGNORE INTO `source_files` SELECT * FROM `__keep_source_files`;--> statement-breakpoint
INSERT OR IGNORE INTO `source_file_errors` SELECT * FROM `__keep_source_file_errors`;--> statement-breakpoint
DROP TABLE `__keep_source_files`;--> statement-breakpoint
DROP TABLE `__keep_source_file_errors`;--> statement-breakpoint
PRAGMA defer_foreign_keys = off;--> statement-breakpoint
CREATE INDEX `sources_tenant` ON `sources` (`tenant_id`,`created_at`);