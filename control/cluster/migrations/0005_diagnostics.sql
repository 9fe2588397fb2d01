CREATE TABLE `agent_diagnostics` (
	`agent_id` text PRIMARY KEY NOT NULL,
	`checks` text NOT NULL,
	`reported_at` real NOT NULL
);
