CREATE TABLE `task_health` (
	`task_id` text NOT NULL,
	`check_index` integer NOT NULL,
	`alive` integer NOT NULL,
	`consecutive_failures` integer NOT NULL,
	`first_success` real,
	`last_success` real,
	`last_failure` real,
	`last_failure_cause` text,
	PRIMARY KEY(`task_id`, `check_index`)
);
--> statement-breakpoint
CREATE TABLE `task_readiness` (
	`task_id` text NOT NULL,
	`name` text NOT NULL,
	`ready` integer NOT NULL,
	`last_response` text,
	`updated_at` real NOT NULL,
	PRIMARY KEY(`task_id`, `name`)
);
