import { and, asc, desc, eq, inArray, isNotNull, lte, min, notInArray, sql } from "drizzle-orm";
import type { TaskState } from "../../../../protocol/index.ts";
import type { ClusterDb } from "../../db.ts";
import { prepared } from "../../prepared.ts";
import { chunked } from "../../tasks.ts";
import type { JobSpec, RunSpec, ScheduleSpec } from "./job-spec.ts";
import { jobRuns, jobSchedules, jobs } from "./schema.ts";

/** Jobs, schedules and runs in the Cluster object's SQLite. Times are epoch milliseconds. */

/**
 * Metronome's run statuses but INITIAL, its status before a run is persisted: here a run is
 * written in the transaction that creates it, so the first status anyone sees is STARTING.
 */
export type RunStatus = "STARTING" | "ACTIVE" | "SUCCESS" | "FAILED";
const ACTIVE_STATUSES: RunStatus[] = ["STARTING", "ACTIVE"];
export const isActive = (status: RunStatus) => status === "STARTING" || status === "ACTIVE";

/** Finished runs kept per job and outcome; the history counters count every run regardless. */
const HISTORY_KEPT = 10;

export interface StoredJob {
  spec: JobSpec;
  createdAt: number;
  successCount: number;
  failureCount: number;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
}

export interface StoredSchedule {
  jobId: string;
  spec: ScheduleSpec;
  nextRunAt: number | null;
  wakeAt: number | null;
}

/** One task of a run as last seen; `message` carries the agent's exit status on failure. */
export interface RunTask {
  id: string;
  status: TaskState;
  startedAt: number;
  completedAt: number | null;
  message: string | null;
}

export interface RunRecord {
  jobId: string;
  id: string;
  status: RunStatus;
  spec: RunSpec;
  tasks: RunTask[];
  createdAt: number;
  completedAt: number | null;
  startingDeadline: number | null;
  delayUntil: number | null;
  backoffSeconds: number;
  open: boolean;
}

const toJob = (row: typeof jobs.$inferSelect): StoredJob => ({ ...row, spec: row.spec as JobSpec });
const toSchedule = (row: typeof jobSchedules.$inferSelect): StoredSchedule => ({
  jobId: row.jobId,
  spec: row.spec as ScheduleSpec,
  nextRunAt: row.nextRunAt,
  wakeAt: row.wakeAt,
});
const toRun = (row: typeof jobRuns.$inferSelect): RunRecord => ({
  ...row,
  status: row.status as RunStatus,
  spec: row.spec as RunSpec,
  tasks: row.tasks as RunTask[],
});

export function getJob(db: ClusterDb, id: string): StoredJob | undefined {
  const row = db.select().from(jobs).where(eq(jobs.id, id)).get();
  return row ? toJob(row) : undefined;
}

export function listJobs(db: ClusterDb): StoredJob[] {
  return db.select().from(jobs).orderBy(asc(jobs.id)).all().map(toJob);
}

/** Creates a job or replaces its spec, keeping its history counters. */
export function saveJob(db: ClusterDb, spec: JobSpec, now: number): void {
  db.insert(jobs).values({ id: spec.id, spec, createdAt: now, successCount: 0, failureCount: 0 }).onConflictDoUpdate({ target: jobs.id, set: { spec } }).run();
}

/** Deletes a job with its schedules and its runs (Metronome deletes the history too). */
export function deleteJob(db: ClusterDb, id: string): void {
  db.delete(jobs).where(eq(jobs.id, id)).run();
  db.delete(jobSchedules).where(eq(jobSchedules.jobId, id)).run();
  db.delete(jobRuns).where(eq(jobRuns.jobId, id)).run();
}

/** Counts a finished run in its job's history. */
export function countResult(db: ClusterDb, jobId: string, status: "SUCCESS" | "FAILED", at: number): void {
  const set =
    status === "SUCCESS"
      ? { successCount: sql`${jobs.successCount} + 1`, lastSuccessAt: at }
      : { failureCount: sql`${jobs.failureCount} + 1`, lastFailureAt: at };
  db.update(jobs).set(set).where(eq(jobs.id, jobId)).run();
}

export function listSchedules(db: ClusterDb, jobId: string): StoredSchedule[] {
  return db.select().from(jobSchedules).where(eq(jobSchedules.jobId, jobId)).orderBy(asc(jobSchedules.id)).all().map(toSchedule);
}

export function getSchedule(db: ClusterDb, jobId: string, id: string): StoredSchedule | undefined {
  const row = db
    .select()
    .from(jobSchedules)
    .where(and(eq(jobSchedules.jobId, jobId), eq(jobSchedules.id, id)))
    .get();
  return row ? toSchedule(row) : undefined;
}

/** Creates or replaces a schedule with its times (schedule clock). */
export function saveSchedule(db: ClusterDb, jobId: string, spec: ScheduleSpec, times: { nextRunAt: number | null; wakeAt: number | null }): void {
  const row = { jobId, id: spec.id, spec, ...times };
  db.insert(jobSchedules)
    .values(row)
    .onConflictDoUpdate({ target: [jobSchedules.jobId, jobSchedules.id], set: row })
    .run();
}

export function setScheduleTimes(db: ClusterDb, jobId: string, id: string, times: { nextRunAt: number | null; wakeAt: number | null }): void {
  db.update(jobSchedules)
    .set(times)
    .where(and(eq(jobSchedules.jobId, jobId), eq(jobSchedules.id, id)))
    .run();
}

/** Removes a job's schedules but those in `keep`. */
export function deleteSchedules(db: ClusterDb, jobId: string, keep: string[]): void {
  db.delete(jobSchedules)
    .where(and(eq(jobSchedules.jobId, jobId), notInArray(jobSchedules.id, keep)))
    .run();
}

export function deleteSchedule(db: ClusterDb, jobId: string, id: string): void {
  db.delete(jobSchedules)
    .where(and(eq(jobSchedules.jobId, jobId), eq(jobSchedules.id, id)))
    .run();
}

// Every allocation round asks Metronome for its demand: these reads are built once (prepared.ts).
const schedulesDue = (db: ClusterDb) =>
  db
    .select()
    .from(jobSchedules)
    .where(lte(jobSchedules.nextRunAt, sql.placeholder("at")))
    .prepare();
const firstWake = (db: ClusterDb) =>
  db
    .select({ at: min(jobSchedules.wakeAt) })
    .from(jobSchedules)
    .prepare();
const openRunRows = (db: ClusterDb) => db.select().from(jobRuns).where(eq(jobRuns.open, true)).prepare();
const activeRunRows = (db: ClusterDb) =>
  db
    .select()
    .from(jobRuns)
    .where(and(eq(jobRuns.open, true), inArray(jobRuns.status, ACTIVE_STATUSES)))
    .orderBy(asc(jobRuns.createdAt))
    .prepare();

/** Schedules with a due time at or before `at` (schedule clock). */
export function dueSchedules(db: ClusterDb, at: number): StoredSchedule[] {
  return prepared(db, schedulesDue).all({ at }).map(toSchedule);
}

/** When the first schedule must be looked at again (schedule clock), or null. */
export function earliestWake(db: ClusterDb): number | null {
  return prepared(db, firstWake).get()?.at ?? null;
}

export function insertRun(db: ClusterDb, run: RunRecord): void {
  db.insert(jobRuns).values(run).run();
}

export function getRun(db: ClusterDb, jobId: string, id: string): RunRecord | undefined {
  const row = db
    .select()
    .from(jobRuns)
    .where(and(eq(jobRuns.jobId, jobId), eq(jobRuns.id, id)))
    .get();
  return row ? toRun(row) : undefined;
}

/** A job's runs that have not finished, oldest first; of every job when `jobId` is absent. */
export function activeRuns(db: ClusterDb, jobId?: string): RunRecord[] {
  if (jobId === undefined) return prepared(db, activeRunRows).all().map(toRun);
  // Active runs are always open: the `open` index finds them without a job id.
  const active = and(eq(jobRuns.open, true), inArray(jobRuns.status, ACTIVE_STATUSES));
  return db
    .select()
    .from(jobRuns)
    .where(jobId === undefined ? active : and(eq(jobRuns.jobId, jobId), active))
    .orderBy(asc(jobRuns.createdAt))
    .all()
    .map(toRun);
}

/** The kill grace a run's tasks were launched with, if the run still exists. */
export function runKillGraceSeconds(db: ClusterDb, jobId: string, runId: string): number | undefined {
  return getRun(db, jobId, runId)?.spec.taskKillGracePeriodSeconds;
}

/** A job's finished runs of one outcome, newest first. */
export function finishedRuns(db: ClusterDb, jobId: string, status: "SUCCESS" | "FAILED"): RunRecord[] {
  return db
    .select()
    .from(jobRuns)
    .where(and(eq(jobRuns.jobId, jobId), eq(jobRuns.status, status)))
    .orderBy(desc(jobRuns.completedAt))
    .all()
    .map(toRun);
}

/** Runs whose run or tasks are unfinished: what a round settles. */
export function openRuns(db: ClusterDb): RunRecord[] {
  return prepared(db, openRunRows).all().map(toRun);
}

export function updateRun(db: ClusterDb, run: RunRecord): void {
  const { jobId, id, ...set } = run;
  db.update(jobRuns)
    .set(set)
    .where(and(eq(jobRuns.jobId, jobId), eq(jobRuns.id, id)))
    .run();
}

/** Keeps the newest HISTORY_KEPT finished runs of one outcome; older ones leave the history. */
export function pruneHistory(db: ClusterDb, jobId: string, status: "SUCCESS" | "FAILED"): void {
  const stale = db
    .select({ id: jobRuns.id })
    .from(jobRuns)
    .where(and(eq(jobRuns.jobId, jobId), eq(jobRuns.status, status), eq(jobRuns.open, false), isNotNull(jobRuns.completedAt)))
    .orderBy(desc(jobRuns.completedAt))
    .all()
    .slice(HISTORY_KEPT)
    .map((r) => r.id);
  for (const part of chunked(stale))
    db.delete(jobRuns)
      .where(and(eq(jobRuns.jobId, jobId), inArray(jobRuns.id, part)))
      .run();
}
