-- The 1-minute tier packed a series' hour to a row (ADR 0030). Existing 1-minute rows stay in
-- `rollups` until the start-up conversion (app/modules/metrics/legacy.ts, packMinuteRows) packs them
-- before the server answers; the mark table says there may be some left and is dropped when done.
-- A rowid table with a unique index, not WITHOUT ROWID: an index b-tree keeps only ≈ 1,000 B of a row in
-- its page and packs of full-precision series reach 2,300 B (overflow pages); a rowid leaf keeps ≈ 4,060 B.
CREATE TABLE `rollup_minutes` (
	`series_id` integer NOT NULL,
	`hour` integer NOT NULL,
	`n` integer NOT NULL,
	`data` blob NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `rollup_minutes_series_hour` ON `rollup_minutes` (`series_id`,`hour`);
--> statement-breakpoint
CREATE TABLE `rollups_unpacked_minutes` (`since` integer);
