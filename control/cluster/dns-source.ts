import type { ZoneAgent, ZoneTask, ZoneVip } from "../dns/zone.ts";
import { listAgents } from "./agents.ts";
import type { ClusterDb } from "./db.ts";
import type { App } from "./frameworks/marathon/app-definition.ts";
import { appHostname } from "./frameworks/marathon/app-fields.ts";
import { getVersion, listApps } from "./frameworks/marathon/apps.ts";
import { MARATHON } from "./frameworks/marathon/demand.ts";
import { declaredPorts } from "./frameworks/marathon/task-ports.ts";
import { liveTasks, type TaskRecord } from "./tasks.ts";
import { vipNames } from "./vips/table.ts";

/** What the DNS zone is built from: the cluster's agents and live tasks, read in one pass. */
export interface DnsSource {
  agents: ZoneAgent[];
  tasks: ZoneTask[];
  /** Named VIPs' names and addresses. */
  vips: ZoneVip[];
}

/** Port names and protocols of an app, in the order of its tasks' host ports. */
function portMeta(app: App | undefined): { names: (string | undefined)[]; protocols: ("tcp" | "udp" | "udp,tcp")[] } {
  const ports = app === undefined ? [] : declaredPorts(app);
  return { names: ports.map((p) => p.name), protocols: ports.map((p) => p.protocol) };
}

export function dnsSource(db: ClusterDb): DnsSource {
  const apps = new Map(listApps(db).map((s) => [s.id, s.app]));
  const meta = new Map<string, ReturnType<typeof portMeta>>();
  const metaOf = (group: string) => {
    if (!meta.has(group)) meta.set(group, portMeta(apps.get(group)));
    return meta.get(group) ?? { names: [], protocols: [] };
  };
  // A task with health checks answers only once they pass: until then, and as soon as one
  // fails, it is left out. Whether it has checks is up to its own version, not the app's latest.
  const versions = new Map<string, boolean>();
  const checked = (t: TaskRecord) => {
    if (t.framework !== MARATHON) return false;
    const key = `${t.group}\n${t.version}`;
    if (!versions.has(key)) versions.set(key, (getVersion(db, t.group, t.version)?.healthChecks.length ?? 0) > 0);
    return versions.get(key) === true;
  };
  return {
    agents: listAgents(db)
      .filter((a) => a.state !== "unreachable")
      .map((a) => ({ id: a.id, hostname: a.hostname, ip: a.ip })),
    tasks: liveTasks(db).map((t) => ({
      id: t.id,
      name: t.framework === MARATHON ? appHostname(t.group) : t.group,
      framework: t.framework,
      agentId: t.agentId,
      state: t.state,
      ports: t.ports,
      portNames: metaOf(t.group).names,
      protocols: metaOf(t.group).protocols,
      killing: t.killRequestedAt !== null,
      healthy: checked(t) ? t.healthy === true : t.healthy,
    })),
    vips: vipNames(db),
  };
}
