CREATE TABLE `front_summaries` (
	`tile` text NOT NULL,
	`range` text NOT NULL,
	`version` integer NOT NULL,
	`as_of` integer NOT NULL,
	`took_ms` integer NOT NULL,
	`data` text NOT NULL,
	PRIMARY KEY(`tile`, `range`)
);
