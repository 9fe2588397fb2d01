import { DOCKER_ATTRIBUTE, type TaskContainer, type TaskLaunch } from "../../../../protocol/index.ts";
import { clusterTaskId } from "./task-ids.ts";
import { SCALAR_NAMES } from "../../allocator/drf.ts";
import type { OfferResources } from "../../allocator/offers.ts";
import { freeRanges } from "../../allocator/offers.ts";
import type { FrameworkInfo, Resource, TaskInfo } from "./calls.ts";
import { DEFAULT_KILL_GRACE_MS } from "../framework.ts";
import { agentHealthCheck } from "./health.ts";

/**
 * A TaskInfo checked against what is left of the offers it is launched on, and turned into
 * the agent's launch frame: `command` runs on the exec driver, `container` DOCKER (or MESOS
 * with a Docker image) on the docker driver, MESOS without an image on the exec driver.
 * Anything the agents cannot do is the task's TASK_ERROR, with the reason, before anything
 * is launched.
 */

/** Task ids become sandbox directory names and DNS labels on the agent: no slashes, no dot-dot. */
const TASK_ID = /^[A-Za-z0-9_][A-Za-z0-9_.:@+-]{0,254}$/;
/** At most this many host ports per task (each becomes a PORTn variable). */
const MAX_TASK_PORTS = 100;

export interface CheckedTask {
  launch: TaskLaunch;
  /** What the task takes from the offers. */
  takes: OfferResources;
}

/** What the task asks: scalars and ports, or the problem with its resources. */
function taskResources(resources: Resource[]): { need: OfferResources; ports: number[] } | string {
  const need: OfferResources = { cpus: 0, mem: 0, disk: 0, gpus: 0, ports: [] };
  const ports: number[] = [];
  for (const r of resources) {
    if ((SCALAR_NAMES as readonly string[]).includes(r.name)) {
      if (r.scalar === undefined) return `resource '${r.name}' needs a scalar value`;
      need[r.name as (typeof SCALAR_NAMES)[number]] += r.scalar.value;
    } else if (r.name === "ports") {
      for (const { begin, end } of r.ranges?.range ?? []) {
        if (end < begin) return `port range ${begin}-${end} ends before it begins`;
        if (ports.length + end - begin + 1 > MAX_TASK_PORTS) return `a task may use at most ${MAX_TASK_PORTS} ports`;
        for (let p = begin; p <= end; p++) ports.push(p);
      }
    } else {
      return `resource '${r.name.slice(0, 64)}' is not offered by DCX agents (cpus, mem, disk, gpus, ports)`;
    }
  }
  if (new Set(ports).size !== ports.length) return "a port is listed twice";
  need.ports = ports.map((p) => [p, p]);
  return { need, ports };
}

/** Whether `left` holds `need`; the problem, naming the resource, when not. */
function shortfall(need: OfferResources, ports: number[], left: OfferResources): string | undefined {
  for (const name of SCALAR_NAMES) {
    if (need[name] > left[name] + 1e-9) return `Task uses more resources (${name}: ${need[name]}) than the offers have left (${name}: ${left[name]})`;
  }
  const outside = ports.find((p) => !left.ports.some(([b, e]) => p >= b && p <= e));
  return outside === undefined ? undefined : `Task uses port ${outside}, which the offers do not hold`;
}

/** What is left of `left` once `takes` is taken. */
export function subtract(left: OfferResources, takes: OfferResources): OfferResources {
  // Most tasks take no port: the ranges stay as they are (an ACCEPT subtracts once per task).
  const out: OfferResources = {
    ...left,
    ports:
      takes.ports.length === 0
        ? left.ports
        : freeRanges(
            left.ports,
            takes.ports.map(([p]) => p),
          ),
  };
  for (const name of SCALAR_NAMES) out[name] = Math.max(0, left[name] - takes[name]);
  return out;
}

function command(task: TaskInfo): TaskLaunch["command"] | string | undefined {
  const c = task.command;
  if (!c) return undefined;
  if ((c.uris ?? []).length > 0) return "command.uris is not supported: DCX agents fetch nothing; bake files into the image or the command";
  if (c.shell === false) {
    if (!c.value) return "command.value is required when command.shell is false";
    return { args: [c.value, ...(c.arguments ?? []).slice(1)] };
  }
  if (c.value === undefined || c.value.trim() === "") return c.value === undefined && task.container ? undefined : "command.value is empty";
  return { shell: c.value };
}

function container(task: TaskInfo, ports: number[]): TaskContainer | string | undefined {
  const ci = task.container;
  if (!ci) return undefined;
  const volumes = (ci.volumes ?? []).map((v) => ({ containerPath: v.container_path, hostPath: v.host_path ?? "", mode: v.mode ?? "RW" }));
  if (volumes.some((v) => !v.hostPath.startsWith("/") || !v.containerPath.startsWith("/")))
    return "container.volumes need absolute host_path and container_path";
  if (ci.type === "MESOS") {
    const image = ci.mesos?.image?.docker?.name;
    if (!image) return volumes.length > 0 ? "container.volumes need a container image" : undefined;
    return { image, forcePullImage: false, privileged: false, network: "HOST", parameters: [], portMappings: [], volumes };
  }
  const d = ci.docker;
  if (!d) return "container.docker is required for a DOCKER container";
  if (d.network === "USER") return "container.docker.network USER is not supported: use HOST, BRIDGE or NONE";
  const mappings = (d.port_mappings ?? []).map((m) => ({
    hostPort: m.host_port,
    containerPort: m.container_port,
    protocol: m.protocol === "udp" ? ("udp" as const) : ("tcp" as const),
  }));
  const stray = mappings.find((m) => !ports.includes(m.hostPort));
  if (stray) return `container.docker.port_mappings: host_port ${stray.hostPort} is not among the task's ports resources`;
  return {
    image: d.image,
    forcePullImage: d.force_pull_image ?? false,
    privileged: d.privileged ?? false,
    network: d.network ?? "HOST",
    parameters: d.parameters ?? [],
    portMappings: d.network === "BRIDGE" ? mappings : [],
    volumes,
  };
}

export interface LaunchTarget {
  frameworkId: string;
  framework: FrameworkInfo;
  agentId: string;
  hostname: string;
  attributes: Record<string, string | number>;
}

/** Checks one TaskInfo against the resources left and builds its launch frame; the problem otherwise. */
export function checkTask(task: TaskInfo, left: OfferResources, target: LaunchTarget): CheckedTask | string {
  const id = task.task_id.value;
  if (!TASK_ID.test(id) || id.includes(".."))
    return `task_id '${id.slice(0, 64)}' may hold letters, digits and _ . : @ + - only (at most 255, not starting with . or -)`;
  if (task.agent_id.value !== target.agentId) return `Task uses agent ${task.agent_id.value.slice(0, 64)}, but the offers are for agent ${target.agentId}`;
  if (task.executor) return "custom executors are not supported: DCX agents run TaskInfo.command and TaskInfo.container (DOCKER, MESOS) themselves";
  if (!task.command && !task.container) return "a task needs command or container";
  const res = taskResources(task.resources);
  if (typeof res === "string") return res;
  const short = shortfall(res.need, res.ports, left);
  if (short) return short;
  const cmd = command(task);
  if (typeof cmd === "string") return cmd;
  const ctr = container(task, res.ports);
  if (typeof ctr === "string") return ctr;
  if (ctr && target.attributes[DOCKER_ATTRIBUTE] === undefined) return `agent ${target.agentId} does not run Docker`;
  const health = agentHealthCheck(task, res.ports);
  if (typeof health === "string") return health;
  const env: Record<string, string> = { HOST: target.hostname, MESOS_TASK_ID: id, MESOS_FRAMEWORK_ID: target.frameworkId };
  res.ports.forEach((p, i) => (env[`PORT${i}`] = String(p)));
  if (res.ports.length > 0) env.PORTS = res.ports.join(",");
  for (const v of task.command?.environment?.variables ?? []) env[v.name] = v.value ?? "";
  const nanos = task.kill_policy?.grace_period?.nanoseconds;
  const launch: TaskLaunch = {
    taskId: clusterTaskId(target.frameworkId, id),
    name: task.name,
    resources: { cpus: res.need.cpus, mem: res.need.mem, disk: res.need.disk, gpus: res.need.gpus },
    ports: res.ports,
    env,
    killGracePeriodMs: nanos === undefined ? DEFAULT_KILL_GRACE_MS : Math.round(nanos / 1e6),
  };
  if (cmd) launch.command = cmd;
  if (health) launch.healthChecks = [health];
  if (ctr) launch.container = ctr;
  const user = task.command?.user ?? target.framework.user;
  if (user) launch.user = user;
  return { launch, takes: res.need };
}
