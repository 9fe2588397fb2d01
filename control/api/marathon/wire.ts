/**
 * What `/v2` sends: Marathon's shapes with only Marathon's fields. Marathon's client libraries
 * build objects from every key of a body (marathon-python passes them as keyword arguments,
 * strict decoders refuse unknown keys), so a field Marathon never sends breaks them. The
 * Cluster object's views carry DCX's additions for the UI and the CLI; the routes drop them
 * here, and hand them only to a client that asks (`?embed=waiting` on deployments).
 */

/** Fields of a task that Marathon does not send: `message` is the agent's last status text. */
const TASK_EXTRAS = ["message"] as const;

/** Fields of a deployment that Marathon does not send: DCX's `waiting` (why it has not finished). */
const DEPLOYMENT_EXTRAS = ["waiting"] as const;

/**
 * Fields of a queue entry that Marathon's clients do not read: `waitingReason` is DCX's, and
 * `role` (Marathon 1.9's, always `*` here) makes marathon-python 0.13 refuse the entry.
 */
const QUEUE_EXTRAS = ["waitingReason", "role"] as const;

/**
 * Fields of a group: `enforceRole` (Marathon 1.9's, always false here: DCX has one role)
 * makes marathon-python 0.13 refuse every group.
 */
const GROUP_EXTRAS = ["enforceRole"] as const;

function without<T extends object>(value: T, fields: readonly string[]): T {
  const copy = { ...value } as Record<string, unknown>;
  for (const f of fields) delete copy[f];
  return copy as T;
}

/** A task as Marathon sends it. */
export function taskWire<T extends object>(task: T): T {
  return without(task, TASK_EXTRAS);
}

/** An app as Marathon sends it: its embedded tasks too. */
export function appWire<T extends object>(app: T): T {
  const tasks = (app as { tasks?: unknown }).tasks;
  return Array.isArray(tasks) ? { ...app, tasks: tasks.map((t: object) => taskWire(t)) } : app;
}

/** A deployment as Marathon sends it, or with DCX's `waiting` when the client asked for it. */
export function deploymentWire<T extends object>(deployment: T, withWaiting: boolean): T {
  return withWaiting ? deployment : without(deployment, DEPLOYMENT_EXTRAS);
}

/** A launch-queue entry as Marathon sends it. */
export function queueEntryWire<T extends object>(entry: T): T {
  const copy = without(entry, QUEUE_EXTRAS);
  const app = (copy as { app?: object }).app;
  return app === undefined ? copy : { ...copy, app: appWire(app) };
}

interface GroupLike {
  apps?: object[];
  groups?: GroupLike[];
}

/** A group tree as marathon-python reads it: its apps and subgroups too. */
export function groupWire<T extends GroupLike>(group: T): T {
  const copy = without(group, GROUP_EXTRAS);
  return {
    ...copy,
    ...(group.apps ? { apps: group.apps.map((a) => appWire(a)) } : {}),
    ...(group.groups ? { groups: group.groups.map((g) => groupWire(g)) } : {}),
  };
}
