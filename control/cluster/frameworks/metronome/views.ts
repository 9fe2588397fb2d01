import type { ClusterDb } from "../../db.ts";
import type { JobSpec, ScheduleSpec } from "./job-spec.ts";
import { activeRuns, finishedRuns, getJob, getRun, listJobs, listSchedules, type RunRecord, type StoredJob, type StoredSchedule } from "./store.ts";

/** Metronome's JSON shapes (`api/v1/models`), rendered from the store. */

/** What `?embed=` may add to a job. */
export const EMBEDS = ["activeRuns", "schedules", "history", "historySummary"] as const;
export type Embed = (typeof EMBEDS)[number];

/** Metronome's timestamp format, `yyyy-MM-dd'T'HH:mm:ss.SSSZ` in UTC: `2016-07-15T13:02:59.735+0000`. */
export function metronomeTime(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "+0000");
}
const timeOrNull = (ms: number | null) => (ms === null ? null : metronomeTime(ms));

export interface RunJson {
  id: string;
  jobId: string;
  status: string;
  createdAt: string;
  completedAt: string | null;
  /** `message` is DCX's addition: the task's last status message, e.g. its exit code. */
  tasks: { id: string; status: string; startedAt: string; completedAt: string | null; message?: string }[];
}

export function runJson(run: RunRecord): RunJson {
  return {
    id: run.id,
    jobId: run.jobId,
    status: run.status,
    createdAt: metronomeTime(run.createdAt),
    completedAt: timeOrNull(run.completedAt),
    tasks: run.tasks.map((t) => ({
      id: t.id,
      status: t.status,
      startedAt: metronomeTime(t.startedAt),
      completedAt: timeOrNull(t.completedAt),
      ...(t.message ? { message: t.message } : {}),
    })),
  };
}

/** A schedule with the due time it waits for (on the schedule clock), as Metronome's `nextRunAt`. */
export function scheduleJson(s: StoredSchedule): ScheduleSpec & { nextRunAt: string | null } {
  return { ...s.spec, nextRunAt: timeOrNull(s.nextRunAt) };
}

/** A finished run in the history: Metronome's JobRunInfo, plus each task's outcome (`taskResults`). */
function historyEntry(run: RunRecord) {
  return {
    id: run.id,
    createdAt: metronomeTime(run.createdAt),
    finishedAt: timeOrNull(run.completedAt),
    tasks: run.tasks.map((t) => t.id),
    taskResults: run.tasks.map((t) => ({ id: t.id, status: t.status, message: t.message })),
  };
}

function historySummary(job: StoredJob) {
  return {
    successCount: job.successCount,
    failureCount: job.failureCount,
    lastSuccessAt: timeOrNull(job.lastSuccessAt),
    lastFailureAt: timeOrNull(job.lastFailureAt),
  };
}

function history(db: ClusterDb, job: StoredJob) {
  return {
    ...historySummary(job),
    successfulFinishedRuns: finishedRuns(db, job.spec.id, "SUCCESS").map(historyEntry),
    failedFinishedRuns: finishedRuns(db, job.spec.id, "FAILED").map(historyEntry),
  };
}

/** A job in Metronome's key order (`id, description, labels, run`, then what was embedded). */
export function jobJson(db: ClusterDb, job: StoredJob, embeds: ReadonlySet<Embed>): JobSpec & Record<string, unknown> {
  const id = job.spec.id;
  return {
    ...job.spec,
    ...(embeds.has("schedules") ? { schedules: listSchedules(db, id).map(scheduleJson) } : {}),
    ...(embeds.has("activeRuns") ? { activeRuns: activeRuns(db, id).map(runJson) } : {}),
    ...(embeds.has("history") ? { history: history(db, job) } : {}),
    ...(embeds.has("historySummary") ? { historySummary: historySummary(job) } : {}),
  };
}

export function jobsJson(db: ClusterDb, embeds: ReadonlySet<Embed>) {
  return listJobs(db).map((job) => jobJson(db, job, embeds));
}

export function oneJobJson(db: ClusterDb, id: string, embeds: ReadonlySet<Embed>) {
  const job = getJob(db, id);
  return job ? jobJson(db, job, embeds) : undefined;
}

/** A job's active runs (Metronome lists only those; finished ones are in its history), or undefined without the job. */
export function runsJson(db: ClusterDb, jobId: string): RunJson[] | undefined {
  return getJob(db, jobId) ? activeRuns(db, jobId).map(runJson) : undefined;
}

/** A job's schedules, or undefined without the job. */
export function schedulesJson(db: ClusterDb, jobId: string) {
  return getJob(db, jobId) ? listSchedules(db, jobId).map(scheduleJson) : undefined;
}

/** A run, active or still in its job's history. */
export function oneRunJson(db: ClusterDb, jobId: string, runId: string): RunJson | undefined {
  const run = getRun(db, jobId, runId);
  return run ? runJson(run) : undefined;
}

/** `GET /v1/queue`: runs waiting for a task to be launched (no task live), by job. */
export function queueJson(db: ClusterDb): { jobId: string; runs: { runId: string }[] }[] {
  const byJob = new Map<string, { runId: string }[]>();
  for (const run of activeRuns(db)) {
    if (run.tasks.some((t) => t.completedAt === null)) continue;
    byJob.set(run.jobId, [...(byJob.get(run.jobId) ?? []), { runId: run.id }]);
  }
  return [...byJob].map(([jobId, runs]) => ({ jobId, runs }));
}
