ALTER TABLE `clients` ADD `token_ttl_seconds` integer;--> statement-breakpoint
ALTER TABLE `source_files` ADD `encrypted` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `source_files` ADD `decrypted_size` integer;