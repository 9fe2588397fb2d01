import type { TaskState } from "../../../../protocol/index.ts";
import type { CronExpression } from "./cron.ts";
import type { RunSpec, ScheduleSpec } from "./job-spec.ts";
import type { RunStatus } from "./store.ts";

/**
 * Metronome's two decisions as pure functions, so they are tested without a runtime: when a
 * schedule starts a run (cron, startingDeadlineSeconds, concurrencyPolicy), and how a run moves
 * when its tasks change (JobRunExecutorActor: STARTING → ACTIVE → SUCCESS | FAILED, with
 * ON_FAILURE relaunches inside activeDeadlineSeconds).
 */

/** Marathon's launch backoff, which Metronome's relaunches go through: 1 s, then 1.15× longer each time, capped by maxLaunchDelay. */
export const BACKOFF_SECONDS = 1;
export const BACKOFF_FACTOR = 1.15;

export interface ScheduleDecision {
  /** The due time whose run starts now, or null. */
  start: number | null;
  /** Stop the job's active runs first (REPLACE). */
  replace: boolean;
  /** Due times were given up: their starting deadline passed, or a later one superseded them. */
  missed: boolean;
  /** The earliest due time still to handle; null when the cron has no further occurrence. */
  nextRunAt: number | null;
  /** When to evaluate the schedule again, or null. */
  wakeAt: number | null;
}

type ScheduleRules = Pick<ScheduleSpec, "enabled" | "startingDeadlineSeconds" | "concurrencyPolicy">;

/**
 * Decides what a schedule does at `now` (all times on the schedule clock). Only the latest due
 * time counts: after an outage one run starts, not one per missed occurrence (Kubernetes
 * CronJob does the same). A due time `T` may start until `T + startingDeadlineSeconds`; under
 * FORBID it waits that long for the job's active runs to end, then it is skipped.
 */
export function decideSchedule(rules: ScheduleRules, cron: CronExpression, nextRunAt: number | null, now: number, activeRuns: number): ScheduleDecision {
  const idle = { start: null, replace: false, missed: false };
  if (!rules.enabled || nextRunAt === null) return { ...idle, nextRunAt, wakeAt: null };
  if (now < nextRunAt) return { ...idle, nextRunAt, wakeAt: nextRunAt };
  const due = Math.max(cron.latestAtOrBefore(now) ?? nextRunAt, nextRunAt);
  const missed = due > nextRunAt;
  const deadline = due + rules.startingDeadlineSeconds * 1000;
  if (now > deadline) {
    const next = cron.nextAfter(now);
    return { ...idle, missed: true, nextRunAt: next, wakeAt: next };
  }
  if (rules.concurrencyPolicy === "FORBID" && activeRuns > 0) {
    // Re-evaluated when a run ends (the round settles runs first); skipped past the deadline.
    return { ...idle, missed, nextRunAt: due, wakeAt: deadline + 1 };
  }
  const next = cron.nextAfter(due);
  return { start: due, replace: rules.concurrencyPolicy === "REPLACE" && activeRuns > 0, missed, nextRunAt: next, wakeAt: next };
}

/** What a run's next step depends on. */
export interface RunState {
  status: RunStatus;
  createdAt: number;
  completedAt: number | null;
  startingDeadline: number | null;
  delayUntil: number | null;
  backoffSeconds: number;
}

/** The run's tasks since its last step: how many still live, and the states of those that just ended. */
export interface TaskChanges {
  live: number;
  ended: TaskState[];
}

/**
 * One step of a run at `now`. A finished task makes it SUCCESS; a failed one (any other end,
 * kills included, as in Metronome) relaunches under ON_FAILURE when the relaunch would start
 * within activeDeadlineSeconds of the run's creation, and makes it FAILED otherwise. A
 * scheduled run that launched nothing by its starting deadline FAILS. A finished run never moves.
 */
export function stepRun(run: RunState, spec: Pick<RunSpec, "restart" | "maxLaunchDelay">, tasks: TaskChanges, now: number): RunState {
  if (run.status === "SUCCESS" || run.status === "FAILED") return run;
  if (tasks.ended.includes("TASK_FINISHED")) return { ...run, status: "SUCCESS", completedAt: now, delayUntil: null };
  if (tasks.ended.length > 0 && tasks.live === 0) {
    const relaunchAt = now + run.backoffSeconds * 1000;
    const deadline = spec.restart.activeDeadlineSeconds;
    const inTime = deadline === undefined || relaunchAt <= run.createdAt + deadline * 1000;
    if (spec.restart.policy === "ON_FAILURE" && inTime) {
      return { ...run, delayUntil: relaunchAt, backoffSeconds: Math.min(run.backoffSeconds * BACKOFF_FACTOR, spec.maxLaunchDelay) };
    }
    return { ...run, status: "FAILED", completedAt: now, delayUntil: null };
  }
  if (tasks.live > 0) return run.status === "STARTING" ? { ...run, status: "ACTIVE" } : run;
  if (run.status === "STARTING" && run.startingDeadline !== null && now > run.startingDeadline) {
    return { ...run, status: "FAILED", completedAt: now, delayUntil: null };
  }
  return run;
}

/** Whether a run wants a task launched now: unfinished, none live, and past any backoff. */
export function wantsLaunch(run: RunState, live: number, now: number): boolean {
  return (run.status === "STARTING" || run.status === "ACTIVE") && live === 0 && (run.delayUntil === null || run.delayUntil <= now);
}

/** When a run next needs a step by itself: its backoff ends, or its starting deadline passes. */
export function runWakeAt(run: RunState, now: number): number | null {
  if (run.status !== "STARTING" && run.status !== "ACTIVE") return null;
  const times: number[] = [];
  if (run.delayUntil !== null && run.delayUntil > now) times.push(run.delayUntil);
  if (run.status === "STARTING" && run.startingDeadline !== null && run.startingDeadline >= now) times.push(run.startingDeadline + 1);
  return times.length > 0 ? Math.min(...times) : null;
}
