CREATE TABLE `points_inbox` (
	`ts` integer NOT NULL,
	`series_id` integer NOT NULL,
	`value` real NOT NULL,
	PRIMARY KEY(`ts`, `series_id`)
) WITHOUT ROWID;
