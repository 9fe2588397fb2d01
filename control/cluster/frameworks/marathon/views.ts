import { and, eq, isNull, sql } from "drizzle-orm";
import { listAgents } from "../../agents.ts";
import type { ClusterDb } from "../../db.ts";
import { prepared } from "../../prepared.ts";
import { tasks } from "../../schema.ts";
import { liveTasks, type TaskRecord } from "../../tasks.ts";
import { getApp, listApps, type StoredApp } from "./apps.ts";
import { MARATHON, summarize } from "./demand.ts";
import { listDeployments, type DeploymentRecord } from "./deployments.ts";
import type { CheckHealth } from "./health-state.ts";
import { APP_LIST_EMBEDS, type AppEmbed } from "./embeds.ts";
import { liveHealth, readinessResults, type ReadinessCheckResult } from "./health.ts";
import { taskStatsByVersion } from "./task-stats.ts";
import { servicePorts } from "./task-ports.ts";
import { unusedOffers } from "./unused-offers.ts";

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

// Every app view (a create's answer too) counts the tasks: built once (prepared.ts).
const countsByApp = (db: ClusterDb) =>
  db
    .select({ group: tasks.group, state: tasks.state, healthy: tasks.healthy, n: sql<number>`count(*)` })
    .from(tasks)
    .where(and(eq(tasks.framework, MARATHON), isNull(tasks.endedAt)))
    .groupBy(tasks.group, tasks.state, tasks.healthy)
    .prepare();
// One app's (a create's or an update's answer): a seek in tasks_group to its live tasks, not a
// pass over every app's, ended tasks included.
const countsOfApp = (db: ClusterDb) =>
  db
    .select({ group: tasks.group, state: tasks.state, healthy: tasks.healthy, n: sql<number>`count(*)` })
    .from(tasks)
    .where(and(eq(tasks.framework, MARATHON), eq(tasks.group, sql.placeholder("appId")), isNull(tasks.endedAt)))
    .groupBy(tasks.state, tasks.healthy)
    .prepare();

/** Marathon's task counters for every app (`only` undefined) or for the apps `only`, in one query each. */
function taskCounts(db: ClusterDb, only?: readonly StoredApp[]): Map<string, { staged: number; running: number; healthy: number; unhealthy: number }> {
  const rows = only === undefined ? prepared(db, countsByApp).all() : only.flatMap((s) => prepared(db, countsOfApp).all({ appId: s.id }));
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

/**
 * Apps as `GET /v2/apps` shows them: the definition, Marathon's read-only fields, counts and
 * deployments, plus what `embed` asks for (see embeds.ts for each route's defaults).
 */
export function appInfos(db: ClusterDb, only: StoredApp[] | undefined, embed: Iterable<AppEmbed> = APP_LIST_EMBEDS, now = Date.now()) {
  const wanted = new Set(embed);
  const stored = only ?? listApps(db);
  // A few apps are counted one by one; a listing counts every app in one pass.
  const counts = taskCounts(db, only !== undefined && only.length <= 8 ? only : undefined);
  const deploymentsByApp = groupBy(listDeployments(db), (d) => d.appId);
  const tasksOf = wanted.has("tasks") ? groupBy(marathonTasks(db), (t) => t.appId) : undefined;
  const statsOf = wanted.has("taskStats") ? groupBy(liveTasks(db, { framework: MARATHON }), (t) => t.group) : undefined;
  return stored.map((s) => {
    const c = counts.get(s.id) ?? { staged: 0, running: 0, healthy: 0, unhealthy: 0 };
    const deployments = deploymentsByApp.get(s.id) ?? [];
    return {
      ...s.app,
      version: s.version,
      versionInfo: { lastScalingAt: s.lastScalingAt, lastConfigChangeAt: s.lastConfigChangeAt },
      tasksStaged: c.staged,
      tasksRunning: c.running,
      tasksHealthy: c.healthy,
      tasksUnhealthy: c.unhealthy,
      deployments: deployments.map((d) => ({ id: d.id })),
      ...(wanted.has("readiness") ? { readinessCheckResults: deploymentReadiness(db, s, deployments) } : {}),
      ...(tasksOf ? { tasks: tasksOf.get(s.id) ?? [] } : {}),
      ...(wanted.has("lastTaskFailure") && s.lastTaskFailure ? { lastTaskFailure: s.lastTaskFailure } : {}),
      ...(statsOf ? { taskStats: taskStatsByVersion(statsOf.get(s.id) ?? [], s, now) } : {}),
    };
  });
}

export type AppInfo = ReturnType<typeof appInfos>[number];

/**
 * Marathon's `readinessCheckResults` of an app: those of the deployment moving it to its
 * current version (every live task of that version), or none when no deployment holds it.
 */
function deploymentReadiness(db: ClusterDb, stored: StoredApp, deployments: readonly DeploymentRecord[]): ReadinessCheckResult[] {
  const rolling = deployments.some((d) => d.action !== "StopApplication" && d.version === stored.version);
  return rolling ? readinessResults(db, stored.id, stored.version) : [];
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** Live Marathon tasks as JSON, optionally of one app. */
export function marathonTasks(db: ClusterDb, appId?: string): TaskJson[] {
  const ips = new Map(listAgents(db).map((a) => [a.id, a.ip]));
  const servicePortsByApp = new Map<string, number[]>();
  const portsOf = (id: string) => {
    const app = servicePortsByApp.has(id) ? undefined : getApp(db, id);
    if (!servicePortsByApp.has(id)) servicePortsByApp.set(id, app ? servicePorts(app.app) : []);
    return servicePortsByApp.get(id) ?? [];
  };
  const live = liveTasks(db, { framework: MARATHON, group: appId });
  const health = liveHealth(db, appId);
  return live.map((t) => taskJson(t, ips.get(t.agentId), portsOf(t.group), health.get(t.id)));
}

/** `GET /v2/queue`: instances waiting to launch, their backoff delay, and why offers were not used (each offer with `withOffers`). */
export function queueJson(db: ClusterDb, now: number, withOffers = false) {
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
      ...(withOffers ? { lastUnusedOffers: unusedOffers(db, s.waiting) } : {}),
      ...(delayed ? { waitingReason: `launch delayed by backoff for ${Math.ceil(((s.delayUntil ?? now) - now) / 1000)} s after failures` } : {}),
    });
  }
  return out;
}
