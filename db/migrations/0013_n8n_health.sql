CREATE TABLE `n8n_executions` (
	`instance_id` text NOT NULL,
	`id` text NOT NULL,
	`workflow_id` text NOT NULL,
	`status` text NOT NULL,
	`mode` text,
	`started_at` integer,
	`stopped_at` integer,
	`duration_ms` integer,
	`retry_of` text,
	`failure_class` text,
	`failing_node` text,
	`node_type` text,
	`http_code` integer,
	`message` text,
	`seen_at` integer NOT NULL,
	PRIMARY KEY(`instance_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `n8n_executions_workflow` ON `n8n_executions` (`instance_id`,`workflow_id`,`started_at`);--> statement-breakpoint
CREATE INDEX `n8n_executions_seen` ON `n8n_executions` (`seen_at`);--> statement-breakpoint
CREATE TABLE `n8n_failure_rules` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`position` integer DEFAULT 0 NOT NULL,
	`pattern` text,
	`node_type` text,
	`http_status` integer,
	`failure_class` text NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `n8n_poll_state` (
	`instance_id` text PRIMARY KEY NOT NULL,
	`watermark` integer DEFAULT 0 NOT NULL,
	`pending` text DEFAULT '{}' NOT NULL,
	`reachable` integer,
	`error` text,
	`version` text,
	`version_checked_at` integer,
	`last_poll_at` integer,
	`last_ok_at` integer,
	`last_calls` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `n8n_workflows` (
	`instance_id` text NOT NULL,
	`workflow_id` text NOT NULL,
	`name` text NOT NULL,
	`active` integer NOT NULL,
	`active_since` integer,
	`trigger` text NOT NULL,
	`state` text DEFAULT 'unknown' NOT NULL,
	`state_reason` text,
	`last_run_at` integer,
	`last_success_at` integer,
	`last_failure_at` integer,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`counts` text DEFAULT '{}' NOT NULL,
	`failures` text DEFAULT '{}' NOT NULL,
	`expect_every_ms` integer,
	`missed_since` integer,
	`deactivated_at` integer,
	`open_failures` text DEFAULT '[]' NOT NULL,
	`seen_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`instance_id`, `workflow_id`)
);
