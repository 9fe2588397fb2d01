import { and, asc, desc, eq, inArray, isNotNull, isNull, lt, sql } from "drizzle-orm";
import { isAlive, type StatusUpdate, type TaskState, taskSetDigest } from "../../protocol/index.ts";
import type { ClusterDb } from "./db.ts";
import { prepared } from "./prepared.ts";
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

/**
 * Durable Object SQLite takes at most 100 bound parameters per statement (local workerd does
 * not enforce it; Cloudflare does), so id lists are queried in chunks of this size.
 */
export const MAX_PARAMS = 100;

export function chunked<T>(items: readonly T[], size = MAX_PARAMS - 4): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const sqlOf = (db: ClusterDb) => db.$client.sql;

/**
 * Bulk writes and reads pass their rows as ONE bound parameter, a JSON array that SQLite unpacks
 * with `json_each`, instead of a `?` per value: the 100-parameter limit would otherwise cut
 * 100,000 launches into 16,667 statements, and each statement costs the object far more than
 * its rows do. A parameter holds at most this many rows…
 */
const JSON_ROWS_PER_STATEMENT = 1000;
/**
 * …and this many characters: Cloudflare caps one SQLite value at 2 MB, and a character takes up
 * to 3 bytes of UTF-8 (a status message may hold 4,096 of them).
 */
const JSON_PARAM_CHARS = 500_000;

/**
 * `rows` as JSON array texts, one per statement, within JSON_ROWS_PER_STATEMENT and
 * JSON_PARAM_CHARS; `json` writes a row (identity for rows that are JSON texts already). Without
 * `json`, each statement's rows are written by one JSON.stringify of their array, the same text
 * as row by row at a fraction of the cost, unless it comes out too long for one value.
 */
export function jsonParams<T>(rows: readonly T[], json?: (row: T) => string): string[] {
  if (json) return packed(rows, json);
  const out: string[] = [];
  for (let start = 0; start < rows.length; start += JSON_ROWS_PER_STATEMENT) {
    const part = rows.slice(start, start + JSON_ROWS_PER_STATEMENT);
    const text = JSON.stringify(part);
    if (text.length <= JSON_PARAM_CHARS) out.push(text);
    else out.push(...packed(part, JSON.stringify));
  }
  return out;
}

/** `rows` as JSON array texts, packed row by row within JSON_ROWS_PER_STATEMENT and JSON_PARAM_CHARS. */
function packed<T>(rows: readonly T[], json: (row: T) => string): string[] {
  const out: string[] = [];
  let part: string[] = [];
  let chars = 2;
  for (const row of rows) {
    const text = json(row);
    if (part.length > 0 && (part.length >= JSON_ROWS_PER_STATEMENT || chars + text.length + 1 > JSON_PARAM_CHARS)) {
      out.push(`[${part.join(",")}]`);
      part = [];
      chars = 2;
    }
    part.push(text);
    chars += text.length + 1;
  }
  if (part.length > 0) out.push(`[${part.join(",")}]`);
  return out;
}

/** Told of every task this module writes: added (launched) or changed (its state). */
export type TaskObserver = (task: TaskRecord, added: boolean) => void;
const observers = new WeakMap<ClusterDb, TaskObserver>();

/**
 * Observes every task written through this module, the one writer of task states (the operator
 * API's TASK_ADDED and TASK_UPDATED). Called inside the writing transaction: the observer must
 * hold what it is told until the commit.
 */
export function observeTasks(db: ClusterDb, observer: TaskObserver): void {
  observers.set(db, observer);
}

/**
 * Columns a round's launches of one app share (framework, group, version, state, resources, the
 * times…): bound once per statement. Only what differs per task (id, agent, host, ports) goes in
 * the JSON rows: json_extract per column per row was most of an insert's cost.
 */
const TASK_SHARED_COLUMNS = "framework, group_id, version, state, resources, message, healthy, staged_at, started_at, updated_at, kill_requested_at, ended_at";
const INSERT_TASKS = `INSERT INTO tasks (id, agent_id, host, ports, ${TASK_SHARED_COLUMNS})
  SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), ${TASK_SHARED_COLUMNS.split(", ")
    .map(() => "?")
    .join(", ")} FROM json_each(?)`;

/** The shared column values of a task, in TASK_SHARED_COLUMNS order; `resources` is the column's JSON text. */
function sharedValues(t: TaskRecord, resources: string): SqlStorageValue[] {
  const healthy = t.healthy === null ? null : Number(t.healthy);
  return [t.framework, t.group, t.version, t.state, resources, t.message, healthy, t.stagedAt, t.startedAt, t.updatedAt, t.killRequestedAt, t.endedAt];
}

/** Where `resources` stands in sharedValues (compared by the caller, by object). */
const RESOURCES_AT = TASK_SHARED_COLUMNS.split(", ").indexOf("resources");

const sameResources = (a: TaskResources, b: TaskResources) => a === b || (a.cpus === b.cpus && a.mem === b.mem && a.disk === b.disk && a.gpus === b.gpus);

/** Whether `t` has the shared values `shared` (but resources, compared by the caller). */
function sameShared(shared: readonly SqlStorageValue[], t: TaskRecord): boolean {
  return sharedValues(t, "").every((value, i) => i === RESOURCES_AT || value === shared[i]);
}

/**
 * Inserts tasks: those sharing every column but id, agent, host and ports (a round's launches of
 * one app) a statement per jsonParams part (a round may insert tens of thousands).
 */
export function insertTasks(db: ClusterDb, records: TaskRecord[]): void {
  const observer = observers.get(db);
  if (observer) for (const t of records) observer(t, true);
  const groups = new Map<string, { shared: SqlStorageValue[]; rows: unknown[][] }>();
  // A round's launches of one app come one after another and share one resources object (an
  // ACCEPT's, equal ones): the last group is checked first, and its resources' JSON was written once.
  let last: { shared: SqlStorageValue[]; rows: unknown[][]; resources: TaskResources } | undefined;
  for (const t of records) {
    if (!last || !sameResources(last.resources, t.resources) || !sameShared(last.shared, t)) {
      const shared = sharedValues(t, JSON.stringify(t.resources));
      const key = JSON.stringify(shared);
      const group = groups.get(key) ?? { shared, rows: [] };
      groups.set(key, group);
      last = { ...group, resources: t.resources };
    }
    // ports go in as the JSON text the column holds, stored exactly as JSON.stringify wrote it.
    last.rows.push([t.id, t.agentId, t.host, JSON.stringify(t.ports)]);
  }
  for (const { shared, rows } of groups.values()) for (const param of jsonParams(rows)) sqlOf(db).exec(INSERT_TASKS, ...shared, param);
}

export function getTask(db: ClusterDb, id: string): TaskRecord | undefined {
  const row = db.select().from(tasks).where(eq(tasks.id, id)).get();
  return row ? toRecord(row) : undefined;
}

/** Tasks that still count: not ended. Optionally of one framework, group or agent. */
export function liveTasks(db: ClusterDb, filter: { framework?: string; group?: string; agentId?: string } = {}): TaskRecord[] {
  // A framework's tasks: what its part of every allocation round reads.
  if (filter.framework && !filter.group && !filter.agentId) return prepared(db, liveTasksOfFramework).all({ framework: filter.framework }).map(toRecord);
  const conds = [isNull(tasks.endedAt)];
  if (filter.framework) conds.push(eq(tasks.framework, filter.framework));
  if (filter.group) conds.push(eq(tasks.group, filter.group));
  if (filter.agentId) conds.push(eq(tasks.agentId, filter.agentId));
  return db
    .select()
    .from(tasks)
    .where(and(...conds))
    .orderBy(asc(tasks.stagedAt))
    .all()
    .map(toRecord);
}

// Built once (prepared.ts).
const liveTasksOfFramework = (db: ClusterDb) =>
  db
    .select()
    .from(tasks)
    .where(and(isNull(tasks.endedAt), eq(tasks.framework, sql.placeholder("framework"))))
    .orderBy(asc(tasks.stagedAt))
    .prepare();

/** Whether the agent holds any live task: one indexed probe, raw SQL (asked on every register). */
export function hasLiveTasks(db: ClusterDb, agentId: string): boolean {
  return sqlOf(db).exec("SELECT 1 FROM tasks WHERE agent_id = ? AND ended_at IS NULL LIMIT 1", agentId).toArray().length > 0;
}

/**
 * The resume digest (protocol/resume.ts) of the agent's live tasks as this table holds them, or
 * undefined when a kill of one of them is outstanding: the agent may have missed it, and only
 * the full reconciliation sends it again. One indexed read, raw SQL (asked on every register).
 */
export function liveTaskDigest(db: ClusterDb, agentId: string): string | undefined {
  const rows = sqlOf(db)
    .exec<{ id: string; state: string; kill: number | null }>(
      "SELECT id, state, kill_requested_at AS kill FROM tasks WHERE agent_id = ? AND ended_at IS NULL",
      agentId,
    )
    .toArray();
  if (rows.some((r) => r.kill !== null)) return undefined;
  return taskSetDigest(rows.map((r) => ({ taskId: r.id, state: r.state as TaskState })));
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

/** The columns of a tasks row as tasksById reads them, in this order (arrays, not objects: a read may return 100,000 rows). */
const TASK_ROW =
  "id, framework, group_id, version, agent_id, host, state, ports, resources, message, healthy, staged_at, started_at, updated_at, kill_requested_at, ended_at";
type RawTask = [
  id: string,
  framework: string,
  group: string,
  version: string,
  agentId: string,
  host: string,
  state: string,
  ports: string,
  resources: string,
  message: string | null,
  healthy: number | null,
  stagedAt: number,
  startedAt: number | null,
  updatedAt: number,
  killRequestedAt: number | null,
  endedAt: number | null,
  rowid: number,
];

/**
 * A row as a record. `parsed` holds the JSON columns already parsed in this read: the tasks of
 * one app share their resources (and, without ports, their ports) text, so a read of 100,000
 * tasks parses a few texts instead of 200,000 and the records share the objects, as a round's
 * launches of one app do (records are never changed in place).
 */
function fromRaw(r: RawTask, parsed: Map<string, unknown>): TaskRecord {
  const [id, framework, group, version, agentId, host, state, ports, resources, message, healthy, stagedAt, startedAt, updatedAt, killRequestedAt, endedAt] = r;
  return {
    id,
    framework,
    group,
    version,
    agentId,
    host,
    state: state as TaskState,
    ports: parsedJson(parsed, ports) as number[],
    resources: parsedJson(parsed, resources) as TaskResources,
    message,
    healthy: healthy === null ? null : healthy === 1,
    stagedAt,
    startedAt,
    updatedAt,
    killRequestedAt,
    endedAt,
  };
}

function parsedJson(parsed: Map<string, unknown>, text: string): unknown {
  let value = parsed.get(text);
  if (value === undefined) {
    value = JSON.parse(text);
    parsed.set(text, value);
  }
  return value;
}

/** Rows for the given ids, a statement per jsonParams part. */
export function tasksById(db: ClusterDb, ids: string[]): Map<string, TaskRecord> {
  return readTasks(db, ids).records;
}

/** Rows for the given ids, and the rowid of each (status writes address rows by it). */
function readTasks(db: ClusterDb, ids: string[]): { records: Map<string, TaskRecord>; rowids: Map<string, number> } {
  const records = new Map<string, TaskRecord>();
  const rowids = new Map<string, number>();
  const parsed = new Map<string, unknown>();
  for (const param of jsonParams(ids)) {
    const rows = sqlOf(db).exec(`SELECT ${TASK_ROW}, rowid FROM tasks WHERE id IN (SELECT value FROM json_each(?))`, param).raw<RawTask>();
    for (const r of rows) {
      records.set(r[0], fromRaw(r, parsed));
      rowids.set(r[0], r[16]);
    }
  }
  return { records, rowids };
}

/** Which of the ids are taken by a task (live or not yet collected), a statement per jsonParams part. */
export function existingTaskIds(db: ClusterDb, ids: string[]): Set<string> {
  const out = new Set<string>();
  for (const param of jsonParams(ids)) {
    for (const r of sqlOf(db).exec<{ id: string }>("SELECT id FROM tasks WHERE id IN (SELECT value FROM json_each(?))", param).toArray()) out.add(r.id);
  }
  return out;
}

/** One agent's status updates, in the order it sent them. */
export interface StatusBatch {
  agentId: string;
  updates: StatusUpdate[];
}

/**
 * Applies status updates from many agents' frames, in order, as if frame after frame. Each
 * update id is recorded in the same transaction as the change it makes, so a resend after a
 * lost ack is recognised and only acked. The reads and writes of all the frames are batched:
 * a few statements per commit rather than a few per frame, since a busy cluster applies tens of
 * thousands of updates a second here.
 */
export function applyStatusBatches(db: ClusterDb, batches: readonly StatusBatch[], now: number): ApplyResult[][] {
  const all = batches.flatMap((b) => b.updates);
  const fresh = recordUpdateIds(db, all, now);
  const { records: current, rowids } = readTasks(db, [...new Set(all.map((u) => u.taskId))]);
  const changed = new Map<string, TaskRecord>();
  const results = batches.map(({ agentId, updates }) =>
    updates.map((update): ApplyResult => {
      if (!fresh.delete(update.updateId)) return { kind: "duplicate" };
      const task = current.get(update.taskId);
      if (!task || task.agentId !== agentId) return { kind: "unknown" };
      if (!accepts(task, update.state)) return { kind: "stale", task };
      const next: TaskRecord = {
        ...task,
        state: update.state,
        message: update.message ?? null,
        // `healthy` on an update is one probe's result; the framework derives the task's health.
        healthy: task.healthy,
        updatedAt: now,
        startedAt: update.state === "TASK_RUNNING" && task.startedAt === null ? update.timestamp || now : task.startedAt,
        endedAt: endsTask(update.state) ? now : null,
      };
      current.set(task.id, next);
      changed.set(task.id, next);
      return { kind: "applied", task: next, previous: task.state };
    }),
  );
  writeTaskStates(db, [...changed.values()], rowids, now);
  const observer = observers.get(db);
  if (observer) for (const t of changed.values()) observer(t, false);
  return results;
}

/**
 * Records update ids as applied; returns those that were new. Recording first tells which are
 * new in the same statement (a conflict is an id applied before, and only the first of an id
 * repeated in the batch is returned); it commits with the changes or not at all.
 */
function recordUpdateIds(db: ClusterDb, updates: readonly StatusUpdate[], now: number): Set<string> {
  const fresh = new Set<string>();
  for (const param of jsonParams(updates.map((u) => u.updateId))) {
    // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
    const inserted = sqlOf(db)
      .exec(
        "INSERT INTO applied_updates (update_id, applied_at) SELECT value, ? FROM json_each(?) WHERE true ON CONFLICT DO NOTHING RETURNING update_id",
        now,
        param,
      )
      .raw<[string]>();
    for (const [id] of inserted) fresh.add(id);
  }
  return fresh;
}

/**
 * Writes tasks' new states (an applied update changes state, message, started_at and, when it
 * ends the task, ended_at; never the task's health), a statement per jsonParams part
 * (`UPDATE … FROM json_each`). Rows are addressed by the rowids just read, in rowid order: no
 * second search of the id index, and neighbouring rows share their pages. Tasks that end and
 * tasks that do not go in separate statements: setting ended_at rewrites the tasks_ended index
 * entry, which most updates (to RUNNING) need not. Runs in the transaction that read the rowids.
 */
function writeTaskStates(db: ClusterDb, changed: TaskRecord[], rowids: ReadonlyMap<string, number>, now: number): void {
  const going: [number, ...unknown[]][] = [];
  const ended: [number, ...unknown[]][] = [];
  for (const t of changed) {
    const rowid = rowids.get(t.id);
    if (rowid !== undefined) (t.endedAt === null ? going : ended).push([rowid, t.state, t.message, t.startedAt]);
  }
  const set = "state = json_extract(j.value, '$[1]'), message = json_extract(j.value, '$[2]'), started_at = json_extract(j.value, '$[3]'), updated_at = ?";
  const where = "FROM json_each(?) AS j WHERE tasks.rowid = json_extract(j.value, '$[0]')";
  const byRowid = (a: [number, ...unknown[]], b: [number, ...unknown[]]) => a[0] - b[0];
  for (const param of jsonParams(going.sort(byRowid))) sqlOf(db).exec(`UPDATE tasks SET ${set} ${where}`, now, param);
  for (const param of jsonParams(ended.sort(byRowid))) sqlOf(db).exec(`UPDATE tasks SET ${set}, ended_at = ? ${where}`, now, now, param);
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
  const task = row ? toRecord(row) : undefined;
  if (task) observers.get(db)?.(task, false);
  return task;
}

/** Records a task's overall health, as its framework judges it from health check results. */
export function setTaskHealthy(db: ClusterDb, id: string, healthy: boolean | null): void {
  db.update(tasks).set({ healthy }).where(eq(tasks.id, id)).run();
}

/** Marks tasks as being killed; returns those that were not already. */
export function markKillRequested(db: ClusterDb, ids: string[], now: number): TaskRecord[] {
  return chunked(ids).flatMap((part) =>
    db
      .update(tasks)
      .set({ killRequestedAt: now })
      .where(and(inArray(tasks.id, part), isNull(tasks.endedAt), isNull(tasks.killRequestedAt)))
      .returning()
      .all()
      .map(toRecord),
  );
}

/** Forgets what is old: applied update ids and ended tasks past their retention. */
export function collectGarbage(db: ClusterDb, now: number, updateRetentionMs: number, endedRetentionMs: number): void {
  db.delete(appliedUpdates)
    .where(lt(appliedUpdates.appliedAt, now - updateRetentionMs))
    .run();
  db.delete(tasks)
    .where(and(isNotNull(tasks.endedAt), lt(tasks.endedAt, now - endedRetentionMs)))
    .run();
}

/** Task counts by state over live tasks (for metrics). */
export function countByState(db: ClusterDb): Record<string, number> {
  const rows = db.select({ state: tasks.state, n: sql<number>`count(*)` }).from(tasks).where(isNull(tasks.endedAt)).groupBy(tasks.state).all();
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

/** What live tasks hold on each agent: scalars, host ports, and how many tasks there are. */
export interface AgentUsage extends TaskResources {
  ports: number[];
  tasks: number;
}

/** Live tasks of one framework's group on one agent: how many, and their resources summed. */
export interface LiveTaskGroup {
  agentId: string;
  framework: string;
  group: string;
  count: number;
  cpus: number;
  mem: number;
  disk: number;
  gpus: number;
}

/**
 * Live tasks counted per agent, framework and group, summed in SQLite: one row per group on an
 * agent rather than one per task, with no JSON parsed in the isolate (100,000 tasks of one app on
 * 10,000 agents are 10,000 rows). What an allocation round needs of the tasks already placed.
 */
export function liveTaskGroups(db: ClusterDb): LiveTaskGroup[] {
  const rows = sqlOf(db).exec<{ agentId: string; framework: string; groupId: string; count: number; cpus: number; mem: number; disk: number; gpus: number }>(
    `SELECT agent_id AS agentId, framework, group_id AS groupId, count(*) AS count,
       total(json_extract(resources, '$.cpus')) AS cpus, total(json_extract(resources, '$.mem')) AS mem,
       total(json_extract(resources, '$.disk')) AS disk, total(json_extract(resources, '$.gpus')) AS gpus
     FROM tasks WHERE ended_at IS NULL GROUP BY agent_id, framework, group_id`,
  );
  const out: LiveTaskGroup[] = [];
  for (const r of rows)
    out.push({ agentId: r.agentId, framework: r.framework, group: r.groupId, count: r.count, cpus: r.cpus, mem: r.mem, disk: r.disk, gpus: r.gpus });
  return out;
}

/** Resources held by live tasks, per agent, from the per-group sums (liveTaskGroups) and the ports held. */
export function usageByAgent(db: ClusterDb, groups: readonly LiveTaskGroup[] = liveTaskGroups(db)): Map<string, AgentUsage> {
  const out = new Map<string, AgentUsage>();
  for (const g of groups) {
    const u = out.get(g.agentId);
    if (!u) out.set(g.agentId, { cpus: g.cpus, mem: g.mem, disk: g.disk, gpus: g.gpus, ports: [], tasks: g.count });
    else {
      u.cpus += g.cpus;
      u.mem += g.mem;
      u.disk += g.disk;
      u.gpus += g.gpus;
      u.tasks += g.count;
    }
  }
  // Most tasks hold no host port: those rows are skipped before any JSON is read.
  const ports = db.all<{ agentId: string; port: number }>(
    sql`SELECT agent_id AS agentId, j.value AS port FROM tasks, json_each(tasks.ports) j WHERE tasks.ended_at IS NULL AND tasks.ports <> '[]'`,
  );
  for (const p of ports) out.get(p.agentId)?.ports.push(p.port);
  return out;
}
