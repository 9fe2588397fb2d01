import { asc, eq } from "drizzle-orm";
import type { ClusterDb } from "../../db.ts";
import { deployments } from "../../schema.ts";
import type { App } from "./app-definition.ts";

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
  db.insert(deployments).values(record).run();
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

export function listDeployments(db: ClusterDb): DeploymentRecord[] {
  return db.select().from(deployments).orderBy(asc(deployments.createdAt)).all().map(toRecord);
}

export function removeDeployment(db: ClusterDb, id: string): void {
  db.delete(deployments).where(eq(deployments.id, id)).run();
}
