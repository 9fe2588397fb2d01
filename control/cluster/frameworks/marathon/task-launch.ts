import type { TaskContainer, TaskLaunch } from "../../../../protocol/index.ts";
import type { TaskDriver } from "../../allocator/drivers.ts";
import { appNetwork, type App } from "./app-definition.ts";
import { appHostname, marathonTaskIdPrefix } from "./app-fields.ts";
import { launchChecks } from "./task-checks.ts";
import { declaredPorts, type DeclaredPort } from "./task-ports.ts";

/**
 * What Marathon's TaskBuilder does: a task id in Marathon's format, the task environment of
 * `task-environment-vars.md`, and the launch frame an agent runs.
 */

/** `<safePath>.instance-<uuid>._app.1`, as Marathon 1.5+ names tasks (`/shop/web` → `shop_web.instance-…`). */
export function newTaskId(appId: string): string {
  return `${marathonTaskIdPrefix(appId)}.instance-${crypto.randomUUID()}._app.1`;
}

/** The driver an app's tasks need: a DOCKER container runs under the docker driver, anything else under exec. */
export function taskDriver(app: App): TaskDriver {
  return app.container?.type === "DOCKER" ? "docker" : "exec";
}

/** An environment variable name from a label or port name: upper case, other characters as `_`. */
function envName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
}

/**
 * Marathon's port variables (`EnvironmentHelper.portsEnv`), from the task's host port for each
 * declared port: `PORT<i>`, `PORT_<requested port>` (the container port on a bridge, the
 * definition's port otherwise; the host port itself when that is 0), `PORT_<NAME>`, `PORT`
 * and `PORTS`. All values are host ports.
 */
function portsEnvironment(ports: readonly DeclaredPort[], hostPorts: readonly number[]): Record<string, string> {
  const env: Record<string, string> = {};
  if (hostPorts.length === 0) return env;
  env.PORTS = hostPorts.join(",");
  env.PORT = String(hostPorts[0]);
  hostPorts.forEach((port, i) => {
    const declared = ports[i];
    env[`PORT${i}`] = String(port);
    env[`PORT_${declared?.requested || port}`] = String(port);
    if (declared?.name) env[`PORT_${envName(declared.name)}`] = String(port);
  });
  return env;
}

/**
 * Marathon's task environment; the app's own `env` wins over these, as in Marathon. A value
 * `{"secret": name}` takes the value of the app's secret `name` from `secrets` (secrets.ts);
 * admission makes sure each exists, so one missing here (deleted after a rollback brought back an
 * app version naming it) leaves its variable out rather than launching with a wrong value.
 */
export function taskEnvironment(
  app: App,
  version: string,
  taskId: string,
  host: string,
  hostPorts: number[],
  secrets: ReadonlyMap<string, string> = new Map(),
): Record<string, string> {
  const env: Record<string, string> = {
    HOST: host,
    MARATHON_APP_ID: app.id,
    MARATHON_APP_VERSION: version,
    MARATHON_APP_RESOURCE_CPUS: String(app.cpus),
    MARATHON_APP_RESOURCE_MEM: String(app.mem),
    MARATHON_APP_RESOURCE_DISK: String(app.disk),
    MARATHON_APP_RESOURCE_GPUS: String(app.gpus),
    MESOS_TASK_ID: taskId,
    ...portsEnvironment(declaredPorts(app), hostPorts),
  };
  const labels = Object.entries(app.labels);
  if (labels.length > 0) env.MARATHON_APP_LABELS = labels.map(([k]) => envName(k)).join(" ");
  for (const [k, v] of labels) env[`MARATHON_APP_LABEL_${envName(k)}`] = v;
  if (app.container?.docker?.image) env.MARATHON_APP_DOCKER_IMAGE = app.container.docker.image;
  for (const [k, v] of Object.entries(app.env)) {
    const value = typeof v === "string" ? v : secrets.get(v.secret);
    if (value !== undefined) env[k] = value;
  }
  return env;
}

/**
 * The container of a docker task. On a bridge every port mapping is published from the task's
 * host port for it, and a container port of 0 becomes that host port (Marathon's "same as the
 * host port"), so the agent gets concrete numbers.
 */
function taskContainer(app: App, hostPorts: number[]): TaskContainer | undefined {
  const container = app.container;
  const docker = container?.docker;
  if (container === undefined || docker === undefined || taskDriver(app) !== "docker") return undefined;
  const network = appNetwork(app);
  const mappings = network === "BRIDGE" ? (container.portMappings ?? []) : [];
  return {
    image: docker.image,
    forcePullImage: docker.forcePullImage,
    privileged: docker.privileged,
    network,
    parameters: docker.parameters,
    portMappings: mappings.map((m, i) => {
      const hostPort = hostPorts[i] ?? 0;
      return { hostPort, containerPort: m.containerPort || hostPort, protocol: m.protocol };
    }),
    volumes: container.volumes,
  };
}

/**
 * The launch frame for one placed instance of `app`; `hostPorts` holds the task's host port for
 * each declared port (`taskHostPorts`), `secrets` the values of the app's secrets by name.
 */
export function taskLaunch(app: App, version: string, taskId: string, host: string, hostPorts: number[], secrets?: ReadonlyMap<string, string>): TaskLaunch {
  const launch: TaskLaunch = {
    taskId,
    name: appHostname(app.id),
    resources: { cpus: app.cpus, mem: app.mem, disk: app.disk, gpus: app.gpus },
    ports: hostPorts,
    env: taskEnvironment(app, version, taskId, host, hostPorts, secrets),
    killGracePeriodMs: Math.round((app.taskKillGracePeriodSeconds ?? 3) * 1000),
    ...launchChecks(app, hostPorts),
  };
  if (app.cmd) launch.command = { shell: app.cmd };
  else if (app.args && app.args.length > 0) launch.command = { args: app.args };
  if (app.user) launch.user = app.user;
  const container = taskContainer(app, hostPorts);
  if (container) launch.container = container;
  return launch;
}
