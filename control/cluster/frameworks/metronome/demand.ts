import type { TaskLaunch } from "../../../../protocol/index.ts";
import type { Placement, TaskRequest } from "../../allocator/place.ts";
import type { ClusterDb } from "../../db.ts";
import { insertTasks, liveTasks, type TaskRecord } from "../../tasks.ts";
import { scheduleClockOffset } from "./clock.ts";
import { parseCron } from "./cron.ts";
import { METRONOME, newTaskId, runRequest, runTaskLaunch } from "./launch.ts";
import { settleRuns, startRun, stopRun, taskLaunched } from "./runs.ts";
import { decideSchedule, runWakeAt, wantsLaunch } from "./scheduler.ts";
import { activeRuns, dueSchedules, earliestWake, getJob, setScheduleTimes, type RunRecord } from "./store.ts";

/** One task a run wants launched, with the run it is for. */
export interface JobRequest {
  request: TaskRequest;
  run: RunRecord;
}

/** What Metronome wants from one allocation round. */
export interface MetronomeDemand {
  requests: JobRequest[];
  /** Live tasks no unfinished run owns any more (stopped, replaced, deleted): to kill. */
  kills: string[];
  /** A schedule started a run: the framework's refuse filters must go (Mesos REVIVE). */
  revive: boolean;
  /** When the next round should run by itself: a schedule is due, a backoff or starting deadline ends. */
  wakeAt: number | null;
}

const earliest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const runKey = (jobId: string, runId: string) => `${jobId}\n${runId}`;

/**
 * Metronome's part of an allocation round, inside its transaction: settle runs against their
 * tasks (first, so a run that just ended frees a FORBID schedule in the same round), start the
 * runs whose schedules are due, then ask for a task for every run that has none live.
 */
export function metronomeDemand(db: ClusterDb, now: number): MetronomeDemand {
  settleRuns(db, now);
  const schedules = fireSchedules(db, now);
  const out = planRuns(db, now);
  return { ...out, revive: schedules.started, wakeAt: earliest(out.wakeAt, schedules.wakeAt) };
}

/** Starts what due schedules say; returns whether any run started and when a schedule is next due (object clock). */
function fireSchedules(db: ClusterDb, now: number): { started: boolean; wakeAt: number | null } {
  const offset = scheduleClockOffset(db);
  const clock = now + offset;
  let started = false;
  for (const s of dueSchedules(db, clock)) {
    const job = getJob(db, s.jobId);
    const parsed = parseCron(s.spec.cron, s.spec.timezone);
    if (!job || !parsed.ok) {
      // Stored schedules were valid when written; one the runtime can no longer read stops here.
      setScheduleTimes(db, s.jobId, s.spec.id, { nextRunAt: null, wakeAt: null });
      continue;
    }
    const active = activeRuns(db, s.jobId);
    const d = decideSchedule(s.spec, parsed.cron, s.nextRunAt, clock, active.length);
    if (d.replace) for (const run of active) stopRun(db, run, now);
    if (d.start !== null) {
      // The run's starting deadline is on the object clock, as every run time is.
      startRun(db, job.spec, now, d.start - offset + s.spec.startingDeadlineSeconds * 1000);
      started = true;
    }
    if (d.missed) console.warn(JSON.stringify({ event: "job_schedule_missed", jobId: s.jobId, scheduleId: s.spec.id, due: s.nextRunAt, at: clock }));
    setScheduleTimes(db, s.jobId, s.spec.id, { nextRunAt: d.nextRunAt, wakeAt: d.wakeAt });
  }
  const wake = earliestWake(db);
  return { started, wakeAt: wake === null ? null : wake - offset };
}

/** A request for every unfinished run without a live task (past its backoff); kills for tasks no such run owns. */
function planRuns(db: ClusterDb, now: number): Omit<MetronomeDemand, "revive"> {
  const live = new Map<string, TaskRecord[]>();
  for (const t of liveTasks(db, { framework: METRONOME })) {
    const key = runKey(t.group, t.version);
    live.set(key, [...(live.get(key) ?? []), t]);
  }
  const out: Omit<MetronomeDemand, "revive"> = { requests: [], kills: [], wakeAt: null };
  for (const run of activeRuns(db)) {
    const key = runKey(run.jobId, run.id);
    const tasks = live.get(key) ?? [];
    live.delete(key);
    if (wantsLaunch(run, tasks.length, now)) out.requests.push({ request: runRequest(run.jobId, run.spec), run });
    out.wakeAt = earliest(out.wakeAt, runWakeAt(run, now));
  }
  for (const tasks of live.values()) for (const t of tasks) if (t.killRequestedAt === null) out.kills.push(t.id);
  return out;
}

/** Records the tasks placed for runs as TASK_STAGING, marks their runs ACTIVE, and returns the launch frames to send. */
export function launchJobTasks(
  db: ClusterDb,
  placements: Placement[],
  requests: JobRequest[],
  hosts: ReadonlyMap<string, string>,
  now: number,
): { record: TaskRecord; launch: TaskLaunch }[] {
  const out: { record: TaskRecord; launch: TaskLaunch }[] = [];
  for (const p of placements) {
    const run = requests[p.request]?.run;
    if (!run) continue;
    const host = hosts.get(p.agentId) ?? "";
    const id = newTaskId(run.jobId, run.id);
    const { cpus, mem, disk, gpus } = run.spec;
    out.push({
      record: {
        id,
        framework: METRONOME,
        group: run.jobId,
        version: run.id,
        agentId: p.agentId,
        host,
        state: "TASK_STAGING",
        ports: [],
        resources: { cpus, mem, disk, gpus },
        message: null,
        healthy: null,
        stagedAt: now,
        startedAt: null,
        updatedAt: now,
        killRequestedAt: null,
        endedAt: null,
      },
      launch: runTaskLaunch(run.jobId, run.spec, id, host),
    });
    taskLaunched(db, run, id, now);
  }
  insertTasks(
    db,
    out.map((o) => o.record),
  );
  return out;
}
