import { asc, eq } from "drizzle-orm";
import type { ClusterDb } from "../../db.ts";
import { jsonColumn } from "../../sql-json.ts";
import { prepared } from "../../prepared.ts";
import type { EventBus } from "../../events.ts";
import { deployments } from "../../schema.ts";
import type { App } from "./app-definition.ts";
import { getApp } from "./apps.ts";

/** Marathon's deployment actions (`types/deploymentAction.raml`). */
export type DeploymentAction = "StartApplication" | "ScaleApplication" | "RestartApplication" | "StopApplication";

export interface DeploymentRecord {
  id: string;
  appId: string;
  action: DeploymentAction;
  /** The app version the deployment moves to (for a stop: the version being stopped). */
  version: string;
  /** The app before the deployment, for rollback; null when the deployment created the app. */
  previous: App | null;
  createdAt: number;
}

type Row = typeof deployments.$inferSelect;
const toRecord = (row: Row): DeploymentRecord => ({ ...row, action: row.action as DeploymentAction, previous: row.previous as App | null });

export function createDeployment(db: ClusterDb, d: Omit<DeploymentRecord, "id">): DeploymentRecord {
  const record = { ...d, id: crypto.randomUUID() };
  // Raw SQL: every app change writes one, and drizzle built the insert anew each time.
  db.$client.sql
    .exec(
      "INSERT INTO deployments (id, app_id, action, version, previous, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      record.id,
      record.appId,
      record.action,
      record.version,
      jsonColumn(record.previous),
      record.createdAt,
    )
    .toArray();
  return record;
}

/** The deployment holding an app, if any: one app is locked by at most one deployment. */
export function deploymentForApp(db: ClusterDb, appId: string): DeploymentRecord | undefined {
  const row = db.select().from(deployments).where(eq(deployments.appId, appId)).get();
  return row ? toRecord(row) : undefined;
}

export function getDeployment(db: ClusterDb, id: string): DeploymentRecord | undefined {
  const row = db.select().from(deployments).where(eq(deployments.id, id)).get();
  return row ? toRecord(row) : undefined;
}

// Every allocation round and app view reads the deployments: built once (prepared.ts).
const deploymentsInOrder = (db: ClusterDb) => db.select().from(deployments).orderBy(asc(deployments.createdAt)).prepare();

export function listDeployments(db: ClusterDb): DeploymentRecord[] {
  return prepared(db, deploymentsInOrder).all().map(toRecord);
}

export function removeDeployment(db: ClusterDb, id: string): void {
  db.delete(deployments).where(eq(deployments.id, id)).run();
}

/**
 * The steps of a deployment's plan, as Marathon plans them: a new app is started with no
 * instances, then scaled; every other deployment is one step. Starting takes nothing but the
 * write that creates the app, so a StartApplication deployment is on its second step from
 * the transaction that creates it on.
 */
export function deploymentSteps(d: Pick<DeploymentRecord, "action">): DeploymentAction[] {
  return d.action === "StartApplication" ? ["StartApplication", "ScaleApplication"] : [d.action];
}

/** The step a deployment is on (1-based): always its last, since only a start has two and the first is instant. */
export function currentStep(d: Pick<DeploymentRecord, "action">): number {
  return deploymentSteps(d).length;
}

const actionJson = (action: DeploymentAction, appId: string) => ({ action, app: appId });

/**
 * Marathon's group state in a full plan: the root group holding `app` in its nested groups
 * (`/shop/web` sits in `/shop`). Marathon sends the whole root group; DCX sends the part
 * the deployment touches, which is all a client can diff (groups are implied by app ids).
 */
export function planGroup(app: App | null, version: string) {
  type GroupState = { id: string; apps: App[]; groups: GroupState[]; dependencies: string[]; pods: never[]; version: string };
  const group = (id: string): GroupState => ({ id, apps: [], groups: [], dependencies: [], pods: [], version });
  const root = group("/");
  if (app === null) return root;
  const segments = app.id.split("/").filter((s) => s !== "");
  let at = root;
  for (let i = 1; i < segments.length; i++) {
    const child = group("/" + segments.slice(0, i).join("/"));
    at.groups.push(child);
    at = child;
  }
  at.apps.push(app);
  return root;
}

/**
 * Marathon's `plan` in deployment events: its steps, and the group before (`original`) and
 * after (`target`). Subscribers that asked for `plan-format=light` get it without those two
 * (the event bus drops them).
 */
export function planJson(d: DeploymentRecord, target: App | null) {
  return {
    id: d.id,
    version: d.version,
    original: planGroup(d.previous, d.version),
    target: planGroup(d.action === "StopApplication" ? null : target, d.version),
    steps: deploymentSteps(d).map((a) => ({ actions: [actionJson(a, d.appId)] })),
  };
}

function stepEvent(d: DeploymentRecord, step: number, target: App | null) {
  const action = deploymentSteps(d)[step - 1] ?? d.action;
  return { plan: planJson(d, target), currentStep: { actions: [actionJson(action, d.appId)] } };
}

/** The app a deployment moves to, read only when someone listens for its events. */
function targetApp(db: ClusterDb, events: EventBus, d: DeploymentRecord): App | null {
  if (events.subscriberCount === 0 || d.action === "StopApplication") return null;
  return getApp(db, d.appId)?.app ?? null;
}

/** A new deployment's events: its plan, and the instant first step of a start. */
export function announceDeployment(events: EventBus, d: DeploymentRecord, target: App, now: number): void {
  events.emit("deployment_info", stepEvent(d, currentStep(d), target), now);
  if (currentStep(d) > 1) events.emit("deployment_step_success", stepEvent(d, 1, target), now);
}

/** A deployment reached its goal: its last step succeeded, and it is gone. */
export function finishDeployment(db: ClusterDb, events: EventBus, d: DeploymentRecord, now: number): void {
  const target = targetApp(db, events, d);
  removeDeployment(db, d.id);
  events.emit("deployment_step_success", stepEvent(d, currentStep(d), target), now);
  events.emit("deployment_success", { id: d.id, plan: planJson(d, target) }, now);
  if (d.action === "StopApplication") events.emit("app_terminated_event", { appId: d.appId }, now);
}

/** A deployment ends without reaching its goal (canceled, rolled back, superseded): its step failed. */
export function abortDeployment(db: ClusterDb, events: EventBus, d: DeploymentRecord, reason: string, now: number): void {
  const target = targetApp(db, events, d);
  removeDeployment(db, d.id);
  events.emit("deployment_step_failure", { ...stepEvent(d, currentStep(d), target), reason }, now);
  events.emit("deployment_failed", { id: d.id, plan: planJson(d, target), reason }, now);
}
