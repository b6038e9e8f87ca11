CREATE TABLE `backup_restores` (
	`id` text PRIMARY KEY NOT NULL,
	`backup_id` text NOT NULL,
	`kind` text NOT NULL,
	`status` text NOT NULL,
	`requested_by` text NOT NULL,
	`requested_by_name` text NOT NULL,
	`approved_by` text,
	`approved_by_name` text,
	`reason` text DEFAULT '' NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`started_at` integer,
	`finished_at` integer,
	`duration_ms` integer,
	`kept_as` text
);
--> statement-breakpoint
CREATE INDEX `backup_restores_created` ON `backup_restores` (`created_at`);--> statement-breakpoint
CREATE TABLE `backup_targets` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`config` text NOT NULL,
	`destination_kind` text DEFAULT 'local' NOT NULL,
	`destination_config` text NOT NULL,
	`schedule` text NOT NULL,
	`keep_last` integer DEFAULT 7 NOT NULL,
	`keep_daily` integer DEFAULT 7 NOT NULL,
	`keep_weekly` integer DEFAULT 4 NOT NULL,
	`keep_monthly` integer DEFAULT 6 NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `backup_targets_name_unique` ON `backup_targets` (`name`);--> statement-breakpoint
CREATE TABLE `backups` (
	`id` text PRIMARY KEY NOT NULL,
	`target_id` text,
	`target_name` text NOT NULL,
	`kind` text NOT NULL,
	`status` text NOT NULL,
	`trigger` text NOT NULL,
	`destination_kind` text NOT NULL,
	`location` text NOT NULL,
	`size` integer,
	`sha256` text,
	`encryption` text DEFAULT 'none' NOT NULL,
	`manifest` text,
	`error` text,
	`created_by` text NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`duration_ms` integer,
	`verified_at` integer,
	`verify_ms` integer,
	FOREIGN KEY (`target_id`) REFERENCES `backup_targets`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `backups_target_started` ON `backups` (`target_id`,`started_at`);--> statement-breakpoint
CREATE INDEX `backups_started` ON `backups` (`started_at`);--> statement-breakpoint
INSERT INTO `backup_targets` (`id`, `name`, `kind`, `config`, `destination_kind`, `destination_config`, `schedule`, `keep_last`, `keep_daily`, `keep_weekly`, `keep_monthly`, `enabled`, `created_at`, `updated_at`) VALUES ('homeostat', 'homeostat', 'homeostat', '{}', 'local', '{}', '0 3 * * *', 7, 7, 4, 6, 1, 0, 0);
