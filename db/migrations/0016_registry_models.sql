CREATE TABLE `deployment_history` (
	`id` text PRIMARY KEY NOT NULL,
	`host_id` text NOT NULL,
	`model_id` text NOT NULL,
	`version_id` text NOT NULL,
	`from_version_id` text,
	`kind` text NOT NULL,
	`status` text NOT NULL,
	`method` text DEFAULT '' NOT NULL,
	`progress` text NOT NULL,
	`error` text,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`by` text NOT NULL,
	FOREIGN KEY (`host_id`) REFERENCES `ollama_hosts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`version_id`) REFERENCES `model_versions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `deployment_history_model_idx` ON `deployment_history` (`model_id`,`started_at`);--> statement-breakpoint
CREATE TABLE `deployments` (
	`host_id` text NOT NULL,
	`model_id` text NOT NULL,
	`version_id` text NOT NULL,
	`history_id` text NOT NULL,
	`since` integer NOT NULL,
	`by` text NOT NULL,
	PRIMARY KEY(`host_id`, `model_id`),
	FOREIGN KEY (`host_id`) REFERENCES `ollama_hosts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`version_id`) REFERENCES `model_versions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `model_aliases` (
	`model_id` text NOT NULL,
	`name` text NOT NULL,
	`version_id` text NOT NULL,
	`moved_by` text NOT NULL,
	`moved_at` integer NOT NULL,
	`reason` text DEFAULT '' NOT NULL,
	PRIMARY KEY(`model_id`, `name`),
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`version_id`) REFERENCES `model_versions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `model_versions` (
	`id` text PRIMARY KEY NOT NULL,
	`model_id` text NOT NULL,
	`version` text NOT NULL,
	`previous_version` text,
	`modelfile` text NOT NULL,
	`sha256` text NOT NULL,
	`training` text NOT NULL,
	`status` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `model_versions_model_version_idx` ON `model_versions` (`model_id`,`version`);--> statement-breakpoint
CREATE TABLE `models` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`base_model` text NOT NULL,
	`tags` text NOT NULL,
	`notes` text DEFAULT '' NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `ollama_hosts` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`url` text NOT NULL,
	`auth_header_name` text,
	`auth_header_value` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `ollama_hosts_name_unique` ON `ollama_hosts` (`name`);