import type { TaskLaunch } from "../../../../protocol/index.ts";
import type { App } from "./app-definition.ts";
import { appHostname, marathonTaskIdPrefix } from "./app-fields.ts";

/**
 * What Marathon's TaskBuilder does: a task id in Marathon's format, the task environment of
 * `task-environment-vars.md`, and the launch frame an agent runs.
 */

/** `<safePath>.instance-<uuid>._app.1`, as Marathon 1.5+ names tasks (`/shop/web` → `shop_web.instance-…`). */
export function newTaskId(appId: string): string {
  return `${marathonTaskIdPrefix(appId)}.instance-${crypto.randomUUID()}._app.1`;
}

/** An environment variable name from a label or port name: upper case, other characters as `_`. */
function envName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
}

/** Marathon's task environment; the app's own `env` wins over these, as in Marathon. */
export function taskEnvironment(app: App, version: string, taskId: string, host: string, hostPorts: number[]): Record<string, string> {
  const env: Record<string, string> = {
    HOST: host,
    MARATHON_APP_ID: app.id,
    MARATHON_APP_VERSION: version,
    MARATHON_APP_RESOURCE_CPUS: String(app.cpus),
    MARATHON_APP_RESOURCE_MEM: String(app.mem),
    MARATHON_APP_RESOURCE_DISK: String(app.disk),
    MARATHON_APP_RESOURCE_GPUS: String(app.gpus),
    MESOS_TASK_ID: taskId,
  };
  if (hostPorts.length > 0) {
    env.PORTS = hostPorts.join(",");
    env.PORT = String(hostPorts[0]);
  }
  hostPorts.forEach((port, i) => {
    env[`PORT${i}`] = String(port);
    const name = app.portDefinitions[i]?.name;
    if (name) env[`PORT_${envName(name)}`] = String(port);
  });
  const labels = Object.entries(app.labels);
  if (labels.length > 0) env.MARATHON_APP_LABELS = labels.map(([k]) => envName(k)).join(" ");
  for (const [k, v] of labels) env[`MARATHON_APP_LABEL_${envName(k)}`] = v;
  if (app.container?.docker?.image) env.MARATHON_APP_DOCKER_IMAGE = app.container.docker.image;
  for (const [k, v] of Object.entries(app.env)) if (typeof v === "string") env[k] = v;
  return env;
}

/** The launch frame for one placed instance of `app`. */
export function taskLaunch(app: App, version: string, taskId: string, host: string, hostPorts: number[]): TaskLaunch {
  const launch: TaskLaunch = {
    taskId,
    name: appHostname(app.id),
    resources: { cpus: app.cpus, mem: app.mem, disk: app.disk, gpus: app.gpus },
    ports: hostPorts,
    env: taskEnvironment(app, version, taskId, host, hostPorts),
    killGracePeriodMs: Math.round((app.taskKillGracePeriodSeconds ?? 3) * 1000),
  };
  if (app.cmd) launch.command = { shell: app.cmd };
  else if (app.args && app.args.length > 0) launch.command = { args: app.args };
  if (app.user) launch.user = app.user;
  const docker = app.container?.type === "DOCKER" ? app.container.docker : undefined;
  if (docker) {
    const network = docker.network === "BRIDGE" || docker.network === "NONE" ? docker.network : "HOST";
    launch.container = {
      image: docker.image,
      forcePullImage: docker.forcePullImage,
      privileged: docker.privileged,
      network,
      parameters: docker.parameters,
      portMappings: [],
      volumes: [],
    };
  }
  return launch;
}
