CREATE TABLE `components` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`labels` text DEFAULT '{}' NOT NULL,
	`check_type` text NOT NULL,
	`url` text,
	`method` text,
	`interval_seconds` integer,
	`timeout_ms` integer,
	`expected_status` text,
	`expected_body_text` text,
	`push_token_hash` text,
	`push_token_sealed` text,
	`expected_interval_seconds` integer,
	`grace_seconds` integer,
	`next_check_at` integer,
	`status` text DEFAULT 'unknown' NOT NULL,
	`status_since` integer,
	`last_check_at` integer,
	`last_message` text,
	`last_latency_ms` real,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `components_name_unique` ON `components` (`name`);--> statement-breakpoint
CREATE UNIQUE INDEX `components_push_token_hash_unique` ON `components` (`push_token_hash`);--> statement-breakpoint
CREATE INDEX `components_due_idx` ON `components` (`check_type`,`next_check_at`);--> statement-breakpoint
CREATE TABLE `prices` (
	`id` text PRIMARY KEY NOT NULL,
	`model` text NOT NULL,
	`prompt_per_1m` real NOT NULL,
	`completion_per_1m` real NOT NULL,
	`effective_from` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `prices_model_from_idx` ON `prices` (`model`,`effective_from`);--> statement-breakpoint
CREATE TABLE `status_history` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`component_id` text NOT NULL,
	`ts` integer NOT NULL,
	`up` integer NOT NULL,
	`source` text NOT NULL,
	`code` integer,
	`message` text,
	`latency_ms` real,
	`prev_ts` integer,
	`prev_up` integer,
	`held_ms` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`component_id`) REFERENCES `components`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `status_history_uptime_idx` ON `status_history` (`component_id`,`ts`,`prev_ts`,`prev_up`,`held_ms`);--> statement-breakpoint
CREATE INDEX `status_history_ts_idx` ON `status_history` (`ts`);