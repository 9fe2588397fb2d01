import { and, asc, desc, eq, inArray, isNull, ne, or, sql } from "drizzle-orm";
import type { ClusterDb } from "../../db.ts";
import { jsonColumn } from "../../sql-json.ts";
import { prepared } from "../../prepared.ts";
import { appVersions, apps, tasks } from "../../schema.ts";
import type { App } from "./app-definition.ts";
import { servicePorts } from "./task-ports.ts";

/** Marathon apps in the Cluster object's SQLite: the current definition, its versions, launch backoff. */

/** Marathon's `lastTaskFailure`. */
export interface TaskFailure {
  appId: string;
  host: string;
  message: string;
  state: string;
  taskId: string;
  timestamp: string;
  version: string;
  slaveId: string;
}

/** Why an app's instances wait, from the last allocation round that could not place them. */
export interface Waiting {
  count: number;
  since: string;
  reasons: Record<string, number>;
  agentsConsidered: number;
  /** The last round's unused offers: each agent considered and its reasons (`?embed=lastUnusedOffers`). */
  offers?: { agentId: string; reasons: string[] }[];
  /** When that round ran (ms). */
  offeredAt?: number;
}

export interface StoredApp {
  id: string;
  version: string;
  app: App;
  lastScalingAt: string;
  lastConfigChangeAt: string;
  backoffSeconds: number;
  delayUntil: number | null;
  lastTaskFailure: TaskFailure | null;
  waiting: Waiting | null;
}

type Row = typeof apps.$inferSelect;
const toStored = (row: Row): StoredApp => ({
  ...row,
  app: row.definition as App,
  lastTaskFailure: row.lastTaskFailure as TaskFailure | null,
  waiting: row.waiting as Waiting | null,
});

// Every command and round reads apps: these statements are built once (prepared.ts).
const appById = (db: ClusterDb) =>
  db
    .select()
    .from(apps)
    .where(eq(apps.id, sql.placeholder("id")))
    .prepare();
const appsInOrder = (db: ClusterDb) => db.select().from(apps).orderBy(asc(apps.id)).prepare();
const appIds = (db: ClusterDb) => db.select({ id: apps.id }).from(apps).prepare();
const appDefinitionsBut = (db: ClusterDb) =>
  db
    .select({ definition: apps.definition })
    .from(apps)
    .where(ne(apps.id, sql.placeholder("id")))
    .prepare();
const versionOfApp = (db: ClusterDb) =>
  db
    .select()
    .from(appVersions)
    .where(and(eq(appVersions.appId, sql.placeholder("id")), eq(appVersions.version, sql.placeholder("version"))))
    .prepare();

const insertVersion = (db: ClusterDb) =>
  db
    .insert(appVersions)
    .values({ appId: sql.placeholder("appId"), version: sql.placeholder("version"), definition: sql.placeholder("definition") })
    .prepare();
// Every commit asks whether any app may carry VIP labels (cluster-vips.ts).
const anyVipApp = (db: ClusterDb) => db.select({ id: apps.id }).from(apps).where(sql`${apps.definition} LIKE '%"vip%'`).limit(1).prepare();

/**
 * Per database, whether an app's definition may carry VIP labels, as last read: cluster-vips.ts
 * asks after every commit, and apps change far less often than tasks. saveApp and deleteApp,
 * the only writers of a definition, forget it; a write rolled back leaves it forgotten, which
 * costs one read.
 */
const vipMentions = new WeakMap<ClusterDb, boolean>();

export function getApp(db: ClusterDb, id: string): StoredApp | undefined {
  const row = prepared(db, appById).get({ id });
  return row ? toStored(row) : undefined;
}

export function listApps(db: ClusterDb): StoredApp[] {
  return prepared(db, appsInOrder).all().map(toStored);
}

/**
 * The apps a service name may mean (the service proxy's routing): those whose id is one of `ids`
 * or whose `DCOS_SERVICE_NAME` label, without its outer slashes, is one of `names`: SQLite picks
 * them, so a proxied request does not parse every app's definition in JavaScript.
 */
export function appsForServiceNames(db: ClusterDb, names: readonly string[], ids: readonly string[]): StoredApp[] {
  const label = sql`trim(json_extract(${apps.definition}, '$.labels.DCOS_SERVICE_NAME'), '/')`;
  return db
    .select()
    .from(apps)
    .where(or(inArray(apps.id, [...ids]), inArray(label, [...names])))
    .all()
    .map(toStored);
}

/** Every app id, without reading the definitions. */
export function listAppIds(db: ClusterDb): string[] {
  return prepared(db, appIds)
    .all()
    .map((r) => r.id);
}

/**
 * A new version string: Marathon's ISO timestamp, strictly after the app's previous version
 * (two changes within one millisecond must still get distinct versions).
 */
export function nextVersion(now: number, previous?: string): string {
  const after = previous ? Date.parse(previous) + 1 : 0;
  return new Date(Math.max(now, after)).toISOString();
}

/**
 * Every create and update writes its app: raw SQL, since drizzle built this upsert (with its
 * update set) anew on every call, about a quarter of a create's time in the object.
 */
const UPSERT_APP = `INSERT INTO apps (id, version, definition, last_scaling_at, last_config_change_at, backoff_seconds, delay_until, last_task_failure, waiting)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (id) DO UPDATE SET version = excluded.version, definition = excluded.definition, last_scaling_at = excluded.last_scaling_at,
    last_config_change_at = excluded.last_config_change_at, backoff_seconds = excluded.backoff_seconds, delay_until = excluded.delay_until,
    last_task_failure = excluded.last_task_failure, waiting = excluded.waiting`;

/**
 * Stores a definition as the app's current version and in its history. A scaling-only change
 * keeps `lastConfigChangeAt` and the running tasks; any other change resets the launch backoff,
 * as Marathon does.
 */
export function saveApp(db: ClusterDb, app: App, version: string, change: "create" | "config" | "scaling"): StoredApp {
  const existing = getApp(db, app.id);
  const definition = { ...app, version };
  const row = {
    id: app.id,
    version,
    definition,
    lastScalingAt: version,
    lastConfigChangeAt: change === "scaling" && existing ? existing.lastConfigChangeAt : version,
    backoffSeconds: change === "scaling" && existing ? existing.backoffSeconds : app.backoffSeconds,
    delayUntil: change === "scaling" && existing ? existing.delayUntil : null,
    lastTaskFailure: existing?.lastTaskFailure ?? null,
    waiting: null,
  };
  db.$client.sql
    .exec(
      UPSERT_APP,
      row.id,
      row.version,
      JSON.stringify(row.definition),
      row.lastScalingAt,
      row.lastConfigChangeAt,
      row.backoffSeconds,
      row.delayUntil,
      jsonColumn(row.lastTaskFailure),
      jsonColumn(row.waiting),
    )
    .toArray();
  vipMentions.delete(db);
  // A scale changes no task's definition: the live tasks of the scaled version carry the new one,
  // so the scheduling decision keeps them. Only a config change replaces tasks, as in Marathon.
  // (App ids start with '/', job ids never do: the group alone names the app's tasks.)
  if (change === "scaling" && existing) {
    db.update(tasks)
      .set({ version })
      .where(and(eq(tasks.group, app.id), eq(tasks.version, existing.version), isNull(tasks.endedAt)))
      .run();
  }
  // A rollback restores an old version, which the history already holds.
  if (getVersion(db, app.id, version) === undefined) prepared(db, insertVersion).run({ appId: app.id, version, definition });
  return toStored(row);
}

/**
 * Per database, the groups that may hold live tasks without an app (deleted apps still being
 * stopped; demand.ts `orphanGroups` reads them all once per object, then keeps this up to date).
 */
export const orphanCandidates = new WeakMap<ClusterDb, Set<string>>();

/** Deletes an app and its versions. Its tasks are killed by the stop deployment, not here. */
export function deleteApp(db: ClusterDb, id: string): void {
  db.delete(apps).where(eq(apps.id, id)).run();
  orphanCandidates.get(db)?.add(id);
  vipMentions.delete(db);
  db.delete(appVersions).where(eq(appVersions.appId, id)).run();
}

export function listVersions(db: ClusterDb, id: string): string[] {
  return db
    .select({ v: appVersions.version })
    .from(appVersions)
    .where(eq(appVersions.appId, id))
    .orderBy(desc(appVersions.version))
    .all()
    .map((r) => r.v);
}

export function getVersion(db: ClusterDb, id: string, version: string): App | undefined {
  const row = prepared(db, versionOfApp).get({ id, version });
  return row?.definition as App | undefined;
}

/**
 * Marathon's launch backoff after a failed or finished task: the next launch waits for the
 * current delay, and the delay grows by `backoffFactor` up to `maxLaunchDelaySeconds`.
 */
export function applyBackoff(db: ClusterDb, stored: StoredApp, now: number): void {
  const { backoffFactor, maxLaunchDelaySeconds } = stored.app;
  db.update(apps)
    .set({
      delayUntil: now + stored.backoffSeconds * 1000,
      backoffSeconds: Math.min(stored.backoffSeconds * backoffFactor, maxLaunchDelaySeconds),
    })
    .where(eq(apps.id, stored.id))
    .run();
}

export function setLastTaskFailure(db: ClusterDb, id: string, failure: TaskFailure): void {
  db.update(apps).set({ lastTaskFailure: failure }).where(eq(apps.id, id)).run();
}

/** `DELETE /v2/queue/{id}/delay`: launch again without waiting, and start the backoff over. */
export function resetDelay(db: ClusterDb, stored: StoredApp): void {
  db.update(apps).set({ delayUntil: null, backoffSeconds: stored.app.backoffSeconds }).where(eq(apps.id, stored.id)).run();
}

export function setWaiting(db: ClusterDb, id: string, waiting: Waiting | null): void {
  db.update(apps).set({ waiting }).where(eq(apps.id, id)).run();
}

/** Service ports held by every app but `exceptId`: they are unique cluster-wide. */
export function servicePortsInUse(db: ClusterDb, exceptId: string): Set<number> {
  const rows = prepared(db, appDefinitionsBut).all({ id: exceptId });
  const ports = new Set<number>();
  for (const row of rows) for (const port of servicePorts(row.definition as App)) if (port !== 0) ports.add(port);
  return ports;
}

/**
 * The apps whose current definition may carry VIP labels: a key starting `"vip` (SQLite's LIKE
 * ignores ASCII case, so `"VIP_0"` matches too). A cheap filter that reads no other definition;
 * callers parse the candidates' labels.
 */
export function appsMentioningVips(db: ClusterDb): StoredApp[] {
  return db.select().from(apps).where(sql`${apps.definition} LIKE '%"vip%'`).orderBy(asc(apps.id)).all().map(toStored);
}

/**
 * Whether any app's current definition may carry VIP labels (appsMentioningVips without reading
 * them). Asked between transactions: an answer read inside one that rolls back would be kept.
 */
export function anyAppMentionsVips(db: ClusterDb): boolean {
  let any = vipMentions.get(db);
  if (any === undefined) vipMentions.set(db, (any = prepared(db, anyVipApp).all().length > 0));
  return any;
}
