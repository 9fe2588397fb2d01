CREATE TABLE `job_runs` (
	`job_id` text NOT NULL,
	`id` text NOT NULL,
	`status` text NOT NULL,
	`spec` text NOT NULL,
	`tasks` text NOT NULL,
	`created_at` real NOT NULL,
	`completed_at` real,
	`starting_deadline` real,
	`delay_until` real,
	`backoff_seconds` real NOT NULL,
	`open` integer NOT NULL,
	PRIMARY KEY(`job_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `job_runs_open` ON `job_runs` (`open`);--> statement-breakpoint
CREATE INDEX `job_runs_job` ON `job_runs` (`job_id`,`status`);--> statement-breakpoint
CREATE TABLE `job_schedules` (
	`job_id` text NOT NULL,
	`id` text NOT NULL,
	`spec` text NOT NULL,
	`next_run_at` real,
	`wake_at` real,
	PRIMARY KEY(`job_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `job_schedules_next` ON `job_schedules` (`next_run_at`);--> statement-breakpoint
CREATE INDEX `job_schedules_wake` ON `job_schedules` (`wake_at`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`spec` text NOT NULL,
	`created_at` real NOT NULL,
	`success_count` integer NOT NULL,
	`failure_count` integer NOT NULL,
	`last_success_at` real,
	`last_failure_at` real
);
