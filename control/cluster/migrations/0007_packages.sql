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
INSERT INTO `package_repositories` (`name`, `uri`, `position`) VALUES ('dcx-universe', 'builtin:dcx-universe', 0);
