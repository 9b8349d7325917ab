CREATE TABLE `custom_fields` (
	`tenant_id` text NOT NULL,
	`model` text NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`position` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `model`, `name`)
);
