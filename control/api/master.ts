import { Hono, type Context } from "hono";
import type { AgentRecord } from "../cluster/agents.ts";
import type { ClusterSnapshot } from "../cluster/cluster.ts";
import { appHostname } from "../cluster/frameworks/marathon/app-fields.ts";
import { MARATHON } from "../cluster/frameworks/marathon/demand.ts";
import type { TaskRecord } from "../cluster/tasks.ts";
import type { AppEnv } from "../http/env.ts";
import { clusterStub } from "./cluster-stub.ts";
import { DCX_VERSION, externalFrameworks, FRAMEWORK_NAMES, MESOS_API_VERSION, mesosFrameworkId, mesosFrameworks, mesosSlave, mesosTask } from "./mesos-json.ts";

export { DCX_VERSION, MESOS_API_VERSION } from "./mesos-json.ts";

const seconds = (ms: number) => ms / 1000;
/** Mesos names a Marathon task after its app, as a host name (`/shop/web` → `web.shop`), and a job's task after its job. */
const taskName = (t: TaskRecord) => (t.framework === MARATHON ? appHostname(t.group) : t.group);

/** Mesos lists registered agents (connected or not) under `slaves`; unreachable ones leave it. */
const registered = (s: ClusterSnapshot) => s.agents.filter((a) => a.state !== "unreachable");

function masterState(s: ClusterSnapshot, clusterName: string, host: string) {
  const pid = `master@${host}:443`;
  return {
    version: MESOS_API_VERSION,
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
    flags: {},
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

const snapshot = (c: Context<AppEnv>) => clusterStub(c.env, c.get("cluster").id).snapshot();
const host = (c: Context<AppEnv>) => new URL(c.req.url).hostname;

async function stateHandler(c: Context<AppEnv>) {
  return c.json(masterState(await snapshot(c), c.get("cluster").name, host(c)));
}

/** Mesos-style master endpoints under `/c/:cluster`. `/master/state.json` is the pre-0.25 name old tools still use. */
export const masterRoutes = new Hono<AppEnv>()
  .get("/master/state", stateHandler)
  .get("/master/state.json", stateHandler)
  .get("/master/slaves", async (c) => {
    const snap = await snapshot(c);
    const only = c.req.query("slave_id");
    const slaves = registered(snap).filter((a) => only === undefined || a.id === only).map((a) => mesosSlave(a, snap.usage[a.id]));
    return c.json({ slaves, recovered_slaves: [] });
  })
  .get("/master/frameworks", async (c) => {
    const only = c.req.query("framework_id");
    const frameworks = mesosFrameworks(await snapshot(c), host(c), taskName).filter((f) => only === undefined || f.id === only);
    const completed = externalFrameworks(await snapshot(c), taskName).completed.filter((f) => only === undefined || f.id === only);
    return c.json({ frameworks, completed_frameworks: completed, unregistered_frameworks: [] });
  })
  .get("/master/tasks", async (c) => {
    const snap = await snapshot(c);
    const only = c.req.query("framework_id");
    const limit = Math.min(Math.max(Number(c.req.query("limit") ?? 100) || 100, 1), 10_000);
    const offset = Math.max(Number(c.req.query("offset") ?? 0) || 0, 0);
    const asc = c.req.query("order") === "asc";
    const wanted = c.req.query("task_id");
    const all = [...snap.tasks, ...snap.completedTasks]
      .filter((t) => (wanted === undefined || t.id === wanted) && (only === undefined || mesosFrameworkId(snap.masterId, t.framework) === only))
      .sort((a, b) => (asc ? a.stagedAt - b.stagedAt : b.stagedAt - a.stagedAt));
    return c.json({ tasks: all.slice(offset, offset + limit).map((t) => mesosTask(t, mesosFrameworkId(snap.masterId, t.framework), taskName(t))) });
  })
  .get("/metrics/snapshot", async (c) => c.json(metricsSnapshot(await snapshot(c), Date.now())))
  .get("/health", (c) => c.json({ healthy: true, cluster: c.get("cluster").id }));
