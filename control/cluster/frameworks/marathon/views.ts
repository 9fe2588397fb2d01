import { and, eq, isNull, sql } from "drizzle-orm";
import { listAgents } from "../../agents.ts";
import type { ClusterDb } from "../../db.ts";
import { tasks } from "../../schema.ts";
import { liveTasks, type TaskRecord } from "../../tasks.ts";
import { getApp, listApps, type StoredApp } from "./apps.ts";
import { MARATHON, summarize } from "./demand.ts";
import { listDeployments, type DeploymentRecord } from "./deployments.ts";
import type { CheckHealth } from "./health-state.ts";
import { liveHealth } from "./health.ts";

/** Marathon's JSON shapes (RAML `types/app.raml`, `task.raml`, `queue.raml`); deployments are in deployment-views.ts. */

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export type TaskJson = ReturnType<typeof taskJson>;

/** Marathon's `Health` of each check of a task that has a result, in check order. */
function healthCheckResults(t: TaskRecord, checks: ReadonlyMap<number, CheckHealth> | undefined) {
  return [...(checks ?? new Map<number, CheckHealth>())]
    .sort(([a], [b]) => a - b)
    .map(([, h]) => ({
      alive: h.alive,
      consecutiveFailures: h.consecutiveFailures,
      firstSuccess: iso(h.firstSuccess),
      lastSuccess: iso(h.lastSuccess),
      lastFailure: iso(h.lastFailure),
      lastFailureCause: h.lastFailureCause,
      instanceId: t.id,
      taskId: t.id,
    }));
}

export function taskJson(t: TaskRecord, ip: string | undefined, servicePorts: number[], health?: ReadonlyMap<number, CheckHealth>) {
  return {
    id: t.id,
    appId: t.group,
    host: t.host,
    ports: t.ports,
    servicePorts,
    slaveId: t.agentId,
    state: t.state,
    stagedAt: iso(t.stagedAt),
    startedAt: iso(t.startedAt),
    version: t.version,
    ipAddresses: ip ? [{ ipAddress: ip, protocol: ip.includes(":") ? "IPv6" : "IPv4" }] : [],
    healthCheckResults: healthCheckResults(t, health),
    role: "*",
    localVolumes: [],
    ...(t.message ? { message: t.message } : {}),
  };
}

/** Marathon's task counters for every app, in one query. */
function taskCounts(db: ClusterDb): Map<string, { staged: number; running: number; healthy: number; unhealthy: number }> {
  const rows = db
    .select({ group: tasks.group, state: tasks.state, healthy: tasks.healthy, n: sql<number>`count(*)` })
    .from(tasks)
    .where(and(eq(tasks.framework, MARATHON), isNull(tasks.endedAt)))
    .groupBy(tasks.group, tasks.state, tasks.healthy)
    .all();
  const out = new Map<string, { staged: number; running: number; healthy: number; unhealthy: number }>();
  for (const r of rows) {
    const c = out.get(r.group) ?? { staged: 0, running: 0, healthy: 0, unhealthy: 0 };
    if (r.state === "TASK_STAGING" || r.state === "TASK_STARTING") c.staged += r.n;
    if (r.state === "TASK_RUNNING") c.running += r.n;
    if (r.healthy === true) c.healthy += r.n;
    if (r.healthy === false) c.unhealthy += r.n;
    out.set(r.group, c);
  }
  return out;
}

export interface AppViewOptions {
  embedTasks?: boolean;
}

/** Apps as `GET /v2/apps` shows them: the definition plus Marathon's read-only fields. */
export function appInfos(db: ClusterDb, only: StoredApp[] | undefined, options: AppViewOptions = {}) {
  const stored = only ?? listApps(db);
  const counts = taskCounts(db);
  const deploymentsByApp = new Map<string, DeploymentRecord[]>();
  for (const d of listDeployments(db)) deploymentsByApp.set(d.appId, [...(deploymentsByApp.get(d.appId) ?? []), d]);
  const tasksOf = options.embedTasks ? tasksByApp(db) : undefined;
  return stored.map((s) => {
    const c = counts.get(s.id) ?? { staged: 0, running: 0, healthy: 0, unhealthy: 0 };
    return {
      ...s.app,
      version: s.version,
      versionInfo: { lastScalingAt: s.lastScalingAt, lastConfigChangeAt: s.lastConfigChangeAt },
      tasksStaged: c.staged,
      tasksRunning: c.running,
      tasksHealthy: c.healthy,
      tasksUnhealthy: c.unhealthy,
      deployments: (deploymentsByApp.get(s.id) ?? []).map((d) => ({ id: d.id })),
      ...(s.lastTaskFailure ? { lastTaskFailure: s.lastTaskFailure } : {}),
      ...(tasksOf ? { tasks: tasksOf.get(s.id) ?? [] } : {}),
    };
  });
}

/** Every live Marathon task as JSON, grouped by app. */
function tasksByApp(db: ClusterDb): Map<string, TaskJson[]> {
  const out = new Map<string, TaskJson[]>();
  for (const t of marathonTasks(db)) out.set(t.appId, [...(out.get(t.appId) ?? []), t]);
  return out;
}

/** Live Marathon tasks as JSON, optionally of one app. */
export function marathonTasks(db: ClusterDb, appId?: string): TaskJson[] {
  const ips = new Map(listAgents(db).map((a) => [a.id, a.ip]));
  const servicePorts = new Map<string, number[]>();
  const portsOf = (id: string) => {
    if (!servicePorts.has(id)) servicePorts.set(id, getApp(db, id)?.app.portDefinitions.map((p) => p.port) ?? []);
    return servicePorts.get(id) ?? [];
  };
  const live = liveTasks(db, { framework: MARATHON, group: appId });
  const health = liveHealth(db, appId);
  return live.map((t) => taskJson(t, ips.get(t.agentId), portsOf(t.group), health.get(t.id)));
}

/** `GET /v2/queue`: instances waiting to launch, their backoff delay, and why offers were not used. */
export function queueJson(db: ClusterDb, now: number) {
  const infos = new Map(appInfos(db, undefined).map((a) => [a.id, a]));
  const out = [];
  for (const s of listApps(db)) {
    const summary = summarize(db, s.id, s.version);
    const count = Math.max(0, s.app.instances - summary.current.total);
    const delayed = s.delayUntil !== null && s.delayUntil > now;
    if (count === 0 && !delayed && !s.waiting) continue;
    const reasons = Object.entries(s.waiting?.reasons ?? {});
    out.push({
      app: infos.get(s.id),
      count,
      role: "*",
      delay: { timeLeftSeconds: delayed ? Math.ceil(((s.delayUntil ?? now) - now) / 1000) : 0, overdue: !delayed },
      since: s.waiting?.since ?? s.lastScalingAt,
      processedOffersSummary: {
        processedOffersCount: s.waiting?.agentsConsidered ?? 0,
        unusedOffersCount: reasons.reduce((n, [, k]) => n + k, 0),
        rejectSummaryLastOffers: reasons.map(([reason, declined]) => ({ reason, declined, processed: s.waiting?.agentsConsidered ?? 0 })),
      },
      ...(delayed ? { waitingReason: `launch delayed by backoff for ${Math.ceil(((s.delayUntil ?? now) - now) / 1000)} s after failures` } : {}),
    });
  }
  return out;
}
