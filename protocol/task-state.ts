import { z } from "zod";

/** Mesos task states (mesos.proto `TaskState`). */
export const TASK_STATES = [
  "TASK_STAGING",
  "TASK_STARTING",
  "TASK_RUNNING",
  "TASK_KILLING",
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_ERROR",
  "TASK_LOST",
  "TASK_DROPPED",
  "TASK_UNREACHABLE",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
  "TASK_UNKNOWN",
] as const;
export const TaskState = z.enum(TASK_STATES);
export type TaskState = z.infer<typeof TaskState>;

/** States after which a task never runs again. TASK_LOST is not among them: a partitioned agent may bring it back. */
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set([
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_ERROR",
  "TASK_DROPPED",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
]);

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.has(state);
}

/** States of a task that is (or may be) running on its agent: a kill makes sense for these. */
export const ALIVE_STATES: ReadonlySet<TaskState> = new Set(["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"]);

export function isAlive(state: TaskState): boolean {
  return ALIVE_STATES.has(state);
}
