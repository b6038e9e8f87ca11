CREATE TABLE `metric_kinds` (
	`name` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`source` text NOT NULL,
	`updated_at` integer NOT NULL
);
