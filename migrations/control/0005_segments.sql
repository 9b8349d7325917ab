CREATE TABLE `scoring_keys` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`key` text NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `segment_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`segment_id` text NOT NULL,
	`status` text NOT NULL,
	`trigger` text NOT NULL,
	`definition` text NOT NULL,
	`options` text NOT NULL,
	`link` integer DEFAULT 0 NOT NULL,
	`phase` text NOT NULL,
	`cursor` text,
	`state` text,
	`state_key` text,
	`users` integer DEFAULT 0 NOT NULL,
	`progress` real DEFAULT 0 NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "segment_runs_status" CHECK("segment_runs"."status" IN ('running', 'done', 'failed'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `segment_runs_one_running` ON `segment_runs` (`tenant_id`,`segment_id`) WHERE "segment_runs"."status" = 'running';--> statement-breakpoint
CREATE INDEX `segment_runs_segment` ON `segment_runs` (`tenant_id`,`segment_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `segments` (
	`tenant_id` text NOT NULL,
	`id` text NOT NULL,
	`name` text NOT NULL,
	`filters` text DEFAULT '[]' NOT NULL,
	`personas` integer DEFAULT 4 NOT NULL,
	`defined_at` integer NOT NULL,
	`run_id` text,
	`computed_at` integer,
	`generation` text,
	`users` integer,
	`result` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`deleted_at` integer,
	PRIMARY KEY(`tenant_id`, `id`),
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `segments_tenant_name` ON `segments` (`tenant_id`,`name`) WHERE "segments"."deleted_at" IS NULL;--> statement-breakpoint
CREATE INDEX `segments_stale` ON `segments` (`computed_at`) WHERE "segments"."deleted_at" IS NULL;