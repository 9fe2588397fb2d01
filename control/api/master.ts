import { Hono } from "hono";
import { formatRanges, type Resources } from "../../protocol/index.ts";
import type { AgentRecord } from "../cluster/agents.ts";
import type { ClusterSnapshot } from "../cluster/cluster.ts";
import type { AgentUsage } from "../cluster/tasks.ts";
import type { Context } from "hono";
import type { AppEnv } from "../http/env.ts";
import { clusterStub } from "./cluster-stub.ts";

/** The Mesos version whose endpoint shapes these follow. */
export const MESOS_API_VERSION = "1.11.0";
export const DCX_VERSION = "0.1.0";

const seconds = (ms: number) => ms / 1000;

/** A resources object as Mesos renders it: scalars always present, ranges as strings. */
function mesosResources(r: Resources) {
  return { cpus: r.cpus, gpus: r.gpus, mem: r.mem, disk: r.disk, ports: formatRanges(r.ports) };
}

const NO_RESOURCES = mesosResources({ cpus: 0, gpus: 0, mem: 0, disk: 0, ports: [] });

/** Single ports as Mesos ranges: [31000, 31001, 31005] → "[31000-31001, 31005-31005]". */
function formatPorts(ports: number[]): string {
  const sorted = [...ports].sort((a, b) => a - b);
  const ranges: number[][] = [];
  for (const p of sorted) {
    const last = ranges.at(-1);
    if (last && last[1] === p - 1) last[1] = p;
    else ranges.push([p, p]);
  }
  return formatRanges(ranges);
}

/** An agent as `/master/slaves` shows it (Mesos `SlaveWriter`), plus DCX's own `state`. */
function mesosSlave(agent: AgentRecord, usage: AgentUsage | undefined) {
  const resources = mesosResources(agent.resources);
  const used = usage ? { cpus: usage.cpus, gpus: usage.gpus, mem: usage.mem, disk: usage.disk, ports: formatPorts(usage.ports) } : NO_RESOURCES;
  return {
    id: agent.id,
    hostname: agent.hostname,
    port: 5051,
    pid: `slave(1)@${agent.ip}:5051`,
    attributes: agent.attributes,
    registered_time: seconds(agent.registeredAt),
    ...(agent.reregisteredAt !== null ? { reregistered_time: seconds(agent.reregisteredAt) } : {}),
    resources,
    used_resources: used,
    // Offers live only inside one allocation round, so none is ever outstanding.
    offered_resources: NO_RESOURCES,
    reserved_resources: {},
    unreserved_resources: resources,
    active: agent.state === "active",
    deactivated: false,
    version: agent.version,
    capabilities: [],
    state: agent.state,
  };
}

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
    frameworks: [],
    completed_frameworks: [],
    orphan_tasks: [],
    unregistered_frameworks: [],
  };
}

/** `/metrics/snapshot`: Mesos's flat `{"key": number}` with the keys that apply so far. */
function metricsSnapshot(s: ClusterSnapshot, now: number): Record<string, number> {
  const count = (state: AgentRecord["state"]) => s.agents.filter((a) => a.state === state).length;
  const total = (k: "cpus" | "mem" | "disk" | "gpus") =>
    s.agents.filter((a) => a.state !== "unreachable").reduce((sum, a) => sum + a.resources[k], 0);
  const out: Record<string, number> = {
    "master/elected": 1,
    "master/uptime_secs": (now - s.createdAt) / 1000,
    "master/slaves_active": count("active"),
    "master/slaves_connected": count("active"),
    "master/slaves_disconnected": count("disconnected"),
    "master/slaves_inactive": 0,
    "master/slaves_unreachable": count("unreachable"),
    "master/outstanding_offers": 0,
    "master/slave_registrations": s.counters.slave_registrations ?? 0,
    "master/slave_reregistrations": s.counters.slave_reregistrations ?? 0,
    "master/slave_removals": s.counters.slave_removals ?? 0,
    "master/slave_unreachable_completed": s.counters.slave_unreachable_completed ?? 0,
    "master/dropped_messages": s.counters.dropped_messages ?? 0,
  };
  const usage = Object.values(s.usage);
  for (const k of ["cpus", "mem", "disk", "gpus"] as const) {
    const used = usage.reduce((sum, u) => sum + u[k], 0);
    out[`master/${k}_total`] = total(k);
    out[`master/${k}_used`] = used;
    out[`master/${k}_percent`] = total(k) > 0 ? used / total(k) : 0;
  }
  const tasks = (state: string) => s.tasksByState[state] ?? 0;
  for (const state of ["staging", "starting", "running", "killing", "unreachable"]) out[`master/tasks_${state}`] = tasks(`TASK_${state.toUpperCase()}`);
  out["master/frameworks_active"] = 1;
  return out;
}

async function stateHandler(c: Context<AppEnv>) {
  const snap = await clusterStub(c.env, c.get("cluster").id).snapshot();
  return c.json(masterState(snap, c.get("cluster").name, new URL(c.req.url).hostname));
}

/** Mesos-style master endpoints under `/c/:cluster`. `/master/state.json` is the pre-0.25 name old tools still use. */
export const masterRoutes = new Hono<AppEnv>()
  .get("/master/state", stateHandler)
  .get("/master/state.json", stateHandler)
  .get("/master/slaves", async (c) => {
    const snap = await clusterStub(c.env, c.get("cluster").id).snapshot();
    const only = c.req.query("slave_id");
    const slaves = registered(snap).filter((a) => only === undefined || a.id === only).map((a) => mesosSlave(a, snap.usage[a.id]));
    return c.json({ slaves, recovered_slaves: [] });
  })
  .get("/metrics/snapshot", async (c) => {
    const snap = await clusterStub(c.env, c.get("cluster").id).snapshot();
    return c.json(metricsSnapshot(snap, Date.now()));
  })
  .get("/health", (c) => c.json({ healthy: true, cluster: c.get("cluster").id }));
