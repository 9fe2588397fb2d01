DROP INDEX `framework_tasks_framework`;--> statement-breakpoint
DROP INDEX `framework_tasks_group`;--> statement-breakpoint
CREATE INDEX `framework_tasks_group` ON `framework_tasks` (`task_group`) WHERE "framework_tasks"."task_group" IS NOT NULL;--> statement-breakpoint
DROP INDEX `framework_updates_uuid_unique`;