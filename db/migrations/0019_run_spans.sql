CREATE TABLE `run_spans` (
	`trace_id` text NOT NULL,
	`span_id` text NOT NULL,
	`parent_span_id` text,
	`run_id` text NOT NULL,
	`kind` text NOT NULL,
	`model` text,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	`started_at` integer NOT NULL,
	`ended_at` integer NOT NULL,
	`failed` integer DEFAULT false NOT NULL,
	`run` text,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`trace_id`, `span_id`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `run_spans_received_idx` ON `run_spans` (`received_at`);