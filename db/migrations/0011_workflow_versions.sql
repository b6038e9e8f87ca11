CREATE TABLE `workflow_versions` (
	`id` text PRIMARY KEY NOT NULL,
	`instance_id` text NOT NULL,
	`workflow_id` text NOT NULL,
	`seq` integer NOT NULL,
	`name` text NOT NULL,
	`active` integer NOT NULL,
	`hash` text NOT NULL,
	`content` text NOT NULL,
	`node_count` integer NOT NULL,
	`n8n_version_id` text,
	`author` text NOT NULL,
	`kind` text NOT NULL,
	`restored_seq` integer,
	`changed_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `workflow_versions_seq` ON `workflow_versions` (`instance_id`,`workflow_id`,`seq`);--> statement-breakpoint
CREATE INDEX `workflow_versions_created` ON `workflow_versions` (`instance_id`,`created_at`);