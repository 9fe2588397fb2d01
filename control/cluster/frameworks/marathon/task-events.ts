import type { StatusUpdate, TaskState } from "../../../../protocol/index.ts";
import type { ClusterDb } from "../../db.ts";
import type { EventBus } from "../../events.ts";
import { setTaskState, type TaskRecord } from "../../tasks.ts";
import { applyBackoff, getApp, setLastTaskFailure } from "./apps.ts";
import { MARATHON } from "./demand.ts";

/** How Marathon reacts to its tasks' state changes: events, `lastTaskFailure`, launch backoff, unreachable handling. */

/**
 * Marathon grows the launch backoff on these (not on TASK_KILLED). TASK_DROPPED too: an agent
 * drops a launch it cannot carry out (a full disk), and without a delay the app would be
 * relaunched there in a tight loop.
 */
const BACKOFF_STATES: ReadonlySet<TaskState> = new Set(["TASK_FAILED", "TASK_FINISHED", "TASK_ERROR", "TASK_DROPPED"]);
/** And records these as the app's `lastTaskFailure`. */
const FAILURE_STATES: ReadonlySet<TaskState> = new Set(["TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_GONE"]);

export function emitStatus(events: EventBus, task: TaskRecord, now: number): void {
  if (task.framework !== MARATHON) return;
  events.emit(
    "status_update_event",
    {
      slaveId: task.agentId,
      taskId: task.id,
      taskStatus: task.state,
      message: task.message ?? "",
      appId: task.group,
      host: task.host,
      ports: task.ports,
      version: task.version,
    },
    now,
  );
}

/** A Marathon task reached a terminal state: record the failure, and back off launches of its app. */
export function taskEnded(db: ClusterDb, events: EventBus, task: TaskRecord, update: Pick<StatusUpdate, "state" | "message">, now: number): void {
  if (task.framework !== MARATHON) return;
  const stored = getApp(db, task.group);
  if (!stored) return;
  if (FAILURE_STATES.has(update.state)) {
    setLastTaskFailure(db, stored.id, {
      appId: stored.id,
      host: task.host,
      message: update.message ?? "",
      state: update.state,
      taskId: task.id,
      timestamp: new Date(now).toISOString(),
      version: task.version,
      slaveId: task.agentId,
    });
  }
  // Only the current version backs off: failures of an old version say nothing about the new one.
  if (BACKOFF_STATES.has(update.state) && task.version === stored.version) applyBackoff(db, stored, now);
  events.emit(
    "instance_changed_event",
    { instanceId: task.id, condition: update.state, runSpecId: task.group, agentId: task.agentId, host: task.host, runSpecVersion: task.version },
    now,
  );
}

/**
 * The agent of these tasks became unreachable. Per the app's `unreachableStrategy`: disabled
 * keeps them (TASK_UNREACHABLE, still counted); otherwise they stop counting, so replacements
 * start: at once when `inactiveAfterSeconds` is 0, else when `expireUnreachable` finds them due.
 */
export function tasksUnreachable(db: ClusterDb, events: EventBus, taskList: TaskRecord[], now: number): void {
  for (const t of taskList) {
    const strategy = t.framework === MARATHON ? getApp(db, t.group)?.app.unreachableStrategy : undefined;
    const ended = strategy === undefined || (strategy !== "disabled" && strategy.inactiveAfterSeconds === 0);
    const updated = setTaskState(db, t.id, "TASK_UNREACHABLE", "agent unreachable", now, ended);
    if (updated) {
      emitStatus(events, updated, now);
      if (ended) taskEnded(db, events, updated, { state: "TASK_UNREACHABLE", message: "agent unreachable" }, now);
    }
  }
}

/** Unreachable tasks whose `inactiveAfterSeconds` has passed stop counting. Returns the earliest future deadline. */
export function expireUnreachable(db: ClusterDb, taskList: TaskRecord[], now: number): number | null {
  let next: number | null = null;
  for (const t of taskList) {
    if (t.state !== "TASK_UNREACHABLE") continue;
    const strategy = getApp(db, t.group)?.app.unreachableStrategy;
    if (strategy === "disabled") continue;
    const due = t.updatedAt + (strategy?.inactiveAfterSeconds ?? 0) * 1000;
    if (due <= now) setTaskState(db, t.id, "TASK_UNREACHABLE", "agent unreachable: inactive", now, true);
    else next = Math.min(next ?? Infinity, due);
  }
  return next;
}
