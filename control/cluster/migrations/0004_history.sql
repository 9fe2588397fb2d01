CREATE TABLE `history` (
	`resolution` text NOT NULL,
	`at` integer NOT NULL,
	`samples` integer NOT NULL,
	`cpus_used` real NOT NULL,
	`cpus_total` real NOT NULL,
	`mem_used` real NOT NULL,
	`mem_total` real NOT NULL,
	`disk_used` real NOT NULL,
	`disk_total` real NOT NULL,
	`deployments` real NOT NULL,
	`tasks` text NOT NULL,
	`agents` text NOT NULL,
	PRIMARY KEY(`resolution`, `at`)
);
