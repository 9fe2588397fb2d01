import { revive } from "../../allocator/filters.ts";
import type { ErrorCode } from "../../../errors.ts";
import type { CommandContext, Failure, Outcome } from "../marathon/commands.ts";
import { advanceScheduleClock, scheduleClockOffset } from "./clock.ts";
import { parseCron } from "./cron.ts";
import type { JobSpec, ScheduleSpec } from "./job-spec.ts";
import { METRONOME } from "./launch.ts";
import { startRun, stopRun } from "./runs.ts";
import {
  activeRuns,
  deleteJob,
  deleteSchedule,
  deleteSchedules,
  getJob,
  getRun,
  getSchedule,
  isActive,
  listSchedules,
  saveJob,
  saveSchedule,
  type StoredJob,
} from "./store.ts";
import { jobJson, metronomeTime, runJson, scheduleJson, type RunJson } from "./views.ts";

/**
 * The Metronome API's mutations, each run by the Cluster object inside one storage
 * transaction followed by an allocation round (which launches new runs' tasks and kills what
 * stopped runs leave). Failures come back as values with Metronome's messages.
 */

const fail = (code: ErrorCode, message: string): Failure => ({ ok: false, code, message });
const noJob = (id: string) => fail("not_found", `Job '${id}' does not exist`);
const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });

/** A schedule's first due time from now on the schedule clock; nothing while disabled. */
function initialTimes(ctx: CommandContext, spec: ScheduleSpec): { nextRunAt: number | null; wakeAt: number | null } {
  const parsed = parseCron(spec.cron, spec.timezone);
  if (!spec.enabled || !parsed.ok) return { nextRunAt: null, wakeAt: null };
  const next = parsed.cron.nextAfter(ctx.now + scheduleClockOffset(ctx.db));
  return { nextRunAt: next, wakeAt: next };
}

function putSchedules(ctx: CommandContext, jobId: string, schedules: ScheduleSpec[]): void {
  deleteSchedules(
    ctx.db,
    jobId,
    schedules.map((s) => s.id),
  );
  for (const s of schedules) saveSchedule(ctx.db, jobId, s, initialTimes(ctx, s));
}

const shown = (ctx: CommandContext, job: StoredJob, withSchedules: boolean) => jobJson(ctx.db, job, new Set(withSchedules ? ["schedules"] : []));

/** `POST /v1/jobs`; schedules in the body are created with the job. */
export function createJob(ctx: CommandContext, spec: JobSpec, schedules: ScheduleSpec[] | undefined) {
  if (getJob(ctx.db, spec.id)) return fail("conflict", `Job with id '${spec.id}' already exists`);
  saveJob(ctx.db, spec, ctx.now);
  if (schedules) putSchedules(ctx, spec.id, schedules);
  return ok(shown(ctx, getJob(ctx.db, spec.id) as StoredJob, schedules !== undefined));
}

/** `PUT /v1/jobs/{id}`: a new spec for future runs; schedules change only when the body has them. */
export function replaceJob(ctx: CommandContext, spec: JobSpec, schedules: ScheduleSpec[] | undefined) {
  if (!getJob(ctx.db, spec.id)) return noJob(spec.id);
  saveJob(ctx.db, spec, ctx.now);
  if (schedules) putSchedules(ctx, spec.id, schedules);
  return ok(shown(ctx, getJob(ctx.db, spec.id) as StoredJob, schedules !== undefined));
}

/** `DELETE /v1/jobs/{id}`: refused while runs are active unless `stopCurrentJobRuns`; the round kills their tasks. */
export function removeJob(ctx: CommandContext, id: string, stopCurrentJobRuns: boolean) {
  const job = getJob(ctx.db, id);
  if (!job) return noJob(id);
  if (activeRuns(ctx.db, id).length > 0 && !stopCurrentJobRuns) return fail("conflict", "There are active job runs. Override with stopCurrentJobRuns=true");
  const before = shown(ctx, job, false);
  deleteJob(ctx.db, id);
  return ok(before);
}

/** `POST /v1/jobs/{id}/runs`: a run starts now. */
export function startJobRun(ctx: CommandContext, jobId: string): Outcome<RunJson> {
  const job = getJob(ctx.db, jobId);
  if (!job) return noJob(jobId);
  const run = startRun(ctx.db, job.spec, ctx.now);
  revive(ctx.db, METRONOME, ctx.now);
  return ok(runJson(run));
}

/** `POST /v1/jobs/{id}/runs/{runId}/actions/stop`: the run is FAILED at once and its task killed. */
export function stopJobRun(ctx: CommandContext, jobId: string, runId: string): Outcome<RunJson> {
  if (!getJob(ctx.db, jobId)) return noJob(jobId);
  const run = getRun(ctx.db, jobId, runId);
  if (!run) return fail("not_found", `JobRun '${runId}' of job '${jobId}' does not exist`);
  if (!isActive(run.status)) return fail("conflict", `JobRun '${runId}' has already finished (${run.status})`);
  return ok(runJson(stopRun(ctx.db, run, ctx.now)));
}

/** `POST /v1/jobs/{id}/schedules`. A job has at most one schedule, as in Metronome. */
export function createSchedule(ctx: CommandContext, jobId: string, spec: ScheduleSpec) {
  if (!getJob(ctx.db, jobId)) return noJob(jobId);
  const existing = listSchedules(ctx.db, jobId);
  if (existing.some((s) => s.spec.id === spec.id)) return fail("conflict", `Schedule '${spec.id}' of job '${jobId}' already exists`);
  if (existing.length > 0)
    return fail("conflict", `Job '${jobId}' already has schedule '${existing[0]?.spec.id}': a job has at most one schedule, as in Metronome`);
  saveSchedule(ctx.db, jobId, spec, initialTimes(ctx, spec));
  return ok(scheduleJson(getSchedule(ctx.db, jobId, spec.id) ?? { jobId, spec, nextRunAt: null, wakeAt: null }));
}

/** `PUT /v1/jobs/{id}/schedules/{scheduleId}`: replaced, next due time recomputed from now. */
export function replaceSchedule(ctx: CommandContext, jobId: string, spec: ScheduleSpec) {
  if (!getJob(ctx.db, jobId)) return noJob(jobId);
  if (!getSchedule(ctx.db, jobId, spec.id)) return fail("not_found", `Schedule '${spec.id}' does not exist`);
  saveSchedule(ctx.db, jobId, spec, initialTimes(ctx, spec));
  return ok(scheduleJson(getSchedule(ctx.db, jobId, spec.id) ?? { jobId, spec, nextRunAt: null, wakeAt: null }));
}

/** `DELETE /v1/jobs/{id}/schedules/{scheduleId}`. */
export function removeSchedule(ctx: CommandContext, jobId: string, id: string) {
  if (!getJob(ctx.db, jobId)) return noJob(jobId);
  const existing = getSchedule(ctx.db, jobId, id);
  if (!existing) return fail("not_found", `Schedule '${id}' does not exist`);
  deleteSchedule(ctx.db, jobId, id);
  return ok(scheduleJson(existing));
}

/**
 * Test clock only: moves the schedule clock forward; the round that follows starts what became
 * due. `enabled` is the Worker var DCX_TEST_CLOCK being "on"; otherwise there is no such thing.
 */
export function advanceClock(ctx: CommandContext, ms: number, enabled: boolean): Outcome<{ offsetMs: number; now: string }> {
  if (!enabled) return fail("not_found", "The test clock is off (DCX_TEST_CLOCK).");
  const offsetMs = advanceScheduleClock(ctx.db, ms);
  return ok({ offsetMs, now: metronomeTime(ctx.now + offsetMs) });
}
