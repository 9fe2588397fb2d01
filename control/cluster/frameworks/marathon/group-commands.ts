import type { FieldError } from "../../../../protocol/messages.ts";
import type { ClusterDb } from "../../db.ts";
import type { App } from "./app-definition.ts";
import { getApp, listApps, nextVersion, type StoredApp } from "./apps.ts";
import {
  createApp,
  fail,
  locked,
  removeApp,
  replaceApp,
  sameExceptInstances,
  type CommandContext,
  type DeploymentResult,
  type Failure,
  type Outcome,
} from "./commands.ts";
import { dependencyProblems } from "./dependencies.ts";
import { deploymentForApp, type DeploymentAction } from "./deployments.ts";
import { type GroupSpec, specApps } from "./group-body.ts";
import { ROOT_GROUP, inGroup, parentGroup } from "./group-tree.ts";

/**
 * `POST` and `PUT /v2/groups`: a group body becomes what `/v2/apps` would do to each app inside,
 * in the caller's one transaction, so a failure for any app leaves every app as it was. A DCX
 * deployment acts on one app, so a group change gives one deployment per app it touches.
 */

export type GroupResult = DeploymentResult & { deploymentIds: string[] };

/** One app a group change touches, and how (Marathon's deployment actions). */
export interface GroupAction {
  action: DeploymentAction;
  app: string;
}

/** What a group body changes: apps to stop, and definitions to start or replace. */
interface GroupPlan {
  stops: string[];
  puts: { app: App; at: string; action: DeploymentAction }[];
}

const invalid = (details: FieldError[]): Failure => fail("invalid", "Object is not valid", { details });

/** `POST /v2/groups`: creates every app of the body. 409 when the group or an app of that id exists. */
export function createGroup(ctx: CommandContext, spec: GroupSpec): Outcome<GroupResult> {
  const stored = listApps(ctx.db);
  const ids = stored.map((a) => a.id);
  if (spec.id === ROOT_GROUP || ids.some((id) => inGroup(id, spec.id)))
    return fail("conflict", `Group ${spec.id} is already created. Use PUT to change this group.`);
  if (ids.includes(spec.id)) return fail("conflict", `An app with the path ${spec.id} already exists.`);
  if (specApps(spec).length === 0) {
    return invalid([
      {
        path: "/apps",
        errors: ["a new group needs at least one app: DCX groups are implied by the ids of the apps inside them, so an empty group would not exist"],
      },
    ]);
  }
  const plan = planGroup(stored, spec);
  return planProblem(stored, plan) ?? applyPlan(ctx, plan, false);
}

/** `PUT /v2/groups/{id}`: creates, replaces and removes apps so the group holds what the body gives. */
export function updateGroup(ctx: CommandContext, spec: GroupSpec, force: boolean): Outcome<GroupResult> {
  const stored = listApps(ctx.db);
  const plan = planGroup(stored, spec);
  return planProblem(stored, plan) ?? applyPlan(ctx, plan, force);
}

/**
 * `PUT /v2/groups/{id}?dryRun=true`: Marathon's `{steps}` for a change (a spec) or a scale (a
 * group id and factor), writing nothing.
 */
export function groupDryRun(db: ClusterDb, change: GroupSpec | { id: string; scaleBy: number }): Outcome<{ steps: { actions: GroupAction[] }[] }> {
  const stored = listApps(db);
  if ("scaleBy" in change) {
    const plan = scalePlan(stored, change.id, change.scaleBy);
    return plan ? { ok: true, value: { steps: planSteps(plan) } } : unknownGroup(change.id);
  }
  const plan = planGroup(stored, change);
  return planProblem(stored, plan) ?? { ok: true, value: { steps: planSteps(plan) } };
}

/** `PUT /v2/groups/{id}` with `{scaleBy}`: every app inside gets `ceil(instances × factor)`, as in Marathon. */
export function scaleGroup(ctx: CommandContext, groupId: string, factor: number, force: boolean): Outcome<GroupResult> {
  const plan = scalePlan(listApps(ctx.db), groupId, factor);
  return plan ? applyPlan(ctx, plan, force) : unknownGroup(groupId);
}

const unknownGroup = (id: string) => fail("not_found", `Group '${id}' does not exist`);

/** The scale of every app inside a group whose instance count changes; undefined when there is no such group. */
function scalePlan(stored: readonly StoredApp[], groupId: string, factor: number): GroupPlan | undefined {
  const inside = stored.filter((a) => inGroup(a.id, groupId));
  if (inside.length === 0 && groupId !== ROOT_GROUP) return undefined;
  const puts = inside.flatMap((a): GroupPlan["puts"] => {
    const instances = Math.ceil(a.app.instances * factor);
    return instances === a.app.instances ? [] : [{ app: { ...a.app, instances }, at: "", action: "ScaleApplication" }];
  });
  return { stops: [], puts };
}

/**
 * What a spec changes, against the stored apps. A group whose body gives `apps` loses its own
 * apps that are not among them; one that gives `groups` loses the subgroups not among them,
 * with every app inside. A definition equal to the stored one is left alone.
 */
function planGroup(stored: readonly StoredApp[], spec: GroupSpec): GroupPlan {
  const byId = new Map(stored.map((a) => [a.id, a]));
  const given = specApps(spec);
  const kept = new Set(given.map((g) => g.app.id));
  const stops = stored.map((a) => a.id).filter((id) => !kept.has(id) && dropped(spec, id));
  const puts = given.flatMap(({ app, at }): GroupPlan["puts"] => {
    const current = byId.get(app.id)?.app;
    if (!current) return [{ app, at, action: "StartApplication" }];
    if (sameDefinition(current, app)) return [];
    return [{ app, at, action: sameExceptInstances(current, withKeptPorts(current, app)) ? "ScaleApplication" : "RestartApplication" }];
  });
  return { stops, puts };
}

/** Whether the spec removes the stored app `id`: it lies in a group whose apps or subgroups the body lists without it. */
function dropped(spec: GroupSpec, id: string): boolean {
  if (!inGroup(id, spec.id)) return false;
  if (parentGroup(id) === spec.id) return spec.apps !== undefined;
  if (spec.groups === undefined) return false;
  const sub = spec.groups.find((g) => inGroup(id, g.id));
  return sub === undefined || dropped(sub, id);
}

/** The body's definition with the service ports DCX assigned kept where it asks for any (port 0). */
function withKeptPorts(current: App, next: App): App {
  return { ...next, portDefinitions: next.portDefinitions.map((p, i) => (p.port === 0 ? { ...p, port: current.portDefinitions[i]?.port ?? 0 } : p)) };
}

function sameDefinition(current: App, next: App): boolean {
  const strip = ({ version: _v, ...rest }: App) => rest;
  return JSON.stringify(strip(current)) === JSON.stringify(strip(withKeptPorts(current, next)));
}

/**
 * What makes a plan impossible, found on the apps as they would be: the same id twice in the
 * body, an app inside another app, a dependency that names nothing or closes a cycle.
 */
function planProblem(stored: readonly StoredApp[], plan: GroupPlan): Failure | undefined {
  const details: FieldError[] = [];
  const seen = new Set<string>();
  for (const { app, at } of plan.puts) {
    if (seen.has(app.id)) details.push({ path: `${at}/id`, errors: [`${app.id} appears more than once in the body`] });
    seen.add(app.id);
  }
  const after = [...stored.filter((a) => !plan.stops.includes(a.id) && !seen.has(a.id)).map((a) => a.app), ...plan.puts.map((p) => p.app)];
  for (const { app, at } of plan.puts) {
    const other = after.find((o) => inGroup(app.id, o.id) || inGroup(o.id, app.id));
    if (other) details.push({ path: `${at}/id`, errors: [`Groups and Applications may not have the same identifier: ${app.id} and the app ${other.id}`] });
  }
  const at = new Map(plan.puts.map((p) => [p.app.id, p.at]));
  const previous = new Map(stored.map((a) => [a.id, a.app.dependencies]));
  for (const p of dependencyProblems(after, seen, previous)) details.push({ path: `${at.get(p.appId) ?? ""}/dependencies/${p.index}`, errors: [p.error] });
  return details.length > 0 ? invalid(details) : undefined;
}

/** Marathon's deployment steps for a plan: stops, then starts, then scales and restarts (a start is then scaled up). */
function planSteps(plan: GroupPlan): { actions: GroupAction[] }[] {
  const of = (action: DeploymentAction, ids: string[]) => ids.map((app) => ({ action, app }));
  const starts = plan.puts.filter((p) => p.action === "StartApplication").map((p) => p.app.id);
  const rest = plan.puts.map((p) => ({ action: p.action === "StartApplication" ? ("ScaleApplication" as const) : p.action, app: p.app.id }));
  return [of("StopApplication", plan.stops), of("StartApplication", starts), rest].filter((actions) => actions.length > 0).map((actions) => ({ actions }));
}

/**
 * Runs a plan: 409 first if a deployment holds an app it touches (unless `force`), then the
 * stops, then each definition as `PUT /v2/apps/{id}` would (dependencies were checked on the
 * plan). Any failure rolls the caller's transaction back whole.
 */
function applyPlan(ctx: CommandContext, plan: GroupPlan, force: boolean): Outcome<GroupResult> {
  const touched = [...plan.stops, ...plan.puts.map((p) => p.app.id)];
  const held = touched.flatMap((id) => deploymentForApp(ctx.db, id) ?? []);
  if (held.length > 0 && !force) return locked(held);
  const deploymentIds: string[] = [];
  for (const id of plan.stops) {
    const r = removeApp(ctx, id, force);
    if (!r.ok) return r;
    deploymentIds.push(r.value.deploymentId);
  }
  for (const { app, at } of plan.puts) {
    const r = getApp(ctx.db, app.id) ? replaceApp(ctx, app, force, false) : createApp(ctx, app, false);
    if (!r.ok) return { ...r, details: r.details?.map((d) => ({ ...(d as FieldError), path: at + (d as FieldError).path })) };
    deploymentIds.push(r.value.deploymentId);
  }
  return { ok: true, value: { deploymentId: deploymentIds[0] ?? crypto.randomUUID(), version: nextVersion(ctx.now), deploymentIds } };
}
