CREATE TABLE `points` (
	`series_id` integer NOT NULL,
	`ts` integer NOT NULL,
	`value` real NOT NULL,
	PRIMARY KEY(`series_id`, `ts`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `rollup_dirty` (
	`resolution` integer NOT NULL,
	`series_id` integer NOT NULL,
	`bucket` integer NOT NULL,
	PRIMARY KEY(`resolution`, `bucket`, `series_id`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `rollup_watermarks` (
	`resolution` integer PRIMARY KEY NOT NULL,
	`watermark` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `rollups` (
	`series_id` integer NOT NULL,
	`resolution` integer NOT NULL,
	`bucket` integer NOT NULL,
	`count` integer NOT NULL,
	`sum` real NOT NULL,
	`min` real NOT NULL,
	`max` real NOT NULL,
	`last` real NOT NULL,
	`last_ts` integer NOT NULL,
	`sketch` text NOT NULL,
	PRIMARY KEY(`series_id`, `resolution`, `bucket`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `rollups_res_bucket_idx` ON `rollups` (`resolution`,`bucket`);--> statement-breakpoint
CREATE TABLE `series` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`fingerprint` text NOT NULL,
	`name` text NOT NULL,
	`labels` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `series_fingerprint_unique` ON `series` (`fingerprint`);--> statement-breakpoint
CREATE INDEX `series_name_idx` ON `series` (`name`);