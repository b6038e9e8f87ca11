ALTER TABLE `backup_restores` ADD `bytes_done` integer;--> statement-breakpoint
ALTER TABLE `backups` ADD `phase` text;--> statement-breakpoint
ALTER TABLE `backups` ADD `bytes_done` integer;