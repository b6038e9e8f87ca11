-- The 1-minute tier packed a series' hour to a row (ADR 0030). Existing 1-minute rows stay in
-- `rollups` until the start-up conversion (app/modules/metrics/legacy.ts, packMinuteRows) packs them
-- before the server answers; the mark table says there may be some left and is dropped when done.
CREATE TABLE `rollup_minutes` (
	`series_id` integer NOT NULL,
	`hour` integer NOT NULL,
	`n` integer NOT NULL,
	`data` blob NOT NULL,
	PRIMARY KEY(`series_id`, `hour`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `rollups_unpacked_minutes` (`since` integer);
