CREATE TABLE `run_class_rules` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`pattern` text,
	`role` text,
	`attribute` text,
	`attribute_value` text,
	`class` text NOT NULL,
	`position` integer DEFAULT 0 NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `run_class_rules_position_idx` ON `run_class_rules` (`position`,`id`);--> statement-breakpoint
CREATE TABLE `run_failures` (
	`run_id` text NOT NULL,
	`task_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`role` text,
	`model` text,
	`class` text NOT NULL,
	`error` text NOT NULL,
	`decision` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`run_id`, `task_id`, `attempt`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `run_failures_at_idx` ON `run_failures` (`at`,`class`);--> statement-breakpoint
CREATE TABLE `run_labels` (
	`name` text NOT NULL,
	`value` text NOT NULL,
	`started_at` integer NOT NULL,
	`run_id` text NOT NULL,
	PRIMARY KEY(`name`, `value`, `started_at`, `run_id`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `run_labels_run_idx` ON `run_labels` (`run_id`);--> statement-breakpoint
CREATE TABLE `run_policies` (
	`scope` text PRIMARY KEY NOT NULL,
	`policy` text NOT NULL,
	`updated_by` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `run_tasks` (
	`run_id` text NOT NULL,
	`id` text NOT NULL,
	`role` text,
	`title` text,
	`parent_id` text,
	`depends_on` text DEFAULT '[]' NOT NULL,
	`branch_of` text,
	`depth` integer DEFAULT 0 NOT NULL,
	`attempt` integer DEFAULT 1 NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`started_at` integer,
	`ended_at` integer,
	`attempt_started_at` integer,
	`deadline_at` integer,
	`model` text,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	`cost_usd` real DEFAULT 0 NOT NULL,
	`cost_given` integer DEFAULT false NOT NULL,
	`error` text,
	`failure_class` text,
	`input` text,
	`output` text,
	`links` text DEFAULT '[]' NOT NULL,
	`stuck_since` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`run_id`, `id`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `run_tasks_role_idx` ON `run_tasks` (`role`,`status`,`ended_at`);--> statement-breakpoint
CREATE INDEX `run_tasks_class_idx` ON `run_tasks` (`failure_class`,`run_id`);--> statement-breakpoint
CREATE INDEX `run_tasks_running_idx` ON `run_tasks` (`status`,`attempt_started_at`);--> statement-breakpoint
CREATE TABLE `runs` (
	`id` text PRIMARY KEY NOT NULL,
	`goal` text,
	`requester` text,
	`labels` text DEFAULT '{}' NOT NULL,
	`status` text DEFAULT 'running' NOT NULL,
	`started_at` integer NOT NULL,
	`ended_at` integer,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	`cost_usd` real DEFAULT 0 NOT NULL,
	`task_count` integer DEFAULT 0 NOT NULL,
	`failed_count` integer DEFAULT 0 NOT NULL,
	`policy` text,
	`escalation` text,
	`decision` text,
	`last_progress_at` integer NOT NULL,
	`open_alerts` text DEFAULT '[]' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `runs_started_idx` ON `runs` (`started_at`,`id`);--> statement-breakpoint
CREATE INDEX `runs_status_started_idx` ON `runs` (`status`,`started_at`,`id`);