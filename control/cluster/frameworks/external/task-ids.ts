import { MARATHON } from "../marathon/demand.ts";
import { METRONOME } from "../metronome/launch.ts";

/**
 * Mesos scopes a task id to its framework: two frameworks may both launch task `0` (Spark
 * numbers its tasks from 0). DCX's task id is the cluster's one name for a task (the tasks
 * table's key, the agent's launch, its sandbox, its logs), so an external framework's task is
 * named there by the framework's id, a dot and the framework's own task id. The scheduler and
 * operator APIs and the Mesos state endpoints show the framework's own id; everything inside
 * the cluster uses the scoped one. Marathon's and Metronome's tasks are named as they always were.
 */

/** The cluster's name of an external framework's task `taskId`. */
export function clusterTaskId(frameworkId: string, taskId: string): string {
  return `${frameworkId}.${taskId}`;
}

/** The built-in frameworks, whose tasks are named without a scope. */
const BUILT_IN = new Set([MARATHON, METRONOME]);

/**
 * The id a framework knows its task `id` by: clusterTaskId's inverse for an external
 * framework's task, the id itself for Marathon's and Metronome's.
 */
export function frameworkTaskId(frameworkId: string, id: string): string {
  return !BUILT_IN.has(frameworkId) && id.startsWith(`${frameworkId}.`) ? id.slice(frameworkId.length + 1) : id;
}
