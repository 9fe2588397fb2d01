import type { TaskState } from "../protocol/index.ts";
import type { ExitStatus } from "./drivers/driver.ts";

/** The terminal state and message a task's end is reported with. */
export interface Outcome {
  state: TaskState;
  message: string;
}

/** `exited with code 3`, `OOM killed (exited with code 137)`, `killed by signal SIGKILL`, or why nothing is known. */
export function describeExit(status: ExitStatus): string {
  if (status.kind === "exited") return status.reason === undefined ? `exited with code ${status.code}` : `${status.reason} (exited with code ${status.code})`;
  if (status.kind === "signaled") return `killed by signal ${status.signal}`;
  return status.reason;
}

/**
 * Marathon's reading of an exit: code 0 finished, anything else failed. A task the agent was
 * killing ends KILLED whatever its exit, as in Mesos. A failure carries the end of stderr so
 * whoever looks at the task sees why without fetching its sandbox.
 */
export function outcomeOf(status: ExitStatus, killing: boolean): Outcome {
  const description = describeExit(status);
  if (killing) return { state: "TASK_KILLED", message: description };
  if (status.kind === "exited" && status.code === 0) return { state: "TASK_FINISHED", message: description };
  const tail = status.stderrTail === "" ? "" : `; stderr: ${status.stderrTail}`;
  return { state: "TASK_FAILED", message: description + tail };
}
