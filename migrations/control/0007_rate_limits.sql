CREATE TABLE `client_auth_failures` (
	`client_id` text PRIMARY KEY NOT NULL,
	`failures` integer NOT NULL,
	`first_failed_at` integer NOT NULL,
	`locked_until` integer
);
--> statement-breakpoint
ALTER TABLE `tenants` ADD `rate_limits` text;