DROP INDEX `tasks_group`;--> statement-breakpoint
CREATE INDEX `tasks_group` ON `tasks` (`framework`,`group_id`,`ended_at`);