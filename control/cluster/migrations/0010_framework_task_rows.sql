CREATE TABLE `__new_framework_tasks` (
	`task_id` text PRIMARY KEY NOT NULL,
	`framework_id` text NOT NULL,
	`info` text,
	`kill_grace_ms` integer NOT NULL,
	`task_group` text
);
--> statement-breakpoint
INSERT INTO `__new_framework_tasks`("task_id", "framework_id", "info", "kill_grace_ms", "task_group") SELECT "task_id", "framework_id", "info", "kill_grace_ms", "task_group" FROM `framework_tasks`;--> statement-breakpoint
DROP TABLE `framework_tasks`;--> statement-breakpoint
ALTER TABLE `__new_framework_tasks` RENAME TO `framework_tasks`;--> statement-breakpoint
CREATE INDEX `framework_tasks_group` ON `framework_tasks` (`task_group`) WHERE "framework_tasks"."task_group" IS NOT NULL;