import type { TaskState } from "../protocol/index.ts";
import type { ExitStatus } from "./drivers/driver.ts";

/** The terminal state and message a task's end is reported with. */
export interface Outcome {
  state: TaskState;
  message: string;
}

/** How the message of a task that went over its memory limit starts. */
export const MEMORY_LIMIT_EXCEEDED = "OOM killed: memory limit exceeded";

/**
 * `exited with code 3`, `killed by signal SIGKILL`, or why nothing is known; led by
 * MEMORY_LIMIT_EXCEEDED when the OOM killer struck.
 */
export function describeExit(status: ExitStatus): string {
  const how = status.kind === "exited" ? `exited with code ${status.code}` : status.kind === "signaled" ? `killed by signal ${status.signal}` : status.reason;
  return status.oomKilled === true ? `${MEMORY_LIMIT_EXCEEDED} (${how})` : how;
}

/**
 * Marathon's reading of an exit: code 0 finished, anything else failed. A task the OOM killer
 * struck failed even if it exited 0 (a shell may carry on after its child was killed). A task the
 * agent was killing ends KILLED whatever its exit, as in Mesos. A failure carries the end of
 * stderr so whoever looks at the task sees why without fetching its sandbox.
 */
export function outcomeOf(status: ExitStatus, killing: boolean): Outcome {
  const description = describeExit(status);
  if (killing) return { state: "TASK_KILLED", message: description };
  if (status.kind === "exited" && status.code === 0 && status.oomKilled !== true) return { state: "TASK_FINISHED", message: description };
  const tail = status.stderrTail === "" ? "" : `; stderr: ${status.stderrTail}`;
  return { state: "TASK_FAILED", message: description + tail };
}
