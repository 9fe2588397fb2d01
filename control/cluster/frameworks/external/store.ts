import { and, eq, sql } from "drizzle-orm";
import type { ClusterDb } from "../../db.ts";
import { frameworks, frameworkTasks } from "../../schema.ts";
import { jsonParams } from "../../tasks.ts";
import { DEFAULT_KILL_GRACE_MS } from "../framework.ts";
import type { FrameworkInfo, TaskInfo } from "./calls.ts";

/** The `frameworks` and `framework_tasks` tables: external frameworks and their tasks' launch info. */

export type FrameworkState = "connected" | "disconnected" | "removed";

export interface FrameworkRecord {
  id: string;
  info: FrameworkInfo;
  principal: string;
  streamId: string;
  state: FrameworkState;
  suppressedRoles: string[];
  registeredAt: number;
  reregisteredAt: number | null;
  failoverAt: number | null;
  removedAt: number | null;
}

type Row = typeof frameworks.$inferSelect;
const toRecord = (r: Row): FrameworkRecord => ({ ...r, info: r.info as FrameworkInfo, suppressedRoles: r.suppressedRoles as string[] });

interface RawFramework extends Record<string, SqlStorageValue> {
  id: string;
  info: string;
  principal: string;
  stream_id: string;
  state: FrameworkState;
  suppressed_roles: string;
  registered_at: number;
  reregistered_at: number | null;
  failover_at: number | null;
  removed_at: number | null;
}

const fromRaw = (r: RawFramework): FrameworkRecord => ({
  id: r.id,
  info: JSON.parse(r.info) as FrameworkInfo,
  principal: r.principal,
  streamId: r.stream_id,
  state: r.state,
  suppressedRoles: JSON.parse(r.suppressed_roles) as string[],
  registeredAt: r.registered_at,
  reregisteredAt: r.reregistered_at,
  failoverAt: r.failover_at,
  removedAt: r.removed_at,
});

/** One framework. A raw statement: every scheduler call of the framework reads it (its thousands of ACKNOWLEDGEs too). */
export function getFramework(db: ClusterDb, id: string): FrameworkRecord | undefined {
  const r = db.$client.sql.exec<RawFramework>("SELECT * FROM frameworks WHERE id = ?", id).toArray()[0];
  return r ? fromRaw(r) : undefined;
}

/** Who a framework's calls must come from: its subscription, without its info to parse. */
export type Subscriber = Pick<FrameworkRecord, "id" | "streamId" | "state">;

/** A framework's subscription alone: what an ACKNOWLEDGE, the most frequent call, checks. */
export function getSubscriber(db: ClusterDb, id: string): Subscriber | undefined {
  const r = db.$client.sql
    .exec<{ id: string; stream_id: string; state: FrameworkState }>("SELECT id, stream_id, state FROM frameworks WHERE id = ?", id)
    .toArray()[0];
  return r ? { id: r.id, streamId: r.stream_id, state: r.state } : undefined;
}

/** Frameworks not torn down, oldest first. A raw statement: every allocation round reads them. */
export function activeFrameworks(db: ClusterDb): FrameworkRecord[] {
  return db.$client.sql.exec<RawFramework>("SELECT * FROM frameworks WHERE state != 'removed' ORDER BY registered_at").toArray().map(fromRaw);
}

/** Every framework the object remembers, torn down ones included (`/master/state`'s completed frameworks). */
export function allFrameworks(db: ClusterDb): FrameworkRecord[] {
  return db.select().from(frameworks).orderBy(frameworks.registeredAt).all().map(toRecord);
}

/** Told of every framework written, with what it was before (undefined: new). */
export type FrameworkObserver = (record: FrameworkRecord, previous: FrameworkRecord | undefined) => void;
const observers = new WeakMap<ClusterDb, FrameworkObserver>();

/** Observes every framework saved (the operator API's FRAMEWORK_ADDED, _UPDATED, _REMOVED); called inside the saving transaction. */
export function observeFrameworks(db: ClusterDb, observer: FrameworkObserver): void {
  observers.set(db, observer);
}

export function saveFramework(db: ClusterDb, record: FrameworkRecord): void {
  const observer = observers.get(db);
  const previous = observer ? getFramework(db, record.id) : undefined;
  db.insert(frameworks).values(record).onConflictDoUpdate({ target: frameworks.id, set: record }).run();
  observer?.(record, previous);
}

/**
 * A new framework's id as Mesos makes them: the master id and a sequence number. The built-in
 * frameworks hold 0000 and 0001 (see `mesosFrameworkId`), so external ones start at 0002.
 */
export function nextFrameworkId(db: ClusterDb, masterId: string): string {
  const n = db.select({ n: sql<number>`count(*)` }).from(frameworks).get()?.n ?? 0;
  let seq = n + 2;
  while (getFramework(db, `${masterId}-${String(seq).padStart(4, "0")}`)) seq++;
  return `${masterId}-${String(seq).padStart(4, "0")}`;
}

/** A framework's roles: `roles` (MULTI_ROLE), else its single `role`, else `*`. */
export function frameworkRoles(info: FrameworkInfo): string[] {
  return info.roles && info.roles.length > 0 ? info.roles : [info.role ?? "*"];
}

/**
 * What an external framework's task needs beyond the defaults (the framework_tasks table): a
 * task without a record has DEFAULT_KILL_GRACE_MS, no group and no health check.
 */
export interface FrameworkTaskRecord {
  taskId: string;
  frameworkId: string;
  /** The TaskInfo it was launched with; null when a KILL's kill_policy gave the task its record. */
  info: TaskInfo | null;
  killGraceMs: number;
  taskGroup: string | null;
}

/** Whether a launched task needs a record: a kill grace, a group or a health check that are not the defaults'. */
export function needsTaskRecord(info: TaskInfo, killGraceMs: number, taskGroup: string | null): boolean {
  return killGraceMs !== DEFAULT_KILL_GRACE_MS || taskGroup !== null || info.health_check !== undefined;
}

/**
 * A statement per jsonParams part, the rows as one JSON parameter (their TaskInfos nested as
 * JSON, stored as SQLite writes them back out): an ACCEPT may launch hundreds.
 */
export function insertFrameworkTasks(db: ClusterDb, records: FrameworkTaskRecord[]): void {
  const rows = records.map((r) => [r.taskId, r.frameworkId, r.info, r.killGraceMs, r.taskGroup]);
  for (const param of jsonParams(rows)) {
    db.$client.sql.exec(
      `INSERT INTO framework_tasks (task_id, framework_id, info, kill_grace_ms, task_group)
       SELECT value ->> 0, value ->> 1, value -> 2, value ->> 3, value ->> 4 FROM json_each(?)`,
      param,
    );
  }
}

export function getFrameworkTask(db: ClusterDb, taskId: string): FrameworkTaskRecord | undefined {
  const row = db.select().from(frameworkTasks).where(eq(frameworkTasks.taskId, taskId)).get();
  return row ? { ...row, info: row.info as TaskInfo | null } : undefined;
}

/** The task ids of a task group (LAUNCH_GROUP): they start and stop together. */
export function groupTaskIds(db: ClusterDb, frameworkId: string, group: string): string[] {
  return db
    .select({ id: frameworkTasks.taskId })
    .from(frameworkTasks)
    .where(and(eq(frameworkTasks.frameworkId, frameworkId), eq(frameworkTasks.taskGroup, group)))
    .all()
    .map((r) => r.id);
}

/** A KILL's kill_policy: the task's grace from now on (its record is made if it had none). */
export function setKillGrace(db: ClusterDb, frameworkId: string, taskId: string, killGraceMs: number): void {
  db.insert(frameworkTasks)
    .values({ taskId, frameworkId, info: null, killGraceMs, taskGroup: null })
    .onConflictDoUpdate({ target: frameworkTasks.taskId, set: { killGraceMs } })
    .run();
}

/** Drops the launch info of tasks that no longer exist (collected with their task rows). */
export function forgetFrameworkTasks(db: ClusterDb): void {
  db.run(sql`DELETE FROM framework_tasks WHERE task_id NOT IN (SELECT id FROM tasks)`);
}

/** An external framework as state endpoints show it: its record and its outstanding offers. */
export interface FrameworkView extends FrameworkRecord {
  offers: { id: string; agentId: string; resources: { cpus: number; mem: number; disk: number; gpus: number; ports: number[][] } }[];
}
