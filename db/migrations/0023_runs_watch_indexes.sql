CREATE INDEX `run_tasks_stuck_idx` ON `run_tasks` (`stuck_since`) WHERE "run_tasks"."stuck_since" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `runs_decided_idx` ON `runs` (`updated_at`) WHERE "runs"."decision" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `runs_alerted_idx` ON `runs` (`id`) WHERE "runs"."open_alerts" <> '[]';--> statement-breakpoint
CREATE INDEX `runs_unflagged_open_idx` ON `runs` (`last_progress_at`,`started_at`,`cost_usd`,`policy`) WHERE "runs"."status" IN ('running', 'escalated') AND "runs"."open_alerts" = '[]';