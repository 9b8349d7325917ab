CREATE TABLE `user_deletions` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`user_id` text NOT NULL,
	`status` text NOT NULL,
	`batch_id` text,
	`step` integer DEFAULT 0 NOT NULL,
	`state` text,
	`rows` integer DEFAULT 0 NOT NULL,
	`by_model` text DEFAULT '{}' NOT NULL,
	`error` text,
	`requested_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "user_deletions_status" CHECK("user_deletions"."status" IN ('pending', 'running', 'done', 'failed'))
);
--> statement-breakpoint
CREATE INDEX `user_deletions_tenant_status` ON `user_deletions` (`tenant_id`,`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `user_deletions_batch` ON `user_deletions` (`batch_id`);