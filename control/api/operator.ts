import { Hono, type Context } from "hono";
import { z } from "zod";
import type { AgentRecord } from "../cluster/agents.ts";
import type { ClusterSnapshot } from "../cluster/cluster.ts";
import { frameworkRoles, type FrameworkView } from "../cluster/frameworks/external/store.ts";
import type { TaskRecord } from "../cluster/tasks.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { mesosCallBody } from "../http/middleware.ts";
import { actingStub, clusterStub } from "../cluster-stub.ts";
import { unwrap } from "./marathon/outcome.ts";
import { versionJson } from "./master-summary.ts";
import { DCX_VERSION, FRAMEWORK_NAMES, mesosFrameworkId, portRanges } from "./mesos-json.ts";

/**
 * `POST /c/:cluster/api/v1`: the Mesos v1 operator API's read calls, in JSON
 * (mesos/v1/master/master.proto): GET_HEALTH, GET_VERSION, GET_STATE, GET_AGENTS,
 * GET_FRAMEWORKS, GET_TASKS, and TEARDOWN of an external framework. Any path under `/api/v1` other than the scheduler's answers too,
 * as libprocess routes `/api/v1/operator` (which pymesos uses) to the same handler.
 */

const Call = z.object({ type: z.string().min(1).max(64), teardown: z.object({ framework_id: z.object({ value: z.string().min(1).max(255) }) }).optional() });
const SUPPORTED = ["GET_HEALTH", "GET_VERSION", "GET_STATE", "GET_AGENTS", "GET_FRAMEWORKS", "GET_TASKS", "TEARDOWN"] as const;
type Supported = (typeof SUPPORTED)[number];

const nanos = (ms: number) => ({ nanoseconds: Math.round(ms * 1e6) });
const scalar = (name: string, value: number) => ({ name, type: "SCALAR", scalar: { value }, role: "*" });

/** Resources as Mesos `Resource`s. */
function resources(r: { cpus: number; mem: number; disk: number; gpus: number; ports: readonly (readonly number[])[] }) {
  const out: Record<string, unknown>[] = [scalar("cpus", r.cpus), scalar("mem", r.mem), scalar("disk", r.disk)];
  if (r.gpus > 0) out.push(scalar("gpus", r.gpus));
  if (r.ports.length > 0) out.push({ name: "ports", type: "RANGES", ranges: { range: r.ports.map(([begin = 0, end = 0]) => ({ begin, end })) }, role: "*" });
  return out;
}

function agent(a: AgentRecord, s: ClusterSnapshot) {
  const used = s.usage[a.id];
  const offered = s.frameworks.flatMap((f) => f.offers).filter((o) => o.agentId === a.id);
  const sum = offered.reduce((t, o) => ({ cpus: t.cpus + o.resources.cpus, mem: t.mem + o.resources.mem, disk: t.disk + o.resources.disk, gpus: t.gpus + o.resources.gpus, ports: [...t.ports, ...o.resources.ports] }), { cpus: 0, mem: 0, disk: 0, gpus: 0, ports: [] as number[][] });
  return {
    agent_info: { hostname: a.hostname, id: { value: a.id }, port: 5051, resources: resources(a.resources), attributes: Object.entries(a.attributes).map(([name, v]) => (typeof v === "number" ? { name, type: "SCALAR", scalar: { value: v } } : { name, type: "TEXT", text: { value: v } })) },
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

function task(t: TaskRecord, masterId: string) {
  const statuses = [{ task_id: { value: t.id }, state: "TASK_STAGING", timestamp: t.stagedAt / 1000 }];
  if (t.startedAt !== null) statuses.push({ task_id: { value: t.id }, state: "TASK_RUNNING", timestamp: t.startedAt / 1000 });
  if (t.state !== "TASK_STAGING" && t.state !== "TASK_RUNNING") statuses.push({ task_id: { value: t.id }, state: t.state, timestamp: t.updatedAt / 1000 });
  return {
    name: t.group,
    task_id: { value: t.id },
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
    framework_info: { id: { value: mesosFrameworkId(s.masterId, name) }, name, user: "root", role: "*", roles: ["*"], failover_timeout: 604800, checkpoint: true, capabilities: [{ type: "PARTITION_AWARE" }, { type: "TASK_KILLING_STATE" }] },
    active: true,
    connected: true,
    recovered: false,
    registered_time: nanos(s.createdAt),
    offers: [],
  };
}

function external(f: FrameworkView) {
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

function getFrameworks(s: ClusterSnapshot) {
  return {
    frameworks: [...FRAMEWORK_NAMES.map((n) => builtIn(n, s)), ...s.frameworks.filter((f) => f.state !== "removed").map(external)],
    completed_frameworks: s.frameworks.filter((f) => f.state === "removed").map(external),
  };
}

function getTasks(s: ClusterSnapshot) {
  return {
    tasks: s.tasks.filter((t) => t.state !== "TASK_UNREACHABLE").map((t) => task(t, s.masterId)),
    unreachable_tasks: s.tasks.filter((t) => t.state === "TASK_UNREACHABLE").map((t) => task(t, s.masterId)),
    completed_tasks: s.completedTasks.map((t) => task(t, s.masterId)),
  };
}

const getAgents = (s: ClusterSnapshot) => ({ agents: s.agents.filter((a) => a.state !== "unreachable").map((a) => agent(a, s)), recovered_agents: [] });

/** Mesos's `GET /version` body; pymesos reads `version` as dotted integers. */
export const versionInfo = () => ({ ...versionJson(), dcx_version: DCX_VERSION });

async function answer(c: Context<AppEnv>, type: Exclude<Supported, "TEARDOWN">): Promise<Record<string, unknown>> {
  if (type === "GET_HEALTH") return { get_health: { healthy: true } };
  if (type === "GET_VERSION") return { get_version: { version_info: versionInfo() } };
  const s = await clusterStub(c.env, c.get("cluster").id).snapshot();
  if (type === "GET_AGENTS") return { get_agents: getAgents(s) };
  if (type === "GET_FRAMEWORKS") return { get_frameworks: getFrameworks(s) };
  if (type === "GET_TASKS") return { get_tasks: getTasks(s) };
  return { get_state: { get_tasks: getTasks(s), get_executors: { executors: [], orphan_executors: [] }, get_frameworks: getFrameworks(s), get_agents: getAgents(s) } };
}

async function operatorCall(c: Context<AppEnv>) {
  const json = await mesosCallBody(c, "operator API");
  const call = Call.safeParse(json);
  if (!call.success) throw new ApiError("malformed", "Failed to validate master::Call: 'type' is required");
  const callType = call.data.type;
  if (callType === "TEARDOWN") {
    const id = call.data.teardown?.framework_id.value;
    if (!id) throw new ApiError("malformed", "Failed to validate master::Call: TEARDOWN needs 'teardown.framework_id'");
    // Audited in the cluster's own log, in the teardown's transaction.
    unwrap(await actingStub(c.env, c.get("cluster").id, { userId: c.get("user").id, tokenId: c.get("tokenId") }).teardownFramework(id));
    return c.body(null, 200);
  }
  if (!(SUPPORTED as readonly string[]).includes(callType)) throw new ApiError("malformed", `Failed to validate master::Call: DCX answers ${SUPPORTED.join(", ")}; not '${callType.slice(0, 64)}'`);
  return c.json({ type: callType, ...(await answer(c, callType as Exclude<Supported, "TEARDOWN">)) });
}

/** `/c/:cluster/api/v1` (the operator API, with libprocess's prefix fallback) and `/c/:cluster/version`. */
export const operatorRoutes = new Hono<AppEnv>().post("/api/v1", operatorCall).post("/api/v1/*", operatorCall);
