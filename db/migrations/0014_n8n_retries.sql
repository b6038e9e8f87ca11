CREATE TABLE `n8n_retries` (
	`id` text PRIMARY KEY NOT NULL,
	`instance_id` text NOT NULL,
	`workflow_id` text NOT NULL,
	`execution_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`at` integer NOT NULL,
	`retry_execution_id` text,
	`outcome` text NOT NULL,
	`failure_class` text,
	`failing_node` text,
	`message` text,
	`action_id` text
);
--> statement-breakpoint
CREATE INDEX `n8n_retries_execution` ON `n8n_retries` (`instance_id`,`execution_id`);--> statement-breakpoint
CREATE INDEX `n8n_retries_workflow` ON `n8n_retries` (`instance_id`,`workflow_id`,`at`);--> statement-breakpoint
CREATE INDEX `n8n_retries_made` ON `n8n_retries` (`instance_id`,`retry_execution_id`);