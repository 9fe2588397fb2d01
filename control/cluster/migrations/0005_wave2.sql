CREATE TABLE `agent_diagnostics` (
	`agent_id` text PRIMARY KEY NOT NULL,
	`checks` text NOT NULL,
	`reported_at` real NOT NULL
);
--> statement-breakpoint
CREATE TABLE `audit` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`user_id` text,
	`token_id` text,
	`action` text NOT NULL,
	`target` text,
	`detail` text
);
--> statement-breakpoint
CREATE INDEX `audit_at` ON `audit` (`at`);--> statement-breakpoint
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
CREATE TABLE `package_repositories` (
	`name` text PRIMARY KEY NOT NULL,
	`uri` text NOT NULL,
	`position` integer NOT NULL,
	`etag` text,
	`fetched_at` integer,
	`checked_at` integer,
	`last_error` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `package_repositories_uri_unique` ON `package_repositories` (`uri`);--> statement-breakpoint
CREATE TABLE `package_versions` (
	`repository` text NOT NULL,
	`name` text NOT NULL,
	`version` text NOT NULL,
	`release_version` integer NOT NULL,
	`definition` text NOT NULL,
	PRIMARY KEY(`repository`, `name`, `version`)
);
--> statement-breakpoint
CREATE INDEX `package_versions_name` ON `package_versions` (`name`);--> statement-breakpoint
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
--> statement-breakpoint
-- The built-in package repository is there from the start (control/packages/).
INSERT INTO `package_repositories` (`name`, `uri`, `position`) VALUES ('dcx-universe', 'builtin:dcx-universe', 0);
