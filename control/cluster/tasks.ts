import { and, asc, desc, eq, inArray, isNotNull, isNull, lt, sql } from "drizzle-orm";
import { isAlive, type StatusUpdate, type TaskState } from "../../protocol/index.ts";
import type { ClusterDb } from "./db.ts";
import { appliedUpdates, tasks } from "./schema.ts";

/**
 * The task table and its state machine. Agents deliver status updates at least once; this
 * module applies each `updateId` once, drops stale or impossible transitions, and records
 * when a task stops counting toward its group (`endedAt`).
 */

export interface TaskResources {
  cpus: number;
  mem: number;
  disk: number;
  gpus: number;
}

export interface TaskRecord {
  id: string;
  framework: string;
  group: string;
  version: string;
  agentId: string;
  host: string;
  state: TaskState;
  ports: number[];
  resources: TaskResources;
  message: string | null;
  healthy: boolean | null;
  stagedAt: number;
  startedAt: number | null;
  updatedAt: number;
  killRequestedAt: number | null;
  endedAt: number | null;
}

type Row = typeof tasks.$inferSelect;
const toRecord = (row: Row): TaskRecord => ({ ...row, state: row.state as TaskState, ports: row.ports as number[], resources: row.resources as TaskResources });

/** Progress order of states; an update that would move a task backwards is stale and dropped. */
const RANK: Partial<Record<TaskState, number>> = { TASK_STAGING: 0, TASK_STARTING: 1, TASK_RUNNING: 2, TASK_KILLING: 3 };
/** States from which a task may come back to life when its agent returns. */
const RECOVERABLE: ReadonlySet<TaskState> = new Set(["TASK_UNREACHABLE", "TASK_LOST", "TASK_UNKNOWN"]);

export function insertTasks(db: ClusterDb, records: TaskRecord[]): void {
  // SQLite limits bound parameters per statement; 16 columns x 500 rows stays well within it.
  for (let i = 0; i < records.length; i += 500) db.insert(tasks).values(records.slice(i, i + 500)).run();
}

export function getTask(db: ClusterDb, id: string): TaskRecord | undefined {
  const row = db.select().from(tasks).where(eq(tasks.id, id)).get();
  return row ? toRecord(row) : undefined;
}

/** Tasks that still count: not ended. Optionally of one framework, group or agent. */
export function liveTasks(db: ClusterDb, filter: { framework?: string; group?: string; agentId?: string } = {}): TaskRecord[] {
  const conds = [isNull(tasks.endedAt)];
  if (filter.framework) conds.push(eq(tasks.framework, filter.framework));
  if (filter.group) conds.push(eq(tasks.group, filter.group));
  if (filter.agentId) conds.push(eq(tasks.agentId, filter.agentId));
  return db.select().from(tasks).where(and(...conds)).orderBy(asc(tasks.stagedAt)).all().map(toRecord);
}

/** Recently ended tasks, newest first (Mesos `completed_tasks`). */
export function endedTasks(db: ClusterDb, limit = 100): TaskRecord[] {
  return db.select().from(tasks).where(isNotNull(tasks.endedAt)).orderBy(desc(tasks.endedAt)).limit(limit).all().map(toRecord);
}

export type ApplyResult =
  | { kind: "applied"; task: TaskRecord; previous: TaskState }
  | { kind: "duplicate" }
  | { kind: "stale"; task: TaskRecord }
  | { kind: "unknown" };

/**
 * Applies one status update from `agentId`. The update id is recorded in the same
 * transaction as the change, so a resend after a lost ack is recognised and only acked.
 */
export function applyStatusUpdate(db: ClusterDb, agentId: string, update: StatusUpdate, now: number): ApplyResult {
  const seen = db.select({ id: appliedUpdates.updateId }).from(appliedUpdates).where(eq(appliedUpdates.updateId, update.updateId)).get();
  if (seen) return { kind: "duplicate" };
  db.insert(appliedUpdates).values({ updateId: update.updateId, appliedAt: now }).run();
  const task = getTask(db, update.taskId);
  if (!task || task.agentId !== agentId) return { kind: "unknown" };
  if (!accepts(task, update.state)) return { kind: "stale", task };
  const terminal = endsTask(update.state);
  const changes = {
    state: update.state,
    message: update.message ?? null,
    healthy: update.healthy ?? task.healthy,
    updatedAt: now,
    startedAt: update.state === "TASK_RUNNING" && task.startedAt === null ? update.timestamp || now : task.startedAt,
    endedAt: terminal ? now : null,
  };
  db.update(tasks).set(changes).where(eq(tasks.id, task.id)).run();
  return { kind: "applied", task: { ...task, ...changes }, previous: task.state };
}

/**
 * Whether an update from the task's own agent ends the task for the master. Besides the
 * terminal states, the agent's TASK_LOST or TASK_UNKNOWN means it has no such task: whatever
 * the master believed, nothing runs there.
 */
export function endsTask(state: TaskState): boolean {
  return !isAlive(state) && state !== "TASK_UNREACHABLE";
}

/** Whether a task in its current state takes an update to `next`. */
export function accepts(task: Pick<TaskRecord, "state" | "endedAt">, next: TaskState): boolean {
  if (task.endedAt !== null) return false;
  if (endsTask(next) || RECOVERABLE.has(task.state)) return true;
  if (next === task.state) return next === "TASK_RUNNING"; // health changes arrive as RUNNING again
  return (RANK[next] ?? 0) > (RANK[task.state] ?? 0);
}

/** Sets a state decided by the master itself (TASK_LOST, TASK_UNREACHABLE, TASK_GONE…). */
export function setTaskState(db: ClusterDb, id: string, state: TaskState, message: string, now: number, ended: boolean): TaskRecord | undefined {
  const row = db
    .update(tasks)
    .set({ state, message, updatedAt: now, ...(ended ? { endedAt: now } : {}) })
    .where(and(eq(tasks.id, id), isNull(tasks.endedAt)))
    .returning()
    .get();
  return row ? toRecord(row) : undefined;
}

/** Marks tasks as being killed; returns those that were not already. */
export function markKillRequested(db: ClusterDb, ids: string[], now: number): TaskRecord[] {
  if (ids.length === 0) return [];
  return db
    .update(tasks)
    .set({ killRequestedAt: now })
    .where(and(inArray(tasks.id, ids), isNull(tasks.endedAt), isNull(tasks.killRequestedAt)))
    .returning()
    .all()
    .map(toRecord);
}

/** Forgets what is old: applied update ids and ended tasks past their retention. */
export function collectGarbage(db: ClusterDb, now: number, updateRetentionMs: number, endedRetentionMs: number): void {
  db.delete(appliedUpdates).where(lt(appliedUpdates.appliedAt, now - updateRetentionMs)).run();
  db.delete(tasks).where(and(isNotNull(tasks.endedAt), lt(tasks.endedAt, now - endedRetentionMs))).run();
}

/** Task counts by state over live tasks (for metrics). */
export function countByState(db: ClusterDb): Record<string, number> {
  const rows = db.select({ state: tasks.state, n: sql<number>`count(*)` }).from(tasks).where(isNull(tasks.endedAt)).groupBy(tasks.state).all();
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

/** What live tasks hold on each agent: scalars and host ports. */
export interface AgentUsage extends TaskResources {
  ports: number[];
}

/** Resources held by live tasks, per agent, in two aggregate queries. */
export function usageByAgent(db: ClusterDb): Map<string, AgentUsage> {
  const out = new Map<string, AgentUsage>();
  const rows = db
    .select({
      agentId: tasks.agentId,
      cpus: sql<number>`sum(json_extract(${tasks.resources}, '$.cpus'))`,
      mem: sql<number>`sum(json_extract(${tasks.resources}, '$.mem'))`,
      disk: sql<number>`sum(json_extract(${tasks.resources}, '$.disk'))`,
      gpus: sql<number>`sum(json_extract(${tasks.resources}, '$.gpus'))`,
    })
    .from(tasks)
    .where(isNull(tasks.endedAt))
    .groupBy(tasks.agentId)
    .all();
  for (const r of rows) out.set(r.agentId, { cpus: r.cpus, mem: r.mem, disk: r.disk, gpus: r.gpus, ports: [] });
  const ports = db.all<{ agentId: string; port: number }>(sql`SELECT agent_id AS agentId, j.value AS port FROM tasks, json_each(tasks.ports) j WHERE tasks.ended_at IS NULL`);
  for (const p of ports) out.get(p.agentId)?.ports.push(p.port);
  return out;
}
