import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Metronome's tables in the Cluster object's SQLite (store.ts owns them). Re-exported by the
 * cluster schema so drizzle-kit generates their migration with the rest.
 */

/** Jobs: the current spec, and the history counters that outlive pruned runs. */
export const jobs = sqliteTable("jobs", {
  id: text("id").primaryKey(),
  /** The job spec without its schedules (job-spec.ts `JobSpec`). */
  spec: text("spec", { mode: "json" }).notNull(),
  createdAt: real("created_at").notNull(),
  successCount: integer("success_count").notNull(),
  failureCount: integer("failure_count").notNull(),
  lastSuccessAt: real("last_success_at"),
  lastFailureAt: real("last_failure_at"),
});

/**
 * A job's cron schedules, times on the schedule clock (clock.ts). `next_run_at` is the earliest
 * due time not handled yet (null once nothing is due again, or while disabled); `wake_at` is
 * when the schedule must be looked at again, which for a due time waiting under FORBID is its
 * starting deadline.
 */
export const jobSchedules = sqliteTable(
  "job_schedules",
  {
    jobId: text("job_id").notNull(),
    id: text("id").notNull(),
    spec: text("spec", { mode: "json" }).notNull(),
    nextRunAt: real("next_run_at"),
    wakeAt: real("wake_at"),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.id] }), index("job_schedules_next").on(t.nextRunAt), index("job_schedules_wake").on(t.wakeAt)],
);

/**
 * Runs, active and finished (the job's history). `open` stays 1 while the run or any of its
 * tasks is unfinished: each allocation round settles open runs against their tasks.
 */
export const jobRuns = sqliteTable(
  "job_runs",
  {
    jobId: text("job_id").notNull(),
    id: text("id").notNull(),
    status: text("status").notNull(),
    /** The job's run spec when the run started: a later job update does not change a started run. */
    spec: text("spec", { mode: "json" }).notNull(),
    /** The run's tasks as last seen: `[{id, status, startedAt, completedAt, message}]`. */
    tasks: text("tasks", { mode: "json" }).notNull(),
    createdAt: real("created_at").notNull(),
    completedAt: real("completed_at"),
    /** A scheduled run fails if no task is launched by then (its schedule's startingDeadlineSeconds). */
    startingDeadline: real("starting_deadline"),
    /** Relaunch backoff after a failed task: no launch before `delay_until`. */
    delayUntil: real("delay_until"),
    backoffSeconds: real("backoff_seconds").notNull(),
    open: integer("open", { mode: "boolean" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.id] }), index("job_runs_open").on(t.open), index("job_runs_job").on(t.jobId, t.status)],
);
