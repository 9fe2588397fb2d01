import type { ErrorCode } from "../../../errors.ts";
import type { ClusterDb } from "../../db.ts";
import { assignServicePorts, ServicePortError } from "../../allocator/ports.ts";
import { revive } from "../../allocator/filters.ts";
import type { EventBus } from "../../events.ts";
import type { LaunchedTask } from "../framework.ts";
import { getTask, markKillRequested, type TaskRecord } from "../../tasks.ts";
import { mergeAppPatch, type App } from "./app-definition.ts";
import { dependencyProblems, type PreviousDependencies } from "./dependencies.ts";
import { deleteApp, getApp, listAppIds, listApps, nextVersion, resetDelay, saveApp, servicePortsInUse, type StoredApp } from "./apps.ts";
import { MARATHON, summarize } from "./demand.ts";
import {
  abortDeployment,
  announceDeployment,
  createDeployment,
  deploymentForApp,
  getDeployment,
  removeDeployment,
  type DeploymentAction,
  type DeploymentRecord,
} from "./deployments.ts";
import { ROOT_GROUP, inGroup } from "./group-tree.ts";
import { appNetwork } from "./app-network.ts";
import { servicePorts, withServicePortsSet } from "./task-ports.ts";
import { assignVipAddresses } from "../../vips/addresses.ts";
import { missingSecretDetails } from "../../secrets.ts";

/**
 * The Marathon API's mutations, each run inside one storage transaction by the Cluster
 * object, which then runs an allocation round and sends what it produced. Failures come back
 * as values (not exceptions) so the Worker can render them with the right status.
 */

export interface Failure {
  ok: false;
  code: ErrorCode;
  message: string;
  details?: unknown[];
  /** For 409: the deployments holding the app (Marathon lists them). */
  deployments?: { id: string }[];
}
export type Outcome<T> = { ok: true; value: T } | Failure;

export interface DeploymentResult {
  deploymentId: string;
  version: string;
  created?: boolean;
}

export interface CommandContext {
  db: ClusterDb;
  events: EventBus;
  now: number;
  /** Tasks killed by the command itself, to send with the round's frames. */
  killed: TaskRecord[];
  /** Tasks launched by the command itself (an external framework's ACCEPT), likewise. */
  launched: LaunchedTask[];
}

export const fail = (code: ErrorCode, message: string, extra: Partial<Failure> = {}): Failure => ({ ok: false, code, message, ...extra });
const notFound = (id: string) => fail("not_found", `App '${id}' does not exist`);

/** Marathon's 409 for apps held by deployments, naming them. */
export function locked(held: readonly DeploymentRecord[]): Failure {
  const ids = held.map((d) => d.id);
  return fail(
    "conflict",
    `App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/${ids.join(",")}'.`,
    {
      deployments: ids.map((id) => ({ id })),
    },
  );
}

/** Marathon's 409 for an app held by a deployment, unless `force`; with `force` the old deployment is dropped. */
function takeLock(ctx: CommandContext, appId: string, force: boolean): Failure | undefined {
  const held = deploymentForApp(ctx.db, appId);
  if (!held) return undefined;
  if (!force) return locked([held]);
  abortDeployment(ctx.db, ctx.events, held, "superseded by a forced change", ctx.now);
  return undefined;
}

/**
 * Gives every port definition (or, on a bridge network, every port mapping) a service port:
 * unique cluster-wide, kept across updates.
 */
function withServicePorts(ctx: CommandContext, app: App, previous: App | undefined): Outcome<App> {
  const before = previous ? servicePorts(previous) : [];
  const bridge = appNetwork(app) === "BRIDGE";
  const requested = servicePorts(app).map((port, i) => (port === 0 && (bridge || !app.requirePorts) ? (before[i] ?? 0) : port));
  try {
    return { ok: true, value: withServicePortsSet(app, assignServicePorts(requested, servicePortsInUse(ctx.db, app.id))) };
  } catch (err) {
    if (!(err instanceof ServicePortError)) throw err;
    const path = bridge ? `/container/portMappings/${err.index}/servicePort` : `/portDefinitions/${err.index}/port`;
    return fail("invalid", "Object is not valid", { details: [{ path, errors: [err.message] }] });
  }
}

/** Addresses for the app's named VIPs, and its IP VIPs checked against the cluster's range: a 422 at the label refused. */
function vipFailure(ctx: CommandContext, app: App): Failure | undefined {
  const refused = assignVipAddresses(ctx.db, app);
  if (refused === undefined) return undefined;
  const field = appNetwork(app) === "BRIDGE" ? "/container/portMappings" : "/portDefinitions";
  return fail("invalid", "Object is not valid", {
    details: [{ path: `${field}/${refused.label.portIndex}/labels/${refused.label.key}`, errors: [refused.message] }],
  });
}

/** A 422 at `/secrets/<name>/source` for each secret the app names that the store does not hold. */
function secretFailure(ctx: CommandContext, app: App): Failure | undefined {
  const details = missingSecretDetails(ctx.db, app);
  return details.length > 0 ? fail("invalid", "Object is not valid", { details }) : undefined;
}

function startDeployment(ctx: CommandContext, stored: StoredApp, action: DeploymentAction, previous: App | null): DeploymentRecord {
  const d = createDeployment(ctx.db, { appId: stored.id, action, version: stored.version, previous, createdAt: ctx.now });
  revive(ctx.db, MARATHON, ctx.now);
  announceDeployment(ctx.events, d, stored.app, ctx.now);
  return d;
}

/**
 * Marathon's rule that a group and an app never share an id: groups being implied by app ids,
 * a new app may neither lie inside an app (`/web/api` beside `/web`) nor be a group (`/prod`
 * beside `/prod/web`). Otherwise deleting the group `/web` would leave the app `/web` behind.
 */
function groupClash(ctx: CommandContext, id: string): Failure | undefined {
  const other = listAppIds(ctx.db).find((o) => inGroup(id, o) || inGroup(o, id));
  if (other === undefined) return undefined;
  const why = inGroup(id, other) ? `it would lie inside the app ${other}` : `the app ${other} lies inside it`;
  return fail("invalid", "Object is not valid", { details: [{ path: "/id", errors: [`Groups and Applications may not have the same identifier: ${why}`] }] });
}

/**
 * A 422 when the dependencies of the apps `ids`, as stored now, form a cycle or newly name
 * nothing (`previous`: what they depended on before the change). `pathOf` gives the body path
 * of each app's definition (the app's own body: none).
 */
export function dependencyFailure(
  ctx: CommandContext,
  ids: readonly string[],
  pathOf: (id: string) => string = () => "",
  previous?: PreviousDependencies,
): Failure | undefined {
  const problems = dependencyProblems(
    listApps(ctx.db).map((a) => a.app),
    new Set(ids),
    previous,
  );
  if (problems.length === 0) return undefined;
  return fail("invalid", "Object is not valid", { details: problems.map((p) => ({ path: `${pathOf(p.appId)}/dependencies/${p.index}`, errors: [p.error] })) });
}

/** `POST /v2/apps`. */
export function createApp(ctx: CommandContext, app: App, checkDependencies = true): Outcome<DeploymentResult & { stored: StoredApp }> {
  if (getApp(ctx.db, app.id)) return fail("conflict", `An app with id [${app.id}] already exists.`);
  const clash = groupClash(ctx, app.id);
  if (clash) return clash;
  const ported = withServicePorts(ctx, app, undefined);
  if (!ported.ok) return ported;
  const unusable = vipFailure(ctx, ported.value) ?? secretFailure(ctx, ported.value);
  if (unusable) return unusable;
  const stored = saveApp(ctx.db, ported.value, nextVersion(ctx.now), "create");
  ctx.events.emit("api_post_event", { appDefinition: stored.app, uri: `/v2/apps${app.id}` }, ctx.now);
  const d = startDeployment(ctx, stored, "StartApplication", null);
  // Only an app with dependencies can name nothing or close a cycle; the rest skip the read.
  const unmet = checkDependencies && (app.dependencies?.length ?? 0) > 0 ? dependencyFailure(ctx, [app.id]) : undefined;
  if (unmet) return unmet;
  return { ok: true, value: { deploymentId: d.id, version: stored.version, stored, created: true } };
}

/** `PUT /v2/apps/{id}`: replaces the app, or creates it. A change of `instances` alone is a scale. */
export function replaceApp(ctx: CommandContext, app: App, force: boolean, checkDependencies = true): Outcome<DeploymentResult> {
  const current = getApp(ctx.db, app.id);
  if (!current) {
    const created = createApp(ctx, app, checkDependencies);
    return created.ok ? { ok: true, value: { deploymentId: created.value.deploymentId, version: created.value.version, created: true } } : created;
  }
  const locked = takeLock(ctx, app.id, force);
  if (locked) return locked;
  const ported = withServicePorts(ctx, app, current.app);
  if (!ported.ok) return ported;
  const unusable = vipFailure(ctx, ported.value) ?? secretFailure(ctx, ported.value);
  if (unusable) return unusable;
  const scaleOnly = sameExceptInstances(current.app, ported.value);
  const stored = saveApp(ctx.db, ported.value, nextVersion(ctx.now, current.version), scaleOnly ? "scaling" : "config");
  ctx.events.emit("api_post_event", { appDefinition: stored.app, uri: `/v2/apps${app.id}` }, ctx.now);
  const d = startDeployment(ctx, stored, scaleOnly ? "ScaleApplication" : "RestartApplication", current.app);
  // Only an app with dependencies can name nothing or close a cycle; the rest skip the read.
  const unmet =
    checkDependencies && (app.dependencies?.length ?? 0) > 0
      ? dependencyFailure(ctx, [app.id], undefined, new Map([[app.id, current.app.dependencies]]))
      : undefined;
  if (unmet) return unmet;
  return { ok: true, value: { deploymentId: d.id, version: stored.version } };
}

/** `PATCH /v2/apps/{id}` (and `PUT` with `partialUpdate=true`): merges onto the stored app, then replaces. */
export function patchApp(ctx: CommandContext, id: string, patch: unknown, force: boolean): Outcome<DeploymentResult> {
  const current = getApp(ctx.db, id);
  if (!current) return notFound(id);
  const merged = mergeAppPatch(current.app, { ...(patch as object), id });
  if (!merged.ok) return fail("invalid", "Object is not valid", { details: merged.details });
  return replaceApp(ctx, merged.app, force);
}

/** Whether two definitions of an app differ in nothing but their instance count. */
export function sameExceptInstances(a: App, b: App): boolean {
  const strip = ({ instances: _i, version: _v, ...rest }: App) => rest;
  return canonicalJson(strip(a)) === canonicalJson(strip(b));
}

/** JSON with every object's keys sorted: two definitions that differ only in key order are equal. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : v,
  );
}

/** `DELETE /v2/apps/{id}`: the app is gone at once; a stop deployment kills its tasks. */
export function removeApp(ctx: CommandContext, id: string, force: boolean): Outcome<DeploymentResult> {
  const current = getApp(ctx.db, id);
  if (!current) return notFound(id);
  const locked = takeLock(ctx, id, force);
  if (locked) return locked;
  deleteApp(ctx.db, id);
  const d = startDeployment(ctx, current, "StopApplication", current.app);
  return { ok: true, value: { deploymentId: d.id, version: current.version } };
}

/**
 * `DELETE /v2/groups/{id}`: removes every app inside the group as `DELETE /v2/apps/{id}` does
 * each, so each gets its own stop deployment (a DCX deployment acts on one app). The caller's
 * one transaction holds them all: a 409 for any app leaves every app in place. `deploymentId`
 * is the first app's stop; `deploymentIds` lists them all. The root group may hold no app: the
 * result then names a deployment that has nothing to do and so never shows as running.
 */
export function removeGroup(ctx: CommandContext, groupId: string, force: boolean): Outcome<DeploymentResult & { deploymentIds: string[] }> {
  const ids = listAppIds(ctx.db)
    .filter((id) => inGroup(id, groupId))
    .sort();
  if (ids.length === 0 && groupId !== ROOT_GROUP) return fail("not_found", `Group '${groupId}' does not exist`);
  const held = ids.flatMap((id) => deploymentForApp(ctx.db, id) ?? []);
  if (held.length > 0 && !force) return locked(held);
  const deploymentIds: string[] = [];
  for (const id of ids) {
    const removed = removeApp(ctx, id, force);
    if (!removed.ok) return removed;
    deploymentIds.push(removed.value.deploymentId);
  }
  return { ok: true, value: { deploymentId: deploymentIds[0] ?? crypto.randomUUID(), version: nextVersion(ctx.now), deploymentIds } };
}

/** `POST /v2/apps/{id}/restart`: a new version of the same definition, rolled out under upgradeStrategy. */
export function restartApp(ctx: CommandContext, id: string, force: boolean): Outcome<DeploymentResult> {
  const current = getApp(ctx.db, id);
  if (!current) return notFound(id);
  const locked = takeLock(ctx, id, force);
  if (locked) return locked;
  const stored = saveApp(ctx.db, current.app, nextVersion(ctx.now, current.version), "config");
  const d = startDeployment(ctx, stored, "RestartApplication", current.app);
  return { ok: true, value: { deploymentId: d.id, version: stored.version } };
}

/**
 * Kills tasks by id. Without `scale` they are replaced; with `scale` the app's instance count
 * goes down by as many (a scale deployment). Every id must be a live task of an app.
 */
export function killTasks(ctx: CommandContext, ids: string[], scale: boolean, appId?: string): Outcome<{ tasks: TaskRecord[]; deployment?: DeploymentResult }> {
  const found: TaskRecord[] = [];
  for (const id of ids) {
    const t = getTask(ctx.db, id);
    if (!t || t.framework !== MARATHON || t.endedAt !== null || (appId !== undefined && t.group !== appId)) {
      return fail(ids.length > 1 ? "malformed" : "not_found", `Task '${id}' does not exist${appId ? ` in app '${appId}'` : ""}`);
    }
    found.push(t);
  }
  ctx.killed.push(...markKillRequested(ctx.db, ids, ctx.now));
  if (!scale) return { ok: true, value: { tasks: found } };
  let last: DeploymentResult | undefined;
  for (const [group, n] of countBy(found.map((t) => t.group))) {
    const current = getApp(ctx.db, group);
    if (!current) continue;
    const stored = saveApp(ctx.db, { ...current.app, instances: Math.max(0, current.app.instances - n) }, nextVersion(ctx.now, current.version), "scaling");
    const existing = deploymentForApp(ctx.db, group);
    if (existing) removeDeployment(ctx.db, existing.id);
    const d = startDeployment(ctx, stored, "ScaleApplication", current.app);
    last = { deploymentId: d.id, version: stored.version };
  }
  return { ok: true, value: { tasks: found, deployment: last } };
}

function countBy(keys: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

/**
 * `DELETE /v2/deployments/{id}`: with `force`, just forget it (tasks are left as they are);
 * otherwise roll back to the app as it was before, as a new deployment.
 */
export function cancelDeployment(ctx: CommandContext, id: string, force: boolean): Outcome<DeploymentResult | null> {
  const d = getDeployment(ctx.db, id);
  if (!d) return fail("not_found", `DeploymentPlan ${id} does not exist`);
  abortDeployment(ctx.db, ctx.events, d, force ? "canceled" : "rolled back", ctx.now);
  if (force) return { ok: true, value: null };
  const current = getApp(ctx.db, d.appId);
  if (d.previous === null) {
    if (!current) return { ok: true, value: null };
    deleteApp(ctx.db, d.appId);
    const stop = startDeployment(ctx, current, "StopApplication", current.app);
    return { ok: true, value: { deploymentId: stop.id, version: current.version } };
  }
  // As Marathon does, the app goes back to its old version itself: tasks still running it are
  // up to date, so the rollback only removes what the canceled deployment started.
  const version = typeof d.previous.version === "string" ? d.previous.version : nextVersion(ctx.now, current?.version);
  const stored = saveApp(ctx.db, d.previous, version, "config");
  const rollback = startDeployment(ctx, stored, current ? "RestartApplication" : "StartApplication", current?.app ?? null);
  return { ok: true, value: { deploymentId: rollback.id, version: stored.version } };
}

/**
 * `DELETE /v2/queue/{id}/delay`: as in Marathon, any app in the launch queue (delayed, waiting
 * for resources, or short of instances) may have its delay reset, whether or not it is delayed now.
 */
function inLaunchQueue(ctx: CommandContext, app: StoredApp): boolean {
  if (app.delayUntil !== null && app.delayUntil > ctx.now) return true;
  return app.waiting !== null || summarize(ctx.db, app.id, app.version).current.total < app.app.instances;
}

export function resetAppDelay(ctx: CommandContext, id: string): Outcome<null> {
  const current = getApp(ctx.db, id);
  if (!current || !inLaunchQueue(ctx, current)) return fail("not_found", `Application ${id} not found in tasks queue.`);
  resetDelay(ctx.db, current);
  revive(ctx.db, MARATHON, ctx.now);
  return { ok: true, value: null };
}
