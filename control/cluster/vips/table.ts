import { ipv4ToNumber, type Vip, type VipBackend, type Vips } from "../../../protocol/vips.ts";
import { listAgents } from "../agents.ts";
import type { ClusterDb } from "../db.ts";
import type { App } from "../frameworks/marathon/app-definition.ts";
import { appsMentioningVips, getVersion } from "../frameworks/marathon/apps.ts";
import { vipFqdn, vipsOf, type VipLabel } from "../frameworks/marathon/app-vips.ts";
import { MARATHON } from "../frameworks/marathon/demand.ts";
import { liveTasks, type TaskRecord } from "../tasks.ts";
import { vipAddresses, vipRange } from "./addresses.ts";

/**
 * The cluster's VIP table, built from its own task list: for each VIP address and port, the
 * host ports of the tasks behind it. Only what the master knows goes in, so an agent (root)
 * never connects anywhere a task of the cluster does not listen.
 *
 * Weights follow dcos-net (`dcos_l4lb_mesos_poller.erl`): a RUNNING task that is healthy (or
 * has no health checks) takes new connections; one failing its checks or being killed is
 * draining (its connections go on, new ones go elsewhere); any other task, or one on an agent
 * that is unreachable, is left out. A task whose checks have not passed yet is left out too,
 * as DNS leaves it out: it has never served.
 */

/** What a task is to the VIPs of its app. */
function backendState(task: TaskRecord, hasChecks: boolean): "active" | "draining" | undefined {
  const killing = task.state === "TASK_KILLING" || (task.state === "TASK_RUNNING" && task.killRequestedAt !== null);
  if (killing) return "draining";
  if (task.state !== "TASK_RUNNING") return undefined;
  if (task.healthy === false) return "draining";
  if (hasChecks && task.healthy !== true) return undefined;
  return "active";
}

/** A named VIP's address, or an IP VIP's own. */
function addressOf(label: VipLabel, named: ReadonlyMap<string, string>): string | undefined {
  return label.kind === "ip" ? label.name : named.get(label.name);
}

/** Adds one backend to the VIP at `ip:port`, once per host and port. */
function addBackend(table: Map<string, Vip>, name: string, ip: string, port: number, backend: VipBackend): void {
  const key = `${ip}:${port}`;
  const vip = table.get(key) ?? { name, ip, port, backends: [] };
  table.set(key, vip);
  const same = vip.backends.find((b) => b.host === backend.host && b.port === backend.port);
  if (same === undefined) vip.backends.push(backend);
  // A task port shared by two tasks cannot happen; two states for one port keep the one taking connections.
  else same.draining &&= backend.draining;
}

function versionVips(db: ClusterDb, appId: string, version: string): { app: App; vips: VipLabel[] } | undefined {
  const app = getVersion(db, appId, version);
  return app === undefined ? undefined : { app, vips: vipsOf(app) };
}

/** The whole table, in address order, as the `vips` frame carries it. */
export function vipTable(db: ClusterDb): Vips {
  const range = vipRange(db);
  const candidates = appsMentioningVips(db);
  if (candidates.length === 0) return { type: "vips", range, vips: [] };
  const named = vipAddresses(db);
  const hosts = new Map(listAgents(db).flatMap((a) => (a.state !== "unreachable" && ipv4ToNumber(a.ip) !== undefined ? [[a.id, a.ip] as const] : [])));
  const table = new Map<string, Vip>();
  for (const { id } of candidates) {
    // Each task answers for the VIPs of its own version: read and parsed once per version.
    const versions = new Map<string, { app: App; vips: VipLabel[] } | undefined>();
    for (const task of liveTasks(db, { framework: MARATHON, group: id })) {
      const host = hosts.get(task.agentId);
      if (!versions.has(task.version)) versions.set(task.version, versionVips(db, id, task.version));
      const version = versions.get(task.version);
      if (host === undefined || version === undefined) continue;
      const state = backendState(task, version.app.healthChecks.length > 0);
      if (state === undefined) continue;
      for (const label of version.vips) {
        const ip = addressOf(label, named);
        const port = task.ports[label.portIndex];
        if (ip === undefined || port === undefined || port === 0) continue;
        const name = label.kind === "named" ? vipFqdn(label.name) : `${label.name}:${label.port}`;
        addBackend(table, name, ip, label.port, { host, port, draining: state === "draining" });
      }
    }
  }
  // A fixed order, so that an unchanged table is the same text and is not sent again.
  const byAddress = (a: { ip?: string; host?: string; port: number }, b: typeof a) =>
    (ipv4ToNumber(a.ip ?? a.host ?? "") ?? 0) - (ipv4ToNumber(b.ip ?? b.host ?? "") ?? 0) || a.port - b.port;
  const vips = [...table.values()].sort(byAddress);
  for (const vip of vips) vip.backends.sort(byAddress);
  return { type: "vips", range, vips };
}

/** The DNS names of the named VIPs the cluster's apps declare, with their addresses. */
export function vipNames(db: ClusterDb): { fqdn: string; ip: string }[] {
  const candidates = appsMentioningVips(db);
  if (candidates.length === 0) return [];
  const named = vipAddresses(db);
  const out = new Map<string, string>();
  for (const { app } of candidates) {
    for (const label of vipsOf(app)) {
      const ip = label.kind === "named" ? named.get(label.name) : undefined;
      if (ip !== undefined) out.set(vipFqdn(label.name), ip);
    }
  }
  return [...out].map(([fqdn, ip]) => ({ fqdn, ip }));
}
