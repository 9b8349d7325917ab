CREATE TABLE `campaign_triggers` (
	`export_id` text NOT NULL,
	`campaign_code` text NOT NULL,
	`tenant_id` text NOT NULL,
	`run_id` text NOT NULL,
	`campaign_end` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`export_id`, `campaign_code`),
	FOREIGN KEY (`export_id`) REFERENCES `exports`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `campaign_triggers_tenant` ON `campaign_triggers` (`tenant_id`,`export_id`);