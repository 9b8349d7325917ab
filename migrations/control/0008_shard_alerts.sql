CREATE TABLE `shard_alerts` (
	`shard` integer PRIMARY KEY NOT NULL,
	`alerted_at` integer NOT NULL
);
