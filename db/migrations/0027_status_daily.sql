CREATE TABLE `status_daily` (
	`component_id` text NOT NULL,
	`day` integer NOT NULL,
	`up_ms` integer DEFAULT 0 NOT NULL,
	`known_ms` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`component_id`, `day`),
	FOREIGN KEY (`component_id`) REFERENCES `components`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
-- Every result adds the state it closes to the day that state began (written by hand: drizzle-kit does not
-- generate triggers). Deleting history does not subtract: the checks job prunes both by age.
CREATE TRIGGER `status_daily_add` AFTER INSERT ON `status_history`
WHEN NEW.`held_ms` > 0 AND NEW.`prev_ts` IS NOT NULL
BEGIN
	INSERT INTO `status_daily` (`component_id`, `day`, `up_ms`, `known_ms`)
	VALUES (NEW.`component_id`, NEW.`prev_ts` / 86400000, CASE WHEN NEW.`prev_up` = 1 THEN NEW.`held_ms` ELSE 0 END, NEW.`held_ms`)
	ON CONFLICT (`component_id`, `day`) DO UPDATE SET
		`up_ms` = `up_ms` + excluded.`up_ms`, `known_ms` = `known_ms` + excluded.`known_ms`;
END;
--> statement-breakpoint
INSERT INTO `status_daily` (`component_id`, `day`, `up_ms`, `known_ms`)
SELECT `component_id`, `prev_ts` / 86400000, SUM(CASE WHEN `prev_up` = 1 THEN `held_ms` ELSE 0 END), SUM(`held_ms`)
FROM `status_history` WHERE `held_ms` > 0 AND `prev_ts` IS NOT NULL
GROUP BY `component_id`, `prev_ts` / 86400000;
