import { formatRanges, type Resources } from "../../protocol/index.ts";
import { frameworkTaskId } from "../cluster/frameworks/external/task-ids.ts";
import type { AgentRecord } from "../cluster/agents.ts";
import type { ClusterSnapshot } from "../cluster/cluster.ts";
import { MARATHON } from "../cluster/frameworks/marathon/demand.ts";
import { METRONOME } from "../cluster/frameworks/metronome/launch.ts";
import type { AgentUsage, TaskRecord } from "../cluster/tasks.ts";
import { frameworkRoles, type FrameworkView } from "../cluster/frameworks/external/store.ts";

/** Mesos master JSON shapes (`src/common/http.cpp`, `readonly_handler.cpp`), rendered from a cluster snapshot. */

export { MESOS_API_VERSION } from "../cluster/frameworks/external/status.ts";
export const DCX_VERSION = "0.1.0";
const seconds = (ms: number) => ms / 1000;

/** A resources object as Mesos renders it: scalars always present, ranges as strings. */
export function mesosResources(r: Resources) {
  return { cpus: r.cpus, gpus: r.gpus, mem: r.mem, disk: r.disk, ports: formatRanges(r.ports) };
}

export const NO_RESOURCES = mesosResources({ cpus: 0, gpus: 0, mem: 0, disk: 0, ports: [] });

/**
 * Single ports as Mesos ranges: [31000, 31001, 31005] → "[31000-31001, 31005-31005]". A port
 * listed twice (one host port mapped for tcp and for udp) is held once.
 */
export function portRanges(ports: number[]): number[][] {
  const ranges: number[][] = [];
  for (const p of [...ports].sort((a, b) => a - b)) {
    const last = ranges.at(-1);
    if (last && last[1] !== undefined && p <= last[1]) continue;
    if (last && last[1] === p - 1) last[1] = p;
    else ranges.push([p, p]);
  }
  return ranges;
}

/** What an agent's live tasks hold, as a Mesos resources object. */
export function usedResources(usage: AgentUsage | undefined) {
  return usage ? mesosResources({ ...usage, ports: portRanges(usage.ports) }) : NO_RESOURCES;
}

/** An agent as `/master/slaves` shows it (Mesos `SlaveWriter`), plus DCX's own `state`. */
export function mesosSlave(agent: AgentRecord, usage: AgentUsage | undefined) {
  const resources = mesosResources(agent.resources);
  return {
    id: agent.id,
    hostname: agent.hostname,
    port: 5051,
    pid: `slave(1)@${agent.ip}:5051`,
    attributes: agent.attributes,
    registered_time: seconds(agent.registeredAt),
    ...(agent.reregisteredAt !== null ? { reregistered_time: seconds(agent.reregisteredAt) } : {}),
    resources,
    used_resources: usedResources(usage),
    // Offers live only inside one allocation round, so none is ever outstanding.
    offered_resources: NO_RESOURCES,
    // A public agent's resources are all for `slave_public`, as a DC/OS public agent's static reservation is.
    reserved_resources: agent.role === "*" ? {} : { [agent.role]: resources },
    unreserved_resources: agent.role === "*" ? resources : NO_RESOURCES,
    active: agent.state === "active",
    deactivated: false,
    version: agent.version,
    capabilities: ["MULTI_ROLE", "TASK_KILLING_STATE"],
    state: agent.state,
  };
}

/** A task as Mesos shows it (`model(Task)`). Its `name` is the app id as a host name, which Mesos-DNS uses. */
export function mesosTask(t: TaskRecord, frameworkId: string, name: string) {
  const statuses = [{ state: "TASK_STAGING", timestamp: seconds(t.stagedAt) }];
  if (t.startedAt !== null) statuses.push({ state: "TASK_RUNNING", timestamp: seconds(t.startedAt) });
  if (t.state !== "TASK_STAGING" && t.state !== "TASK_RUNNING") statuses.push({ state: t.state, timestamp: seconds(t.updatedAt) });
  return {
    id: frameworkTaskId(t.framework, t.id),
    name,
    framework_id: frameworkId,
    executor_id: "",
    slave_id: t.agentId,
    state: t.state,
    resources: mesosResources({ ...t.resources, ports: portRanges(t.ports) }),
    role: "*",
    statuses,
    ...(t.healthy !== null ? { healthy: t.healthy } : {}),
  };
}

/** The frameworks DCX runs inside the Cluster object, in the order of their Mesos framework ids. */
export const FRAMEWORK_NAMES = [MARATHON, METRONOME];

/**
 * A framework's Mesos id: the master id and its index, as Mesos numbers frameworks
 * (`<master>-0000`). An external framework's tasks name it by its id already.
 */
export function mesosFrameworkId(masterId: string, name: string): string {
  const index = FRAMEWORK_NAMES.indexOf(name);
  if (index < 0) return name;
  return `${masterId}-${String(index).padStart(4, "0")}`;
}

/** What a list of outstanding offers holds in all, port ranges kept as offered. */
export function offeredTotal(offers: readonly Pick<FrameworkView["offers"][number], "resources">[]) {
  return offers.reduce(
    (sum, o) => ({
      cpus: sum.cpus + o.resources.cpus,
      mem: sum.mem + o.resources.mem,
      disk: sum.disk + o.resources.disk,
      gpus: sum.gpus + o.resources.gpus,
      ports: [...sum.ports, ...o.resources.ports],
    }),
    { cpus: 0, mem: 0, disk: 0, gpus: 0, ports: [] as number[][] },
  );
}

function sumResources(tasks: TaskRecord[]) {
  const used = tasks.reduce(
    (sum, t) => ({ cpus: sum.cpus + t.resources.cpus, mem: sum.mem + t.resources.mem, disk: sum.disk + t.resources.disk, gpus: sum.gpus + t.resources.gpus }),
    { cpus: 0, mem: 0, disk: 0, gpus: 0 },
  );
  return { ...used, ports: formatRanges(portRanges(tasks.flatMap((t) => t.ports))) };
}

/** An external framework (scheduler API) as `/master/frameworks` shows it, with its tasks and offers. */
function externalFramework(f: FrameworkView, s: ClusterSnapshot, taskName: (t: TaskRecord) => string) {
  const live = s.tasks.filter((t) => t.framework === f.id);
  const offered = offeredTotal(f.offers);
  return {
    id: f.id,
    name: f.info.name,
    pid: null,
    used_resources: sumResources(live),
    offered_resources: mesosResources(offered),
    capabilities: (f.info.capabilities ?? []).map((c) => c.type),
    hostname: f.info.hostname ?? "",
    webui_url: f.info.webui_url ?? "",
    active: f.state === "connected",
    connected: f.state === "connected",
    recovered: false,
    user: f.info.user,
    principal: f.principal,
    failover_timeout: f.info.failover_timeout ?? 0,
    checkpoint: f.info.checkpoint ?? false,
    registered_time: seconds(f.registeredAt),
    ...(f.reregisteredAt !== null ? { reregistered_time: seconds(f.reregisteredAt) } : {}),
    ...(f.removedAt !== null ? { unregistered_time: seconds(f.removedAt) } : {}),
    role: frameworkRoles(f.info)[0] ?? "*",
    roles: frameworkRoles(f.info),
    suppressed_roles: f.suppressedRoles,
    labels: f.info.labels?.labels ?? [],
    tasks: live.filter((t) => t.state !== "TASK_UNREACHABLE").map((t) => mesosTask(t, f.id, taskName(t))),
    unreachable_tasks: live.filter((t) => t.state === "TASK_UNREACHABLE").map((t) => mesosTask(t, f.id, taskName(t))),
    completed_tasks: s.completedTasks.filter((t) => t.framework === f.id).map((t) => mesosTask(t, f.id, taskName(t))),
    offers: f.offers.map((o) => ({ id: o.id, framework_id: f.id, slave_id: o.agentId, resources: mesosResources(o.resources) })),
    executors: [],
  };
}

/** External frameworks: those subscribed or within their failover timeout, and those torn down (Mesos `completed_frameworks`). */
export function externalFrameworks(s: ClusterSnapshot, taskName: (t: TaskRecord) => string) {
  const all = s.frameworks.map((f) => ({ state: f.state, json: externalFramework(f, s, taskName) }));
  return { active: all.filter((f) => f.state !== "removed").map((f) => f.json), completed: all.filter((f) => f.state === "removed").map((f) => f.json) };
}

/** The frameworks of a cluster, each with its own tasks: Marathon (apps), Metronome (jobs), then the external ones. */
export function mesosFrameworks(s: ClusterSnapshot, host: string, taskName: (t: TaskRecord) => string) {
  return [...builtInFrameworks(s, host, taskName), ...externalFrameworks(s, taskName).active];
}

function builtInFrameworks(s: ClusterSnapshot, host: string, taskName: (t: TaskRecord) => string) {
  return FRAMEWORK_NAMES.map((name) => {
    const id = mesosFrameworkId(s.masterId, name);
    const live = s.tasks.filter((t) => t.framework === name);
    return {
      id,
      name,
      pid: null,
      used_resources: sumResources(live),
      offered_resources: NO_RESOURCES,
      capabilities: ["PARTITION_AWARE", "TASK_KILLING_STATE"],
      hostname: host,
      webui_url: `https://${host}`,
      active: true,
      connected: true,
      recovered: false,
      user: "root",
      failover_timeout: 604800,
      checkpoint: true,
      registered_time: seconds(s.createdAt),
      role: "*",
      tasks: live.filter((t) => t.state !== "TASK_UNREACHABLE").map((t) => mesosTask(t, id, taskName(t))),
      unreachable_tasks: live.filter((t) => t.state === "TASK_UNREACHABLE").map((t) => mesosTask(t, id, taskName(t))),
      completed_tasks: s.completedTasks.filter((t) => t.framework === name).map((t) => mesosTask(t, id, taskName(t))),
      offers: [],
      executors: [],
    };
  });
}
