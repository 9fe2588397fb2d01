import { sql } from "drizzle-orm";
import type { ClusterDb } from "../../db.ts";
import { liveTasks, type TaskRecord } from "../../tasks.ts";
import type { App } from "./app-definition.ts";
import { getApp, type StoredApp } from "./apps.ts";
import { MARATHON } from "./demand.ts";
import { currentStep, deploymentSteps, listDeployments } from "./deployments.ts";
import type { CheckHealth } from "./health-state.ts";
import { healthOf, readinessResults, type ReadinessCheckResult } from "./health.ts";

/**
 * `GET /v2/deployments` (Marathon's `examples/deployments.json`), plus DCX's `waiting`: why a
 * deployment has not finished. Marathon leaves users to find that out from the queue and the
 * tasks; a deployment whose new version never passes its health checks is the case that
 * needs it most.
 */

/**
 * Why a task of the version being deployed does not count as ready yet, or null when it does.
 * The reasons are short, so that instances failing alike are counted under one.
 */
export function unreadyReason(
  task: Pick<TaskRecord, "state" | "healthy">,
  app: App,
  health: ReadonlyMap<number, CheckHealth> | undefined,
  readiness: readonly ReadinessCheckResult[],
): string | null {
  if (task.state !== "TASK_RUNNING") return `not running yet (${task.state})`;
  if (app.healthChecks.length > 0 && task.healthy !== true) {
    const failing = app.healthChecks.findIndex((_, i) => {
      const check = health?.get(i);
      return check !== undefined && !check.alive && check.lastFailure !== null;
    });
    if (failing < 0) return "no health check passed yet";
    return `health check ${failing} (${app.healthChecks[failing]?.protocol}) failing: ${health?.get(failing)?.lastFailureCause}`;
  }
  for (const rc of app.readinessChecks ?? []) {
    const result = readiness.find((r) => r.name === rc.name);
    if (result?.ready === true) continue;
    const status = result?.lastResponse === undefined ? "" : `: HTTP ${result.lastResponse.status}`;
    return `readiness check '${rc.name}' not ready${status}`;
  }
  return null;
}

/** Counts of the reasons the target version's live tasks are not ready. */
function unready(
  db: ClusterDb,
  stored: StoredApp,
  readiness: readonly ReadinessCheckResult[],
): { instances: number; reasons: Record<string, number> } | undefined {
  const fresh = liveTasks(db, { framework: MARATHON, group: stored.id }).filter((t) => t.version === stored.version && t.killRequestedAt === null);
  const health = healthOf(
    db,
    fresh.map((t) => t.id),
  );
  const reasons: Record<string, number> = {};
  let instances = 0;
  for (const t of fresh) {
    const reason = unreadyReason(
      t,
      stored.app,
      health.get(t.id),
      readiness.filter((r) => r.taskId === t.id),
    );
    if (reason === null) continue;
    instances++;
    reasons[reason] = (reasons[reason] ?? 0) + 1;
  }
  return instances > 0 ? { instances, reasons } : undefined;
}

/**
 * The newest counted health check failure of the version being deployed, among its live and
 * ended tasks: instances killed for failing stay the best explanation after they are gone.
 */
function lastHealthFailure(db: ClusterDb, appId: string, version: string): { taskId: string; cause: string; timestamp: string } | undefined {
  const [row] = db.all<{ taskId: string; cause: string; at: number }>(sql`
    SELECT h.task_id AS taskId, h.last_failure_cause AS cause, h.last_failure AS at
    FROM task_health h JOIN tasks t ON t.id = h.task_id
    WHERE t.framework = ${MARATHON} AND t.group_id = ${appId} AND t.version = ${version} AND h.last_failure IS NOT NULL
    ORDER BY h.last_failure DESC LIMIT 1`);
  return row === undefined ? undefined : { taskId: row.taskId, cause: row.cause, timestamp: new Date(row.at).toISOString() };
}

/** Why a deployment waits: instances that cannot be placed, a launch backoff, instances not ready. */
function waitingJson(db: ClusterDb, stored: StoredApp | undefined, readiness: readonly ReadinessCheckResult[], now: number) {
  if (stored === undefined) return undefined;
  const delayed = stored.delayUntil !== null && stored.delayUntil > now;
  const notReady = unready(db, stored, readiness);
  const healthFailure = stored.app.healthChecks.length > 0 ? lastHealthFailure(db, stored.id, stored.version) : undefined;
  if (!stored.waiting && !delayed && !notReady && !healthFailure) return undefined;
  return {
    instances: stored.waiting?.count ?? 0,
    reasons: stored.waiting?.reasons ?? {},
    ...(delayed ? { delayedUntil: new Date(stored.delayUntil ?? now).toISOString() } : {}),
    ...(notReady ? { unready: notReady } : {}),
    ...(healthFailure ? { lastHealthFailure: healthFailure } : {}),
  };
}

/**
 * Every deployment with its plan and progress. Each acts on one app; its current step is its
 * last (see `deploymentSteps`), and the current action carries the readiness results of the
 * version being deployed.
 */
export function deploymentsJson(db: ClusterDb, now: number) {
  return listDeployments(db).map((d) => {
    const steps = deploymentSteps(d).map((action) => ({ actions: [{ action, app: d.appId }] }));
    const stored = d.action === "StopApplication" ? undefined : getApp(db, d.appId);
    const readiness = stored ? readinessResults(db, stored.id, stored.version) : [];
    const waiting = waitingJson(db, stored, readiness, now);
    return {
      id: d.id,
      version: d.version,
      affectedApps: [d.appId],
      affectedPods: [],
      steps,
      currentActions: [{ action: deploymentSteps(d)[currentStep(d) - 1] ?? d.action, app: d.appId, readinessCheckResults: readiness }],
      currentStep: currentStep(d),
      totalSteps: steps.length,
      ...(waiting ? { waiting } : {}),
    };
  });
}
