import type { AgentRecord } from "../cluster/agents.ts";
import { frameworkTaskId } from "../cluster/frameworks/external/task-ids.ts";
import type { ClusterSnapshot } from "../cluster/cluster.ts";
import { frameworkRoles, type FrameworkRecord, type FrameworkView } from "../cluster/frameworks/external/store.ts";
import type { TaskRecord } from "../cluster/tasks.ts";
import { FRAMEWORK_NAMES, mesosFrameworkId, offeredTotal, portRanges } from "./mesos-json.ts";

/**
 * The Mesos operator API's JSON (mesos/v1/master/master.proto): agents, tasks and frameworks as
 * GET_STATE and its parts answer them, and as the SUBSCRIBE stream's events carry them.
 */

export const nanos = (ms: number) => ({ nanoseconds: Math.round(ms * 1e6) });
const scalar = (name: string, value: number) => ({ name, type: "SCALAR", scalar: { value }, role: "*" });

/** Resources as Mesos `Resource`s. */
function resources(r: { cpus: number; mem: number; disk: number; gpus: number; ports: readonly (readonly number[])[] }) {
  const out: Record<string, unknown>[] = [scalar("cpus", r.cpus), scalar("mem", r.mem), scalar("disk", r.disk)];
  if (r.gpus > 0) out.push(scalar("gpus", r.gpus));
  if (r.ports.length > 0) out.push({ name: "ports", type: "RANGES", ranges: { range: r.ports.map(([begin = 0, end = 0]) => ({ begin, end })) }, role: "*" });
  return out;
}

/** An agent as GET_AGENTS lists it; `s` gives what its tasks and offers hold. */
export function agent(a: AgentRecord, s: Pick<ClusterSnapshot, "usage" | "frameworks">) {
  const used = s.usage[a.id];
  const offered = s.frameworks.flatMap((f) => f.offers).filter((o) => o.agentId === a.id);
  const sum = offeredTotal(offered);
  return {
    agent_info: {
      hostname: a.hostname,
      id: { value: a.id },
      port: 5051,
      resources: resources(a.resources),
      attributes: Object.entries(a.attributes).map(([name, v]) =>
        typeof v === "number" ? { name, type: "SCALAR", scalar: { value: v } } : { name, type: "TEXT", text: { value: v } },
      ),
    },
    active: a.state === "active",
    deactivated: false,
    version: a.version,
    pid: `slave(1)@${a.ip}:5051`,
    registered_time: nanos(a.registeredAt),
    ...(a.reregisteredAt !== null ? { reregistered_time: nanos(a.reregisteredAt) } : {}),
    total_resources: resources(a.resources),
    allocated_resources: used ? resources({ ...used, ports: portRanges(used.ports) }) : [],
    offered_resources: offered.length > 0 ? resources(sum) : [],
    capabilities: [{ type: "MULTI_ROLE" }, { type: "TASK_KILLING_STATE" }],
  };
}

/** A task as GET_TASKS lists it. */
export function task(t: TaskRecord, masterId: string) {
  const taskId = { value: frameworkTaskId(t.framework, t.id) };
  const statuses = [{ task_id: taskId, state: "TASK_STAGING", timestamp: t.stagedAt / 1000 }];
  if (t.startedAt !== null) statuses.push({ task_id: taskId, state: "TASK_RUNNING", timestamp: t.startedAt / 1000 });
  if (t.state !== "TASK_STAGING" && t.state !== "TASK_RUNNING") statuses.push({ task_id: taskId, state: t.state, timestamp: t.updatedAt / 1000 });
  return {
    name: t.group,
    task_id: taskId,
    framework_id: { value: mesosFrameworkId(masterId, t.framework) },
    agent_id: { value: t.agentId },
    state: t.state,
    resources: resources({ ...t.resources, ports: portRanges(t.ports) }),
    statuses,
    ...(t.healthy !== null ? { healthy: t.healthy } : {}),
  };
}

function builtIn(name: string, s: ClusterSnapshot) {
  return {
    framework_info: {
      id: { value: mesosFrameworkId(s.masterId, name) },
      name,
      user: "root",
      role: "*",
      roles: ["*"],
      failover_timeout: 604800,
      checkpoint: true,
      capabilities: [{ type: "PARTITION_AWARE" }, { type: "TASK_KILLING_STATE" }],
    },
    active: true,
    connected: true,
    recovered: false,
    registered_time: nanos(s.createdAt),
    offers: [],
  };
}

/** An external framework as GET_FRAMEWORKS lists it. */
export function external(f: FrameworkView) {
  return {
    framework_info: { ...f.info, id: { value: f.id }, principal: f.principal, roles: frameworkRoles(f.info) },
    active: f.state === "connected",
    connected: f.state === "connected",
    recovered: false,
    registered_time: nanos(f.registeredAt),
    ...(f.reregisteredAt !== null ? { reregistered_time: nanos(f.reregisteredAt) } : {}),
    ...(f.removedAt !== null ? { unregistered_time: nanos(f.removedAt) } : {}),
    offers: f.offers.map((o) => ({ id: { value: o.id }, framework_id: { value: f.id }, agent_id: { value: o.agentId }, resources: resources(o.resources) })),
  };
}

export function getFrameworks(s: ClusterSnapshot) {
  return {
    frameworks: [...FRAMEWORK_NAMES.map((n) => builtIn(n, s)), ...s.frameworks.filter((f) => f.state !== "removed").map(external)],
    completed_frameworks: s.frameworks.filter((f) => f.state === "removed").map(external),
  };
}

export function getTasks(s: ClusterSnapshot) {
  return {
    tasks: s.tasks.filter((t) => t.state !== "TASK_UNREACHABLE").map((t) => task(t, s.masterId)),
    unreachable_tasks: s.tasks.filter((t) => t.state === "TASK_UNREACHABLE").map((t) => task(t, s.masterId)),
    completed_tasks: s.completedTasks.map((t) => task(t, s.masterId)),
  };
}

export const getAgents = (s: ClusterSnapshot) => ({ agents: s.agents.filter((a) => a.state !== "unreachable").map((a) => agent(a, s)), recovered_agents: [] });

/** GET_STATE's body. */
export function getState(s: ClusterSnapshot) {
  return { get_tasks: getTasks(s), get_executors: { executors: [], orphan_executors: [] }, get_frameworks: getFrameworks(s), get_agents: getAgents(s) };
}

/** An external framework as its FRAMEWORK_* event carries it (no offers: they are the allocator's business). */
export const frameworkOf = (f: FrameworkRecord) => external({ ...f, offers: [] });
