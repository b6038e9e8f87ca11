CREATE TABLE `point_batches` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`min_ts` integer NOT NULL,
	`max_ts` integer NOT NULL,
	`n` integer NOT NULL,
	`data` blob NOT NULL
);
--> statement-breakpoint
CREATE TABLE `point_chunks` (
	`series_id` integer NOT NULL,
	`start_ts` integer NOT NULL,
	`seq` integer NOT NULL,
	`end_ts` integer NOT NULL,
	`n` integer NOT NULL,
	`data` blob NOT NULL,
	PRIMARY KEY(`series_id`, `start_ts`, `seq`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Raw points of the row-per-point layout wait in points_legacy (the inbox's rows winning over
-- moved ones) until the server encodes them into chunks at start-up (convertLegacyPoints, ADR 0019):
-- SQL cannot write the chunk encoding.
ALTER TABLE `points` RENAME TO `points_legacy`;
--> statement-breakpoint
INSERT INTO `points_legacy` (`series_id`, `ts`, `value`) SELECT `series_id`, `ts`, `value` FROM `points_inbox` WHERE true
	ON CONFLICT (`series_id`, `ts`) DO UPDATE SET `value` = excluded.`value`;
--> statement-breakpoint
DROP TABLE `points_inbox`;
