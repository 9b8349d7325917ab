ALTER TABLE `ingestions` DROP COLUMN `prev_offset`;--> statement-breakpoint
ALTER TABLE `ingestions` DROP COLUMN `enqueued_offset`;--> statement-breakpoint
ALTER TABLE `source_files` DROP COLUMN `prev_position`;--> statement-breakpoint
ALTER TABLE `source_files` DROP COLUMN `enqueued_position`;