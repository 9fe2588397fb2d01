CREATE TABLE `agent_credentials` (
	`credential_hash` text PRIMARY KEY NOT NULL,
	`cluster_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `agent_credentials_agent` ON `agent_credentials` (`cluster_id`,`agent_id`);--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_login_failures` (
	`email` text NOT NULL,
	`source` text DEFAULT '*' NOT NULL,
	`failures` integer NOT NULL,
	`window_start` integer NOT NULL,
	PRIMARY KEY(`email`, `source`)
);
--> statement-breakpoint
INSERT INTO `__new_login_failures`("email", "source", "failures", "window_start") SELECT "email", '*', "failures", "window_start" FROM `login_failures`;--> statement-breakpoint
DROP TABLE `login_failures`;--> statement-breakpoint
ALTER TABLE `__new_login_failures` RENAME TO `login_failures`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `login_failures_window` ON `login_failures` (`window_start`);--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `origin` text DEFAULT 'login' NOT NULL;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `address` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `user_agent` text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX `api_tokens_expires` ON `api_tokens` (`expires_at`);--> statement-breakpoint
ALTER TABLE `audit_log` ADD `detail` text;