DROP INDEX `runs_unflagged_open_idx`;--> statement-breakpoint
ALTER TABLE `runs` ADD `next_check_at` integer;--> statement-breakpoint
CREATE INDEX `runs_check_idx` ON `runs` (`next_check_at`) WHERE "runs"."next_check_at" IS NOT NULL;--> statement-breakpoint
-- Runs that may have an alert to raise or resolve are due at the first tick after the upgrade.
UPDATE `runs` SET `next_check_at` = 0 WHERE `status` IN ('running', 'escalated') OR `open_alerts` <> '[]';