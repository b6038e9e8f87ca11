CREATE TABLE `alert_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`alert_id` text NOT NULL,
	`ts` integer NOT NULL,
	`type` text NOT NULL,
	`actor` text NOT NULL,
	`detail` text DEFAULT '{}' NOT NULL,
	FOREIGN KEY (`alert_id`) REFERENCES `alerts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `alert_events_alert_idx` ON `alert_events` (`alert_id`,`id`);--> statement-breakpoint
CREATE TABLE `alert_rules` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`metric` text NOT NULL,
	`matchers` text DEFAULT '[]' NOT NULL,
	`by` text DEFAULT '[]' NOT NULL,
	`agg` text DEFAULT 'avg' NOT NULL,
	`window_ms` integer NOT NULL,
	`comparator` text,
	`value` real,
	`params` text DEFAULT '{}' NOT NULL,
	`for_ms` integer DEFAULT 0 NOT NULL,
	`keep_firing_for_ms` integer DEFAULT 0 NOT NULL,
	`severity` text DEFAULT 'warning' NOT NULL,
	`labels` text DEFAULT '{}' NOT NULL,
	`summary` text DEFAULT '' NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`runbook_url` text,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `alert_rules_name_unique` ON `alert_rules` (`name`);--> statement-breakpoint
CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`fingerprint` text NOT NULL,
	`rule_id` text,
	`source` text NOT NULL,
	`title` text NOT NULL,
	`status` text NOT NULL,
	`silenced` integer DEFAULT false NOT NULL,
	`severity` text NOT NULL,
	`labels` text NOT NULL,
	`annotations` text NOT NULL,
	`value` real,
	`starts_at` integer,
	`active_at` integer NOT NULL,
	`ends_at` integer,
	`last_seen_at` integer NOT NULL,
	`repeat_count` integer DEFAULT 0 NOT NULL,
	`ack_by` text,
	`ack_at` integer,
	`resolved_by` text,
	`resolved_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`rule_id`) REFERENCES `alert_rules`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `alerts_fingerprint_unique` ON `alerts` (`fingerprint`);--> statement-breakpoint
CREATE INDEX `alerts_status_idx` ON `alerts` (`status`,`id`);--> statement-breakpoint
CREATE INDEX `alerts_rule_idx` ON `alerts` (`rule_id`,`status`);--> statement-breakpoint
CREATE INDEX `alerts_active_idx` ON `alerts` (`active_at`);