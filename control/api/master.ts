import { Hono, type Context } from "hono";
import { frameworkTaskId } from "../cluster/frameworks/external/task-ids.ts";
import type { AgentRecord } from "../cluster/agents.ts";
import type { ClusterSnapshot } from "../cluster/cluster.ts";
import { appHostname } from "../cluster/frameworks/marathon/app-fields.ts";
import { MARATHON } from "../cluster/frameworks/marathon/demand.ts";
import type { TaskRecord } from "../cluster/tasks.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { actingStub, clusterStub } from "../cluster-stub.ts";
import { unwrap } from "./marathon/outcome.ts";
import { BUILD_FIELDS, flagsJson, rolesJson, stateSummary, teardownFramework, versionJson } from "./master-summary.ts";
import { DCX_VERSION, externalFrameworks, FRAMEWORK_NAMES, MESOS_API_VERSION, mesosFrameworkId, mesosFrameworks, mesosSlave, mesosTask } from "./mesos-json.ts";

export { DCX_VERSION, MESOS_API_VERSION } from "./mesos-json.ts";

const seconds = (ms: number) => ms / 1000;
/** Mesos names a Marathon task after its app, as a host name (`/shop/web` → `web.shop`), and a job's task after its job. */
const taskName = (t: TaskRecord) => (t.framework === MARATHON ? appHostname(t.group) : t.group);

/** Mesos lists registered agents (connected or not) under `slaves`; unreachable ones leave it. */
const registered = (s: ClusterSnapshot) => s.agents.filter((a) => a.state !== "unreachable");

function masterState(s: ClusterSnapshot, clusterName: string, host: string, flags: Record<string, string>) {
  const pid = `master@${host}:443`;
  return {
    version: MESOS_API_VERSION,
    ...BUILD_FIELDS,
    dcx_version: DCX_VERSION,
    start_time: seconds(s.createdAt),
    elected_time: seconds(s.createdAt),
    id: s.masterId,
    pid,
    hostname: host,
    capabilities: [],
    activated_slaves: s.agents.filter((a) => a.state === "active").length,
    deactivated_slaves: 0,
    unreachable_slaves: s.agents.filter((a) => a.state === "unreachable").length,
    leader: pid,
    leader_info: { id: s.masterId, pid, hostname: host, port: 443 },
    cluster: clusterName,
    flags,
    slaves: registered(s).map((a) => mesosSlave(a, s.usage[a.id])),
    recovered_slaves: [],
    frameworks: mesosFrameworks(s, host, taskName),
    completed_frameworks: externalFrameworks(s, taskName).completed,
    orphan_tasks: [],
    unregistered_frameworks: [],
  };
}

/** `/metrics/snapshot`: Mesos's flat `{"key": number}`. */
function metricsSnapshot(s: ClusterSnapshot, now: number): Record<string, number> {
  const count = (state: AgentRecord["state"]) => s.agents.filter((a) => a.state === state).length;
  const out: Record<string, number> = {
    "master/elected": 1,
    "master/uptime_secs": (now - s.createdAt) / 1000,
    "master/slaves_active": count("active"),
    "master/slaves_connected": count("active"),
    "master/slaves_disconnected": count("disconnected"),
    "master/slaves_inactive": 0,
    "master/slaves_unreachable": count("unreachable"),
    "master/frameworks_active": FRAMEWORK_NAMES.length + s.frameworks.filter((f) => f.state === "connected").length,
    "master/frameworks_connected": FRAMEWORK_NAMES.length + s.frameworks.filter((f) => f.state === "connected").length,
    "master/frameworks_disconnected": s.frameworks.filter((f) => f.state === "disconnected").length,
    "master/outstanding_offers": s.frameworks.reduce((n, f) => n + f.offers.length, 0),
    "master/slave_registrations": s.counters.slave_registrations ?? 0,
    "master/slave_reregistrations": s.counters.slave_reregistrations ?? 0,
    "master/slave_removals": s.counters.slave_removals ?? 0,
    "master/slave_unreachable_completed": s.counters.slave_unreachable_completed ?? 0,
    "master/dropped_messages": s.counters.dropped_messages ?? 0,
  };
  const usage = Object.values(s.usage);
  for (const k of ["cpus", "mem", "disk", "gpus"] as const) {
    const total = registered(s).reduce((sum, a) => sum + a.resources[k], 0);
    const used = usage.reduce((sum, u) => sum + u[k], 0);
    out[`master/${k}_total`] = total;
    out[`master/${k}_used`] = used;
    out[`master/${k}_percent`] = total > 0 ? used / total : 0;
  }
  for (const state of ["staging", "starting", "running", "killing", "unreachable"]) {
    out[`master/tasks_${state}`] = s.tasksByState[`TASK_${state.toUpperCase()}`] ?? 0;
  }
  return out;
}

/** How long an agent may stay silent before it is unreachable (the Worker var, as the Cluster object reads it). */
const agentTimeoutMs = (c: Context<AppEnv>) => Number(c.env.AGENT_TIMEOUT_MS) || 75_000;
const snapshot = (c: Context<AppEnv>) => clusterStub(c.env, c.get("cluster").id).snapshot();
const host = (c: Context<AppEnv>) => new URL(c.req.url).hostname;

async function stateHandler(c: Context<AppEnv>) {
  return c.json(masterState(await snapshot(c), c.get("cluster").name, host(c), flagsJson(agentTimeoutMs(c)).flags));
}

async function slavesHandler(c: Context<AppEnv>) {
  const snap = await snapshot(c);
  const only = c.req.query("slave_id");
  const slaves = registered(snap)
    .filter((a) => only === undefined || a.id === only)
    .map((a) => mesosSlave(a, snap.usage[a.id]));
  return c.json({ slaves, recovered_slaves: [] });
}

async function frameworksHandler(c: Context<AppEnv>) {
  const only = c.req.query("framework_id");
  const snap = await snapshot(c);
  const frameworks = mesosFrameworks(snap, host(c), taskName).filter((f) => only === undefined || f.id === only);
  const completed = externalFrameworks(snap, taskName).completed.filter((f) => only === undefined || f.id === only);
  return c.json({ frameworks, completed_frameworks: completed, unregistered_frameworks: [] });
}

async function tasksHandler(c: Context<AppEnv>) {
  const snap = await snapshot(c);
  const only = c.req.query("framework_id");
  const limit = Math.min(Math.max(Number(c.req.query("limit") ?? 100) || 100, 1), 10_000);
  const offset = Math.max(Number(c.req.query("offset") ?? 0) || 0, 0);
  const asc = c.req.query("order") === "asc";
  const wanted = c.req.query("task_id");
  const all = [...snap.tasks, ...snap.completedTasks]
    .filter(
      (t) =>
        (wanted === undefined || frameworkTaskId(t.framework, t.id) === wanted) &&
        (only === undefined || mesosFrameworkId(snap.masterId, t.framework) === only),
    )
    .sort((a, b) => (asc ? a.stagedAt - b.stagedAt : b.stagedAt - a.stagedAt));
  return c.json({ tasks: all.slice(offset, offset + limit).map((t) => mesosTask(t, mesosFrameworkId(snap.masterId, t.framework), taskName(t))) });
}

async function teardownHandler(c: Context<AppEnv>) {
  const type = c.req.header("Content-Type") ?? "";
  const form = /^application\/x-www-form-urlencoded|^multipart\/form-data/i.test(type) ? await c.req.parseBody() : {};
  const id = typeof form.frameworkId === "string" ? form.frameworkId : c.req.query("frameworkId");
  const snap = await snapshot(c);
  // An external framework is torn down as the operator API's TEARDOWN does it (audited); the
  // built-in ones, and ids naming nothing, are refused by teardownFramework.
  if (id !== undefined && snap.frameworks.some((f) => f.id === id && f.state !== "removed")) {
    unwrap(await actingStub(c.env, c.get("cluster").id, { userId: c.get("user").id, tokenId: c.get("tokenId") }).teardownFramework(id));
    return c.body(null, 200);
  }
  return teardownFramework(snap, id);
}

/**
 * The Mesos master's read endpoints, each at `/master/<name>` and at the short form `/<name>`
 * that libprocess also routes (exporters read `/state` and `/metrics/snapshot`).
 */
type Handler = (c: Context<AppEnv>) => Response | Promise<Response>;

const health: Handler = (c) => c.json({ healthy: true, cluster: c.get("cluster").id });

const MASTER_READS = {
  state: stateHandler,
  "state.json": stateHandler,
  slaves: slavesHandler,
  frameworks: frameworksHandler,
  tasks: tasksHandler,
  "state-summary": async (c: Context<AppEnv>) => c.json(stateSummary(await snapshot(c), c.get("cluster").name, host(c))),
  roles: async (c: Context<AppEnv>) => c.json(rolesJson(await snapshot(c))),
  flags: (c: Context<AppEnv>) => c.json(flagsJson(agentTimeoutMs(c))),
  version: (c: Context<AppEnv>) => c.json(versionJson()),
  health,
} satisfies Record<string, Handler>;

/** The names `/master/<name>` answers (the OpenAPI document needs a doc for each). */
export type MasterEndpoint = keyof typeof MASTER_READS;

/**
 * Mesos-style master endpoints under `/c/:cluster` (and, as DC/OS's Admin Router serves
 * them, under `/c/:cluster/mesos`). `/master/state.json` is the pre-0.25 name old tools still use.
 */
export const masterRoutes = new Hono<AppEnv>()
  .get("/master/:endpoint{[a-z.-]+}", (c) => readEndpoint(c, c.req.param("endpoint")))
  .get("/:endpoint{state|state\\.json|slaves|frameworks|tasks|state-summary|roles|flags|version}", (c) => readEndpoint(c, c.req.param("endpoint")))
  .post("/master/teardown", teardownHandler)
  .post("/teardown", teardownHandler)
  .get("/metrics/snapshot", async (c) => c.json(metricsSnapshot(await snapshot(c), Date.now())))
  .get("/health", health);

/** Answers one of MASTER_READS; any other name (`constructor` included) is a 404. */
function readEndpoint(c: Context<AppEnv>, endpoint: string) {
  const handler: Handler | undefined = Object.hasOwn(MASTER_READS, endpoint) ? MASTER_READS[endpoint as MasterEndpoint] : undefined;
  if (!handler) throw new ApiError("not_found", `No route for GET ${c.req.path}.`);
  return handler(c);
}
