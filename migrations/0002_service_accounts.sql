CREATE TABLE `service_accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`cluster_id` text NOT NULL,
	`principal` text NOT NULL,
	`secret_hash` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`cluster_id`) REFERENCES `clusters`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `service_accounts_hash` ON `service_accounts` (`secret_hash`);--> statement-breakpoint
CREATE INDEX `service_accounts_cluster` ON `service_accounts` (`cluster_id`,`principal`);