import type { Database } from "bun:sqlite";
import { TaskLaunch, TaskState } from "../protocol/index.ts";

import type { RunningTask } from "./drivers/driver.ts";

/**
 * The agent's task records, one row per task in `<work-dir>/agent.db`, so that an agent that
 * restarts knows which processes are its tasks and what it last said about each.
 *
 * Life of a record: inserted at launch (state STARTING, no process yet); the process fields are
 * set the moment the driver has spawned it; `state` follows every status update; once the
 * terminal update is acked the record is marked `done` and only kept for its sandbox (a GC of
 * old records and sandboxes is a later issue).
 */

/** What the agent keeps of one task. */
export interface TaskRecord {
  taskId: string;
  driver: string;
  launch: TaskLaunch;
  sandbox: string;
  /** Set once the driver has started the process. */
  process?: RunningTask;
  /** The last state reported to the master, and its message. */
  state: TaskState;
  message?: string;
  /** Epoch ms by which a kill under way escalates to SIGKILL. */
  killDeadline?: number;
  /** Terminal and acked by the master. */
  done: boolean;
}

interface Row {
  task_id: string;
  driver: string;
  launch: string;
  sandbox: string;
  pid: number | null;
  pgid: number | null;
  start_time: number | null;
  container_id: string | null;
  cgroup: string | null;
  state: string;
  message: string | null;
  kill_deadline: number | null;
  done: number;
}

/** The `tasks` table of the agent database. */
export class TaskStore {
  constructor(private readonly db: Database) {
    db.run(`CREATE TABLE IF NOT EXISTS tasks (
      task_id TEXT PRIMARY KEY,
      driver TEXT NOT NULL,
      launch TEXT NOT NULL,
      sandbox TEXT NOT NULL,
      pid INTEGER,
      pgid INTEGER,
      start_time INTEGER,
      container_id TEXT,
      cgroup TEXT,
      state TEXT NOT NULL,
      message TEXT,
      kill_deadline INTEGER,
      done INTEGER NOT NULL DEFAULT 0,
      updated_at INTEGER NOT NULL
    )`);
    db.run("CREATE INDEX IF NOT EXISTS tasks_live ON tasks (done) WHERE done = 0");
    // Work dirs written before the docker driver or cgroups existed lack those columns; their tasks have neither.
    const columns = db.query<{ name: string }, []>("SELECT name FROM pragma_table_info('tasks')").all();
    for (const column of ["container_id", "cgroup"]) {
      if (!columns.some((c) => c.name === column)) db.run(`ALTER TABLE tasks ADD COLUMN ${column} TEXT`);
    }
  }

  insert(record: Omit<TaskRecord, "done" | "process" | "killDeadline">): void {
    this.db
      .query("INSERT INTO tasks (task_id, driver, launch, sandbox, state, message, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
      .run(record.taskId, record.driver, JSON.stringify(record.launch), record.sandbox, record.state, record.message ?? null, Date.now());
  }

  get(taskId: string): TaskRecord | undefined {
    const row = this.db.query<Row, [string]>("SELECT * FROM tasks WHERE task_id = ?").get(taskId);
    return row === null ? undefined : toRecord(row);
  }

  /** Every record not yet done, in launch order. */
  live(): TaskRecord[] {
    return this.db.query<Row, []>("SELECT * FROM tasks WHERE done = 0 ORDER BY rowid").all().map(toRecord);
  }

  /** Records a task's process; throws when the task has no record (its process must then not run). */
  setProcess(task: RunningTask): void {
    const { changes } = this.db
      .query("UPDATE tasks SET pid = ?, pgid = ?, start_time = ?, cgroup = ?, container_id = ?, updated_at = ? WHERE task_id = ?")
      .run(task.pid, task.pgid, task.startTime, task.cgroup ?? null, task.containerId ?? null, Date.now(), task.taskId);
    if (changes === 0) throw new Error(`task ${task.taskId} has no record`);
  }

  setState(taskId: string, state: TaskState, message: string | undefined): void {
    this.db.query("UPDATE tasks SET state = ?, message = ?, updated_at = ? WHERE task_id = ?").run(state, message ?? null, Date.now(), taskId);
  }

  setKillDeadline(taskId: string, deadline: number): void {
    this.db.query("UPDATE tasks SET kill_deadline = ?, updated_at = ? WHERE task_id = ?").run(deadline, Date.now(), taskId);
  }

  /** Forgets a task that never ran (its launch could not be completed). */
  remove(taskId: string): void {
    this.db.query("DELETE FROM tasks WHERE task_id = ?").run(taskId);
  }

  markDone(taskId: string): void {
    this.db.query("UPDATE tasks SET done = 1, updated_at = ? WHERE task_id = ?").run(Date.now(), taskId);
  }
}

function toRecord(row: Row): TaskRecord {
  const cgroup = row.cgroup === null ? {} : { cgroup: row.cgroup };
  const process =
    row.pid === null
      ? undefined
      : {
          taskId: row.task_id,
          driver: row.driver,
          pid: row.pid,
          pgid: row.pgid ?? row.pid,
          ...cgroup,
          startTime: row.start_time ?? 0,
          sandbox: row.sandbox,
          ...(row.container_id === null ? {} : { containerId: row.container_id }),
        };
  return {
    taskId: row.task_id,
    driver: row.driver,
    // Parsed with the protocol's schema: the row was written from a validated launch.
    launch: TaskLaunch.parse(JSON.parse(row.launch)),
    sandbox: row.sandbox,
    process,
    state: TaskState.parse(row.state),
    message: row.message ?? undefined,
    killDeadline: row.kill_deadline ?? undefined,
    done: row.done === 1,
  };
}
