import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { ReadinessResult, StatusUpdate } from "../../../../protocol/index.ts";
import type { ClusterDb } from "../../db.ts";
import type { EventBus } from "../../events.ts";
import { taskHealth, taskReadiness, tasks } from "../../schema.ts";
import { chunked, markKillRequested, setTaskHealthy, type TaskRecord } from "../../tasks.ts";
import type { App } from "./app-definition.ts";
import { getVersion } from "./apps.ts";
import { MARATHON } from "./demand.ts";
import { NO_RESULT, applyResult, overallHealth, shouldKill, type CheckHealth, type HealthRules } from "./health-state.ts";

/**
 * Health and readiness results of Marathon tasks: stored per task (so they survive a restart of
 * the object), turned into the task's overall health, events, and kills of tasks that failed
 * too often. Results only ever arrive from a connected agent, so a task whose agent the master
 * cannot hear is never killed for being unhealthy: no timer here judges silence.
 */

/** An applied status update that carries a check result, with the task as it now stands. */
export interface CheckUpdate {
  task: TaskRecord;
  update: StatusUpdate;
}

/** Whether an update reports a check result (and perhaps nothing else). */
export function isCheckResult(update: StatusUpdate): boolean {
  return update.healthy !== undefined || update.readiness !== undefined;
}

type Row = typeof taskHealth.$inferSelect;

/** Health rows of the given tasks, by task id and check index. */
export function healthOf(db: ClusterDb, taskIds: readonly string[]): Map<string, Map<number, CheckHealth>> {
  const out = new Map<string, Map<number, CheckHealth>>();
  for (const part of chunked([...new Set(taskIds)])) {
    for (const row of db.select().from(taskHealth).where(inArray(taskHealth.taskId, part)).all()) {
      const checks = out.get(row.taskId) ?? new Map<number, CheckHealth>();
      checks.set(row.check, toHealth(row));
      out.set(row.taskId, checks);
    }
  }
  return out;
}

/** Health rows of every live Marathon task (of one app), in one query however many tasks there are. */
export function liveHealth(db: ClusterDb, appId?: string): Map<string, Map<number, CheckHealth>> {
  const rows = db
    .select({ health: taskHealth })
    .from(taskHealth)
    .innerJoin(tasks, eq(tasks.id, taskHealth.taskId))
    .where(and(eq(tasks.framework, MARATHON), isNull(tasks.endedAt), appId === undefined ? undefined : eq(tasks.group, appId)))
    .all();
  const out = new Map<string, Map<number, CheckHealth>>();
  for (const { health: row } of rows) {
    const checks = out.get(row.taskId) ?? new Map<number, CheckHealth>();
    checks.set(row.check, toHealth(row));
    out.set(row.taskId, checks);
  }
  return out;
}

function toHealth(row: Row): CheckHealth {
  const { taskId: _t, check: _c, ...health } = row;
  return health;
}

function saveHealth(db: ClusterDb, taskId: string, check: number, state: CheckHealth): void {
  const row = { taskId, check, ...state };
  db.insert(taskHealth)
    .values(row)
    .onConflictDoUpdate({ target: [taskHealth.taskId, taskHealth.check], set: state })
    .run();
}

function saveReadiness(db: ClusterDb, taskId: string, result: ReadinessResult, at: number): void {
  const row = { taskId, name: result.name, ready: result.ready, lastResponse: result.lastResponse ?? null, updatedAt: at };
  db.insert(taskReadiness)
    .values(row)
    .onConflictDoUpdate({ target: [taskReadiness.taskId, taskReadiness.name], set: row })
    .run();
}

/**
 * One health result of a task whose check is not an app's (an external framework's
 * TaskInfo.health_check, check 0), counted and stored as an app task's is: the check's state
 * after it, and whether it counted (a failure in the grace period does not).
 */
export function recordCheckResult(
  db: ClusterDb,
  task: TaskRecord,
  update: StatusUpdate & { healthy: boolean },
  rules: HealthRules,
): { state: CheckHealth; counted: boolean } {
  const index = update.healthCheck ?? 0;
  const before = healthOf(db, [task.id]).get(task.id)?.get(index) ?? NO_RESULT;
  const result = applyResult(before, { healthy: update.healthy, cause: update.message, at: update.timestamp }, task.startedAt, rules);
  if (result.counted) saveHealth(db, task.id, index, result.state);
  return result;
}

/**
 * Applies one frame's check results. Failures in a row are counted per check; the kill
 * decision looks at each task's state after the whole frame, so a burst an agent resends after
 * a partition that ends in a success kills nothing. Returns the tasks it decided to kill.
 */
export function applyCheckResults(db: ClusterDb, events: EventBus, results: readonly CheckUpdate[], now: number): TaskRecord[] {
  const marathon = results.filter((r) => r.task.framework === MARATHON);
  if (marathon.length === 0) return [];
  const versions = new Map<string, App | undefined>();
  const appOf = (t: TaskRecord): App | undefined => {
    const key = `${t.group}\n${t.version}`;
    if (!versions.has(key)) versions.set(key, getVersion(db, t.group, t.version));
    return versions.get(key);
  };
  const health = healthOf(
    db,
    marathon.filter((r) => r.update.healthy !== undefined).map((r) => r.task.id),
  );
  const touched = new Map<string, { task: TaskRecord; app: App }>();
  for (const { task, update } of marathon) {
    // Tasks of a deleted app are being stopped; their results no longer matter.
    const app = appOf(task);
    if (app === undefined) continue;
    const readiness = update.readiness;
    if (readiness !== undefined && (app.readinessChecks ?? []).some((rc) => rc.name === readiness.name))
      saveReadiness(db, task.id, readiness, update.timestamp);
    const index = update.healthCheck ?? 0;
    const rules = app.healthChecks[index];
    if (update.healthy === undefined || rules === undefined) continue;
    const checks = health.get(task.id) ?? new Map<number, CheckHealth>();
    health.set(task.id, checks);
    const { state, counted } = applyResult(
      checks.get(index) ?? NO_RESULT,
      { healthy: update.healthy, cause: update.message, at: update.timestamp },
      task.startedAt,
      rules,
    );
    checks.set(index, state);
    saveHealth(db, task.id, index, state);
    if (counted && !update.healthy) {
      events.emit("failed_health_check_event", { appId: task.group, taskId: task.id, instanceId: task.id, version: task.version, healthCheck: rules }, now);
    }
    touched.set(task.id, { task, app });
  }
  const kills = [...touched.values()].flatMap(({ task, app }) => judge(db, events, task, app, health.get(task.id) ?? new Map(), now));
  return markKillRequested(db, kills, now);
}

/** Updates a task's overall health from its checks; returns its id when it must be killed. */
function judge(db: ClusterDb, events: EventBus, task: TaskRecord, app: App, checks: ReadonlyMap<number, CheckHealth>, now: number): string[] {
  const healthy = overallHealth(checks, app.healthChecks.length);
  if (healthy !== task.healthy) {
    setTaskHealthy(db, task.id, healthy);
    events.emit(
      "health_status_changed_event",
      { appId: task.group, taskId: task.id, instanceId: task.id, version: task.version, alive: healthy === true },
      now,
    );
    // Marathon's newer event for the same change; `healthy` is null while nothing is known.
    events.emit("instance_health_changed_event", { instanceId: task.id, runSpecId: task.group, runSpecVersion: task.version, healthy }, now);
  }
  const failing = app.healthChecks.findIndex((rules, i) => {
    const check = checks.get(i);
    return check !== undefined && shouldKill(check, rules);
  });
  if (failing < 0 || task.killRequestedAt !== null || task.endedAt !== null) return [];
  const check = checks.get(failing);
  const reason = `${check?.consecutiveFailures} consecutive failures of health check ${failing} (${app.healthChecks[failing]?.protocol}): ${check?.lastFailureCause}`;
  events.emit(
    "unhealthy_instance_kill_event",
    { appId: task.group, taskId: task.id, instanceId: task.id, version: task.version, reason, host: task.host, slaveId: task.agentId },
    now,
  );
  return [task.id];
}

/** Marathon's `ReadinessCheckResult`, as deployments show it. */
export interface ReadinessCheckResult {
  name: string;
  taskId: string;
  ready: boolean;
  lastResponse?: { status: number; contentType: string; body: string };
}

/** The readiness results of an app's live tasks of one version, oldest task first. */
export function readinessResults(db: ClusterDb, appId: string, version: string): ReadinessCheckResult[] {
  const rows = db.all<{ name: string; taskId: string; ready: number; lastResponse: string | null }>(sql`
    SELECT r.name AS name, r.task_id AS taskId, r.ready AS ready, r.last_response AS lastResponse
    FROM task_readiness r JOIN tasks t ON t.id = r.task_id
    WHERE t.framework = ${MARATHON} AND t.group_id = ${appId} AND t.version = ${version} AND t.ended_at IS NULL
    ORDER BY t.staged_at, r.name`);
  return rows.map((r) => ({
    name: r.name,
    taskId: r.taskId,
    ready: r.ready === 1,
    ...(r.lastResponse === null ? {} : { lastResponse: JSON.parse(r.lastResponse) as ReadinessCheckResult["lastResponse"] }),
  }));
}

/** Forgets the results of tasks that are gone from the task table (collected after they ended). */
export function forgetCheckResults(db: ClusterDb): void {
  db.run(sql`DELETE FROM task_health WHERE task_id NOT IN (SELECT id FROM tasks)`);
  db.run(sql`DELETE FROM task_readiness WHERE task_id NOT IN (SELECT id FROM tasks)`);
}
