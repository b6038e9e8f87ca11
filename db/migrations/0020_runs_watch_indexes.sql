CREATE INDEX `run_tasks_stuck_idx` ON `run_tasks` (`stuck_since`) WHERE "run_tasks"."stuck_since" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `runs_decided_idx` ON `runs` (`updated_at`) WHERE "runs"."decision" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `runs_alerted_idx` ON `runs` (`id`) WHERE "runs"."open_alerts" <> '[]';