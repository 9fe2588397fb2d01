import type { ClusterDb } from "../../db.ts";
import { tasksById, type TaskRecord } from "../../tasks.ts";
import type { JobSpec } from "./job-spec.ts";
import { newRunId } from "./launch.ts";
import { BACKOFF_SECONDS, stepRun } from "./scheduler.ts";
import { countResult, getRun, insertRun, isActive, openRuns, pruneHistory, updateRun, type RunRecord, type RunTask } from "./store.ts";

/**
 * A run's life against the store: started (STARTING), a task launched (ACTIVE), settled
 * against its tasks every round, finished (SUCCESS or FAILED, counted in the job's history).
 */

/** Starts a run of the job's current run spec; the next round launches its task. */
export function startRun(db: ClusterDb, job: JobSpec, now: number, startingDeadline: number | null = null): RunRecord {
  // Run ids of one job made within one second differ only by their five random characters.
  let id = newRunId(now);
  while (getRun(db, job.id, id)) id = newRunId(now);
  const run: RunRecord = {
    jobId: job.id,
    id,
    status: "STARTING",
    spec: job.run,
    tasks: [],
    createdAt: now,
    completedAt: null,
    startingDeadline,
    delayUntil: null,
    backoffSeconds: BACKOFF_SECONDS,
    open: true,
  };
  insertRun(db, run);
  return run;
}

/** Stops a run: FAILED at once, as Metronome aborts it; the round kills its live task. */
export function stopRun(db: ClusterDb, run: RunRecord, now: number): RunRecord {
  return save(db, run, { ...run, status: "FAILED", completedAt: now, delayUntil: null });
}

/** Records a task launched for the run: the run is ACTIVE from its first staging task, as in Metronome. */
export function taskLaunched(db: ClusterDb, run: RunRecord, taskId: string, now: number): void {
  const task: RunTask = { id: taskId, status: "TASK_STAGING", startedAt: now, completedAt: null, message: null };
  save(db, run, { ...run, status: "ACTIVE", tasks: [...run.tasks, task], delayUntil: null });
}

/**
 * Brings every open run up to date with its tasks: their states and exit messages, and the
 * run's step (scheduler.ts `stepRun`). Reading task rows rather than hooking each way a task
 * can end (status update, lost on reconcile, agent unreachable or removed) keeps one path.
 */
export function settleRuns(db: ClusterDb, now: number): void {
  const runs = openRuns(db);
  const rows = tasksById(
    db,
    runs.flatMap((r) => r.tasks.filter((t) => t.completedAt === null).map((t) => t.id)),
  );
  for (const run of runs) {
    const seen = mergeTasks(run.tasks, rows, now);
    const next: RunRecord = { ...run, ...stepRun(run, run.spec, seen, now), tasks: seen.tasks };
    if (JSON.stringify(next) !== JSON.stringify(run)) save(db, run, next);
  }
}

/** The run's tasks updated from their rows, how many still live, and the states of those that just ended. */
export function mergeTasks(
  tasks: RunTask[],
  rows: ReadonlyMap<string, TaskRecord>,
  now: number,
): { tasks: RunTask[]; live: number; ended: RunTask["status"][] } {
  let live = 0;
  const ended: RunTask["status"][] = [];
  const merged = tasks.map((t): RunTask => {
    if (t.completedAt !== null) return t;
    const row = rows.get(t.id);
    if (!row) {
      // Its row is gone: nothing the master knows of runs it any more.
      ended.push("TASK_LOST");
      return { ...t, status: "TASK_LOST", completedAt: now, message: "task no longer known to the master" };
    }
    if (row.endedAt === null) live++;
    else ended.push(row.state);
    return { ...t, status: row.state, message: row.message, completedAt: row.endedAt };
  });
  return { tasks: merged, live, ended };
}

/** Writes a run, keeping `open` true while the run or a task of it is unfinished; a run that just finished enters its job's history. */
function save(db: ClusterDb, before: RunRecord, after: RunRecord): RunRecord {
  const next = { ...after, open: isActive(after.status) || after.tasks.some((t) => t.completedAt === null) };
  updateRun(db, next);
  if (isActive(before.status) && (next.status === "SUCCESS" || next.status === "FAILED")) {
    countResult(db, next.jobId, next.status, next.completedAt ?? before.createdAt);
    pruneHistory(db, next.jobId, next.status);
  }
  return next;
}
