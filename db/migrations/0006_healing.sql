CREATE TABLE `breaker_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`ts` integer NOT NULL,
	`from_state` text NOT NULL,
	`to_state` text NOT NULL,
	`reason` text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE INDEX `breaker_events_key_idx` ON `breaker_events` (`key`,`id`);--> statement-breakpoint
CREATE TABLE `circuit_breakers` (
	`key` text PRIMARY KEY NOT NULL,
	`state` text DEFAULT 'CLOSED' NOT NULL,
	`window` text DEFAULT '[]' NOT NULL,
	`settings` text NOT NULL,
	`open_count` integer DEFAULT 0 NOT NULL,
	`opened_at` integer,
	`retry_at` integer,
	`half_open_successes` integer DEFAULT 0 NOT NULL,
	`last_failure_at` integer,
	`last_success_at` integer,
	`last_error` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `healing_actions` (
	`id` text PRIMARY KEY NOT NULL,
	`rule_id` text,
	`trigger` text NOT NULL,
	`action_type` text NOT NULL,
	`target` text NOT NULL,
	`params` text DEFAULT '{}' NOT NULL,
	`status` text NOT NULL,
	`reason` text,
	`priority` integer DEFAULT 0 NOT NULL,
	`dry_run` integer DEFAULT false NOT NULL,
	`attempt` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer DEFAULT 3 NOT NULL,
	`run_after` integer NOT NULL,
	`requested_by` text NOT NULL,
	`decided_by` text,
	`decided_at` integer,
	`approval_expires_at` integer,
	`idempotency_key` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`verify_at` integer,
	`finished_at` integer,
	`output` text DEFAULT '{}' NOT NULL,
	`error` text,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`rule_id`) REFERENCES `healing_rules`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `healing_actions_status_idx` ON `healing_actions` (`status`,`priority`,`run_after`);--> statement-breakpoint
CREATE INDEX `healing_actions_target_idx` ON `healing_actions` (`target`,`created_at`);--> statement-breakpoint
CREATE INDEX `healing_actions_rule_idx` ON `healing_actions` (`rule_id`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `healing_actions_idem_idx` ON `healing_actions` (`idempotency_key`);--> statement-breakpoint
CREATE TABLE `healing_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`action_id` text NOT NULL,
	`ts` integer NOT NULL,
	`status` text NOT NULL,
	`actor` text NOT NULL,
	`message` text DEFAULT '' NOT NULL,
	`detail` text DEFAULT '{}' NOT NULL,
	FOREIGN KEY (`action_id`) REFERENCES `healing_actions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `healing_events_action_idx` ON `healing_events` (`action_id`,`id`);--> statement-breakpoint
CREATE TABLE `healing_locks` (
	`target` text PRIMARY KEY NOT NULL,
	`action_id` text NOT NULL,
	`acquired_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `healing_rules` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`trigger` text NOT NULL,
	`action_type` text NOT NULL,
	`target` text NOT NULL,
	`params` text DEFAULT '{}' NOT NULL,
	`mode` text DEFAULT 'automated' NOT NULL,
	`cooldown_ms` integer DEFAULT 300000 NOT NULL,
	`max_per_hour` integer DEFAULT 6 NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer DEFAULT 3 NOT NULL,
	`approval_ttl_ms` integer DEFAULT 3600000 NOT NULL,
	`verification` text DEFAULT '{"type":"none"}' NOT NULL,
	`rollback_on_failure` integer DEFAULT true NOT NULL,
	`notify` text DEFAULT '{"channelIds":[],"on":[]}' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `healing_rules_name_unique` ON `healing_rules` (`name`);--> statement-breakpoint
CREATE TABLE `model_route_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`route_id` text NOT NULL,
	`ts` integer NOT NULL,
	`from_index` integer NOT NULL,
	`to_index` integer NOT NULL,
	`reason` text NOT NULL,
	`actor` text NOT NULL,
	FOREIGN KEY (`route_id`) REFERENCES `model_routes`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `model_route_events_route_idx` ON `model_route_events` (`route_id`,`id`);--> statement-breakpoint
CREATE TABLE `model_routes` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`targets` text NOT NULL,
	`active_index` integer DEFAULT 0 NOT NULL,
	`failback_after_ms` integer DEFAULT 60000 NOT NULL,
	`probe_path` text DEFAULT '' NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`changed_at` integer NOT NULL,
	`change_reason` text DEFAULT 'created' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `model_routes_name_unique` ON `model_routes` (`name`);--> statement-breakpoint
CREATE TABLE `n8n_instances` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`base_url` text NOT NULL,
	`api_key` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `n8n_instances_name_unique` ON `n8n_instances` (`name`);