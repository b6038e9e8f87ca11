-- Rollups in a compact row (ADR 0022): no index by time, `last` null when it equals `max`, the last
-- point's time as an offset from the bucket, the sketch a blob. Existing rows are converted here;
-- their sketches are still text, which the start-up conversion (app/modules/metrics/legacy.ts,
-- convertTextSketches) re-encodes in binary before the server answers.
DROP INDEX `rollups_res_bucket_idx`;--> statement-breakpoint
CREATE TABLE `__new_rollups` (
	`series_id` integer NOT NULL,
	`resolution` integer NOT NULL,
	`bucket` integer NOT NULL,
	`count` integer NOT NULL,
	`sum` real NOT NULL,
	`min` real NOT NULL,
	`max` real NOT NULL,
	`last` real,
	`last_offset` integer NOT NULL,
	`sketch` blob NOT NULL,
	PRIMARY KEY(`series_id`, `resolution`, `bucket`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_rollups` (`series_id`, `resolution`, `bucket`, `count`, `sum`, `min`, `max`, `last`, `last_offset`, `sketch`)
SELECT `series_id`, `resolution`, `bucket`, `count`, `sum`, `min`, `max`,
	CASE WHEN `last` = `max` THEN NULL ELSE `last` END,
	`last_ts` - `bucket`,
	`sketch`
FROM `rollups` ORDER BY `series_id`, `resolution`, `bucket`;--> statement-breakpoint
DROP TABLE `rollups`;--> statement-breakpoint
ALTER TABLE `__new_rollups` RENAME TO `rollups`;--> statement-breakpoint
-- Present while text sketches may remain: the start-up conversion drops it when it has converted them.
CREATE TABLE `rollups_text_sketches` (`since` integer);
