CREATE TABLE `app_versions` (
	`app_id` text NOT NULL,
	`version` text NOT NULL,
	`definition` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `app_versions_app` ON `app_versions` (`app_id`,`version`);--> statement-breakpoint
CREATE TABLE `applied_updates` (
	`update_id` text PRIMARY KEY NOT NULL,
	`applied_at` real NOT NULL
);
--> statement-breakpoint
CREATE INDEX `applied_updates_at` ON `applied_updates` (`applied_at`);--> statement-breakpoint
CREATE TABLE `apps` (
	`id` text PRIMARY KEY NOT NULL,
	`version` text NOT NULL,
	`definition` text NOT NULL,
	`last_scaling_at` text NOT NULL,
	`last_config_change_at` text NOT NULL,
	`backoff_seconds` real NOT NULL,
	`delay_until` real,
	`last_task_failure` text,
	`waiting` text
);
--> statement-breakpoint
CREATE TABLE `deployments` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`action` text NOT NULL,
	`version` text NOT NULL,
	`previous` text,
	`created_at` real NOT NULL
);
--> statement-breakpoint
CREATE INDEX `deployments_app` ON `deployments` (`app_id`);--> statement-breakpoint
CREATE TABLE `offer_filters` (
	`framework` text NOT NULL,
	`agent_id` text NOT NULL,
	`until` real NOT NULL,
	PRIMARY KEY(`framework`, `agent_id`)
);
--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`framework` text NOT NULL,
	`group_id` text NOT NULL,
	`version` text NOT NULL,
	`agent_id` text NOT NULL,
	`host` text NOT NULL,
	`state` text NOT NULL,
	`ports` text NOT NULL,
	`resources` text NOT NULL,
	`message` text,
	`healthy` integer,
	`staged_at` real NOT NULL,
	`started_at` real,
	`updated_at` real NOT NULL,
	`kill_requested_at` real,
	`ended_at` real
);
--> statement-breakpoint
CREATE INDEX `tasks_group` ON `tasks` (`framework`,`group_id`);--> statement-breakpoint
CREATE INDEX `tasks_agent` ON `tasks` (`agent_id`);--> statement-breakpoint
CREATE INDEX `tasks_ended` ON `tasks` (`ended_at`);