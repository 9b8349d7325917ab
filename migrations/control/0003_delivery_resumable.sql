ALTER TABLE `run_deliveries` ADD `target` text;--> statement-breakpoint
ALTER TABLE `run_deliveries` ADD `upload_state` text;--> statement-breakpoint
ALTER TABLE `run_deliveries` ADD `sent_bytes` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `run_deliveries` ADD `part_size` integer;