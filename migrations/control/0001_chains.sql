CREATE TABLE `chains` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`tenant_id` text NOT NULL,
	`subject_id` text NOT NULL,
	`status` text NOT NULL,
	`position` integer DEFAULT 0 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`lease_until` integer NOT NULL,
	`holder` text,
	`last_error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	CONSTRAINT "chains_status" CHECK("chains"."status" IN ('running', 'done', 'failed'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `chains_kind_subject` ON `chains` (`kind`,`subject_id`);--> statement-breakpoint
CREATE INDEX `chains_due` ON `chains` (`lease_until`) WHERE "chains"."status" = 'running';