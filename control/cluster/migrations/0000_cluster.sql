CREATE TABLE `agents` (
	`id` text PRIMARY KEY NOT NULL,
	`hostname` text NOT NULL,
	`ip` text NOT NULL,
	`resources` text NOT NULL,
	`attributes` text NOT NULL,
	`version` text NOT NULL,
	`credential_hash` text NOT NULL,
	`join_token_id` text,
	`state` text NOT NULL,
	`registered_at` real NOT NULL,
	`reregistered_at` real,
	`disconnected_at` real,
	`unreachable_at` real,
	`session_id` text
);
--> statement-breakpoint
CREATE INDEX `agents_credential` ON `agents` (`credential_hash`);--> statement-breakpoint
CREATE INDEX `agents_state` ON `agents` (`state`);--> statement-breakpoint
CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `timers` (
	`name` text PRIMARY KEY NOT NULL,
	`due_at` integer NOT NULL
);
