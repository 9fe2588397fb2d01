import { sql } from "drizzle-orm";
import { index, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** External frameworks, subscribed over the Mesos v1 scheduler API (frameworks/external/store.ts owns these). */
export const frameworks = sqliteTable("frameworks", {
  id: text("id").primaryKey(),
  /** Mesos `FrameworkInfo` as last subscribed or updated, with its `id` set. */
  info: text("info", { mode: "json" }).notNull(),
  /** Who subscribed it: the principal of the credential, or the user's id. */
  principal: text("principal").notNull(),
  /** The subscription (Mesos-Stream-Id) whose calls are accepted; a new SUBSCRIBE replaces it. */
  streamId: text("stream_id").notNull(),
  /** `connected` (a stream is attached), `disconnected` (within its failover timeout), `removed` (torn down). */
  state: text("state", { enum: ["connected", "disconnected", "removed"] }).notNull(),
  suppressedRoles: text("suppressed_roles", { mode: "json" }).notNull(),
  registeredAt: real("registered_at").notNull(),
  reregisteredAt: real("reregistered_at"),
  /** When a disconnected framework is torn down unless it subscribes again. */
  failoverAt: real("failover_at"),
  removedAt: real("removed_at"),
});

/**
 * What an external framework's task needs beyond the defaults, for kills, groups and health
 * checks: its kill grace, its LAUNCH_GROUP, its TaskInfo (for its health_check). A task launched
 * with none of them (the default grace, no group, no check) has no row: it reads as the defaults.
 */
export const frameworkTasks = sqliteTable(
  "framework_tasks",
  {
    taskId: text("task_id").primaryKey(),
    frameworkId: text("framework_id").notNull(),
    /** The TaskInfo it was launched with; null for a row a KILL's kill_policy added to a task launched without one. */
    info: text("info", { mode: "json" }),
    killGraceMs: integer("kill_grace_ms").notNull(),
    /** The LAUNCH_GROUP the task belongs to: its tasks stop together. */
    taskGroup: text("task_group"),
  },
  // Only grouped tasks in the group index (most tasks are in none), and no index of framework_id
  // alone (nothing reads a framework's tasks through it): every launch writes these rows, and
  // each index is one more b-tree written per task.
  (t) => [index("framework_tasks_group").on(t.taskGroup).where(sql`${t.taskGroup} IS NOT NULL`)],
);

/**
 * Status updates owed to external frameworks: kept until ACKNOWLEDGEd, resent with backoff,
 * across reconnects and restarts of the object. Per task they go out in order, one at a time.
 */
export const frameworkUpdates = sqliteTable(
  "framework_updates",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    /** Random (16 bytes): not indexed, an ACKNOWLEDGE names its task, whose few rows the task index finds. */
    uuid: text("uuid").notNull(),
    frameworkId: text("framework_id").notNull(),
    taskId: text("task_id").notNull(),
    /** Mesos `TaskStatus` JSON, `uuid` included. */
    status: text("status", { mode: "json" }).notNull(),
    attempts: integer("attempts").notNull(),
    /** When it is sent (again); null while not yet sent (an earlier update of its task waits). */
    nextAt: real("next_at"),
  },
  (t) => [index("framework_updates_task").on(t.frameworkId, t.taskId), index("framework_updates_next").on(t.nextAt)],
);
