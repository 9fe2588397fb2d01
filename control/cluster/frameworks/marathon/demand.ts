import { and, asc, desc, eq, isNull, sql } from "drizzle-orm";
import { hostAccessOf } from "../../../../protocol/host-access.ts";
import type { ClusterDb } from "../../db.ts";
import { prepared } from "../../prepared.ts";
import { taskReadiness, tasks } from "../../schema.ts";
import type { TaskRequest } from "../../allocator/place.ts";
import { appConstraints, type App } from "./app-definition.ts";
import { listApps, orphanCandidates, type StoredApp } from "./apps.ts";
import { waitsForDependencies } from "./dependencies.ts";
import { listDeployments, type DeploymentRecord } from "./deployments.ts";
import { decide, decideStop, type Decision, type TaskSummary } from "./scheduler.ts";
import { taskDriver } from "./task-launch.ts";
import { hostPortRequest } from "./task-ports.ts";

export const MARATHON = "marathon";

/** What Marathon wants from one allocation round. */
export interface MarathonDemand {
  /** Launch requests, and for each the app and version to launch. */
  requests: { request: TaskRequest; app: StoredApp }[];
  /** Tasks to kill now. */
  kills: string[];
  /** Deployments whose goal is reached. */
  completed: DeploymentRecord[];
  /** The earliest time a delayed launch becomes due, if any. */
  wakeAt: number | null;
}

/** What makes a task of the target version ready: passing health checks, ready readiness checks. */
export interface ReadyRule {
  healthy: boolean;
  readinessChecks: number;
}

/** The ready rule of an app's version; stored apps from before readiness checks lack the field. */
export function readyRule(app: App): ReadyRule {
  return { healthy: app.healthChecks.length > 0, readinessChecks: (app.readinessChecks ?? []).length };
}

/**
 * Whether a task counts as ready. A task of the target version must be running, healthy when
 * the app has health checks, and ready in every readiness check. Tasks of other versions already
 * serve, so for them only running and not known to be unhealthy counts.
 */
function readyExpression(healthy: boolean, readiness: boolean) {
  const version = sql.placeholder("version");
  const running = sql`${tasks.state} = 'TASK_RUNNING'`;
  const health = healthy ? sql`${tasks.healthy} = 1` : sql`coalesce(${tasks.healthy}, 1) = 1`;
  const ready = readiness
    ? sql`(SELECT count(*) FROM ${taskReadiness} WHERE ${taskReadiness.taskId} = ${tasks.id} AND ${taskReadiness.ready} = 1) >= ${sql.placeholder("readinessChecks")}`
    : sql`1`;
  return sql<number>`CASE WHEN ${tasks.version} = ${version} THEN ${running} AND ${health} AND ${ready} ELSE ${running} AND coalesce(${tasks.healthy}, 1) = 1 END`;
}

function summaryQuery(db: ClusterDb, healthy: boolean, readiness: boolean) {
  return db
    .select({
      current: sql<number>`${tasks.version} = ${sql.placeholder("version")}`,
      ready: readyExpression(healthy, readiness),
      killing: sql<number>`${tasks.killRequestedAt} IS NOT NULL`,
      n: sql<number>`count(*)`,
    })
    .from(tasks)
    .where(and(eq(tasks.framework, MARATHON), eq(tasks.group, sql.placeholder("appId")), isNull(tasks.endedAt)))
    .groupBy(sql`1`, sql`2`, sql`3`)
    .prepare();
}

/**
 * The summary query of each ready rule's shape (health checks or not, readiness checks or not):
 * every round runs one per app, so each is built once (prepared.ts).
 */
const SUMMARY_QUERIES = {
  plain: (db: ClusterDb) => summaryQuery(db, false, false),
  healthy: (db: ClusterDb) => summaryQuery(db, true, false),
  ready: (db: ClusterDb) => summaryQuery(db, false, true),
  healthyReady: (db: ClusterDb) => summaryQuery(db, true, true),
};

/** Aggregates an app's live tasks in one indexed query, rather than loading them all. */
export function summarize(db: ClusterDb, appId: string, version: string | null, rule: ReadyRule = { healthy: false, readinessChecks: 0 }): TaskSummary {
  const readiness = rule.readinessChecks > 0;
  const shape = rule.healthy ? (readiness ? "healthyReady" : "healthy") : readiness ? "ready" : "plain";
  const rows = prepared(db, SUMMARY_QUERIES[shape]).all({ appId, version: version ?? "", readinessChecks: rule.readinessChecks });
  const s: TaskSummary = { current: { total: 0, ready: 0 }, old: { total: 0, ready: 0 }, killing: 0 };
  for (const r of rows) {
    if (r.killing) s.killing += r.n;
    else {
      const bucket = r.current ? s.current : s.old;
      bucket.total += r.n;
      if (r.ready) bucket.ready += r.n;
    }
  }
  return s;
}

/**
 * Picks `count` tasks to kill: tasks not yet running go first (they give no capacity), then
 * unhealthy ones, then those whose health is not known yet, then by the app's killSelection.
 * `current` selects the target version's tasks or the others.
 */
function pickKills(db: ClusterDb, appId: string, version: string, current: boolean, count: number, app: App | undefined): string[] {
  if (count <= 0) return [];
  const order = app?.killSelection === "OLDEST_FIRST" ? asc(tasks.stagedAt) : desc(tasks.stagedAt);
  const versionCond = current ? eq(tasks.version, version) : sql`${tasks.version} != ${version}`;
  return db
    .select({ id: tasks.id })
    .from(tasks)
    .where(and(eq(tasks.framework, MARATHON), eq(tasks.group, appId), isNull(tasks.endedAt), isNull(tasks.killRequestedAt), versionCond))
    .orderBy(sql`${tasks.state} = 'TASK_RUNNING'`, sql`coalesce(${tasks.healthy} * 2, 1)`, order)
    .limit(count)
    .all()
    .map((r) => r.id);
}

/** The launch request for `count` more instances of an app. */
export function launchRequest(app: App, count: number): TaskRequest {
  const { cpus, mem, disk, gpus } = app;
  const docker = taskDriver(app) === "docker" ? app.container?.docker : undefined;
  const hostAccess = hostAccessOf({
    user: app.user,
    privileged: docker?.privileged,
    parameters: docker?.parameters,
    volumes: docker ? app.container?.volumes : undefined,
  });
  return {
    framework: MARATHON,
    group: app.id,
    count,
    cpus,
    mem,
    disk,
    gpus,
    ports: hostPortRequest(app),
    constraints: appConstraints(app),
    driver: taskDriver(app),
    roles: app.acceptedResourceRoles,
    hostAccess,
  };
}

/**
 * Marathon's demand: for every app, what to launch and kill to move toward its target; for
 * every stopping app, what is left to kill. Launches wait out the app's backoff delay, and an
 * app being deployed neither launches nor replaces while an app it depends on is being
 * deployed too (it may still scale down).
 * Deployments that complete in this round no longer hold their dependents back, so a
 * dependent starts in the same round its dependencies finish.
 */
export function marathonDemand(db: ClusterDb, now: number): MarathonDemand {
  const out: MarathonDemand = { requests: [], kills: [], completed: [], wakeAt: null };
  const deploymentsByApp = new Map(listDeployments(db).map((d) => [d.appId, d]));
  const seen = new Set<string>();
  const decided = listApps(db).map((stored) => {
    seen.add(stored.id);
    const target = { version: stored.version, instances: stored.app.instances, upgradeStrategy: stored.app.upgradeStrategy };
    return { stored, d: decide(target, summarize(db, stored.id, stored.version, readyRule(stored.app))) };
  });
  // Stop deployments and tasks of apps that no longer exist: kill what is left.
  for (const group of orphanGroups(db, seen)) {
    const d = decideStop(summarize(db, group, null));
    apply(db, out, group, "", d, undefined, deploymentsByApp.get(group));
  }
  for (const [appId, deployment] of deploymentsByApp) {
    if (!seen.has(appId) && !out.completed.includes(deployment) && decideStop(summarize(db, appId, null)).complete) out.completed.push(deployment);
  }
  const finishing = new Set([...out.completed, ...decided.filter((x) => x.d.complete).flatMap((x) => deploymentsByApp.get(x.stored.id) ?? [])]);
  const deploying = [...deploymentsByApp.values()].filter((d) => !finishing.has(d)).map((d) => d.appId);
  for (const { stored, d: decision } of decided) {
    const deployment = deploymentsByApp.get(stored.id);
    const held = deployment !== undefined && !decision.complete && waitsForDependencies({ id: stored.id, dependencies: stored.app.dependencies }, deploying);
    // A held app neither starts its new version nor stops its old one, but a scale-down goes
    // ahead: what it frees may be what a dependency waits for.
    const d = held ? { ...decision, launch: 0, killOld: 0 } : decision;
    apply(db, out, stored.id, stored.version, d, stored.app, deployment);
    if (d.launch > 0) {
      if (stored.delayUntil !== null && stored.delayUntil > now) out.wakeAt = Math.min(out.wakeAt ?? Infinity, stored.delayUntil);
      else out.requests.push({ request: launchRequest(stored.app, d.launch), app: stored });
    }
  }
  return out;
}

function apply(
  db: ClusterDb,
  out: MarathonDemand,
  appId: string,
  version: string,
  d: Decision,
  app: App | undefined,
  deployment: DeploymentRecord | undefined,
): void {
  out.kills.push(...pickKills(db, appId, version, false, d.killOld, app), ...pickKills(db, appId, version, true, d.killCurrent, app));
  if (d.complete && deployment) out.completed.push(deployment);
}

/**
 * Marathon's groups with a live task, read through the tasks_group index (framework, group_id,
 * ended_at) by skipping from group to group: one seek for the next group and one for a live
 * task in it, whatever its ended tasks. Read once per object (see orphanGroups).
 */
const LIVE_GROUPS = `WITH RECURSIVE g(grp) AS (
    SELECT min(group_id) FROM tasks WHERE framework = ?1
    UNION ALL
    SELECT (SELECT min(group_id) FROM tasks WHERE framework = ?1 AND group_id > g.grp) FROM g WHERE g.grp IS NOT NULL
  )
  SELECT grp FROM g WHERE grp IS NOT NULL AND EXISTS (SELECT 1 FROM tasks t WHERE t.framework = ?1 AND t.group_id = g.grp AND t.ended_at IS NULL)`;
const LIVE_IN_GROUP = "SELECT 1 FROM tasks WHERE framework = ? AND group_id = ? AND ended_at IS NULL LIMIT 1";
const APP_EXISTS = "SELECT 1 FROM apps WHERE id = ?";

const liveGroups = (db: ClusterDb) =>
  db.$client.sql
    .exec<{ grp: string }>(LIVE_GROUPS, MARATHON)
    .toArray()
    .map((r) => r.grp);
const hasLive = (db: ClusterDb, group: string) => db.$client.sql.exec(LIVE_IN_GROUP, MARATHON, group).toArray().length > 0;
const appExists = (db: ClusterDb, id: string) => db.$client.sql.exec(APP_EXISTS, id).toArray().length > 0;

/**
 * Groups with live Marathon tasks but no app: deleted apps still being stopped. Tasks are only
 * launched for an app, so a group becomes one only when its app is deleted (deleteApp notes it):
 * every group with a live task is read once per object, then a round checks only the groups
 * noted, not every group the tasks table still holds (a removed app's ended tasks stay a while,
 * so that grew with every app ever removed). A group leaves the set once what is stored says it
 * has an app or no live task, checked after the round's transaction (it may roll back); so is
 * the first read, which may be made inside one.
 */
function orphanGroups(db: ClusterDb, apps: Set<string>): string[] {
  let candidates = orphanCandidates.get(db);
  if (candidates === undefined) {
    const all = new Set(liveGroups(db));
    candidates = all;
    orphanCandidates.set(db, all);
    queueMicrotask(() => {
      for (const group of liveGroups(db)) all.add(group);
    });
  }
  const orphans = [...candidates].filter((g) => !apps.has(g) && hasLive(db, g));
  if (orphans.length < candidates.size) {
    const settled = candidates;
    queueMicrotask(() => {
      for (const group of settled) if (appExists(db, group) || !hasLive(db, group)) settled.delete(group);
    });
  }
  return orphans;
}
