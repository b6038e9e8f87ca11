CREATE TABLE `alert_repeats` (
	`alert_id` text PRIMARY KEY NOT NULL,
	`n` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`alert_id`) REFERENCES `alerts`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
