CREATE TABLE `offers` (
	`id` text PRIMARY KEY NOT NULL,
	`framework` text NOT NULL,
	`agent_id` text NOT NULL,
	`resources` text NOT NULL,
	`created_at` real NOT NULL,
	`expires_at` real NOT NULL
);
--> statement-breakpoint
CREATE INDEX `offers_framework` ON `offers` (`framework`);--> statement-breakpoint
CREATE INDEX `offers_agent` ON `offers` (`agent_id`);--> statement-breakpoint
CREATE INDEX `offers_expires` ON `offers` (`expires_at`);--> statement-breakpoint
CREATE TABLE `framework_tasks` (
	`task_id` text PRIMARY KEY NOT NULL,
	`framework_id` text NOT NULL,
	`info` text NOT NULL,
	`kill_grace_ms` integer NOT NULL,
	`task_group` text
);
--> statement-breakpoint
CREATE INDEX `framework_tasks_framework` ON `framework_tasks` (`framework_id`);--> statement-breakpoint
CREATE INDEX `framework_tasks_group` ON `framework_tasks` (`task_group`);--> statement-breakpoint
CREATE TABLE `framework_updates` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uuid` text NOT NULL,
	`framework_id` text NOT NULL,
	`task_id` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer NOT NULL,
	`next_at` real
);
--> statement-breakpoint
CREATE UNIQUE INDEX `framework_updates_uuid_unique` ON `framework_updates` (`uuid`);--> statement-breakpoint
CREATE INDEX `framework_updates_task` ON `framework_updates` (`framework_id`,`task_id`);--> statement-breakpoint
CREATE INDEX `framework_updates_next` ON `framework_updates` (`next_at`);--> statement-breakpoint
CREATE TABLE `frameworks` (
	`id` text PRIMARY KEY NOT NULL,
	`info` text NOT NULL,
	`principal` text NOT NULL,
	`stream_id` text NOT NULL,
	`state` text NOT NULL,
	`suppressed_roles` text NOT NULL,
	`registered_at` real NOT NULL,
	`reregistered_at` real,
	`failover_at` real,
	`removed_at` real
);
