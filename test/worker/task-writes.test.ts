import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { StatusUpdate } from "../../protocol/index.ts";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { openClusterDb } from "../../control/cluster/db.ts";
import { applyStatusBatches, getTask, insertTasks, type TaskRecord, tasksById } from "../../control/cluster/tasks.ts";

/**
 * The task table's bulk writes, straight against a Cluster object's SQLite: a round's inserts
 * bind what a group of launches shares and send only what differs per task, and status updates
 * write only the columns they change. What is read back must be what was meant, whatever mix of
 * apps, versions and states one call carries.
 */

const NOW = Date.UTC(2030, 0, 1);

function task(id: string, over: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id,
    framework: "marathon",
    group: "/web",
    version: "2030-01-01T00:00:00.000Z",
    agentId: "agent-a",
    host: "a.example",
    state: "TASK_STAGING",
    ports: [],
    resources: { cpus: 0.1, mem: 32, disk: 0, gpus: 0 },
    message: null,
    healthy: null,
    stagedAt: NOW,
    startedAt: null,
    updatedAt: NOW,
    killRequestedAt: null,
    endedAt: null,
    ...over,
  };
}

function update(taskId: string, state: StatusUpdate["state"], n: number, message?: string): StatusUpdate {
  return { updateId: `u-${taskId}-${n}`, taskId, state, timestamp: NOW + 500, ...(message === undefined ? {} : { message }) } as StatusUpdate;
}

/** Runs `fn` on a fresh Cluster object's database. */
function inObject<T>(fn: (db: Awaited<ReturnType<typeof openClusterDb>>) => T | Promise<T>): Promise<T> {
  return runInDurableObject(env.CLUSTER.getByName(`task-writes-${crypto.randomUUID()}`), async (_: Cluster, state) => fn(await openClusterDb(state.storage)));
}

describe("insertTasks", () => {
  it("stores every task as given, however the tasks of one call differ and interleave", async () => {
    const shared = { cpus: 0.5, mem: 64, disk: 1, gpus: 0 };
    const records = [
      task("web-1", { resources: shared, ports: [31000, 31001], agentId: "agent-b", host: "b.example" }),
      task("api-1", { group: "/api", version: "2030-01-02T00:00:00.000Z", resources: { cpus: 1, mem: 128, disk: 0, gpus: 0 } }),
      task("web-2", { resources: shared, ports: [31002] }),
      // The same values in another object, and fields a launch rarely sets: each lands in its own row.
      task("web-3", { resources: { ...shared }, message: "null", healthy: true, startedAt: NOW + 1 }),
      task("web-4", { resources: shared, message: null, healthy: false, killRequestedAt: NOW + 2 }),
      task("job-1", { framework: "metronome", group: "nightly", state: "TASK_RUNNING", endedAt: NOW + 3, updatedAt: NOW + 3 }),
    ];
    const read = await inObject((db) => {
      insertTasks(db, records);
      return tasksById(
        db,
        records.map((r) => r.id),
      );
    });
    expect(read.size).toBe(records.length);
    for (const r of records) expect(read.get(r.id)).toEqual(r);
  });

  it("inserts a round of thousands of launches of one app, past one statement's rows", async () => {
    const records = Array.from({ length: 2500 }, (_, i) => task(`web-${i}`, { agentId: `agent-${i % 7}`, host: `h${i % 7}`, ports: [30000 + i] }));
    const read = await inObject((db) => {
      insertTasks(db, records);
      return tasksById(
        db,
        records.map((r) => r.id),
      );
    });
    expect([...read.values()].sort((a, b) => a.ports[0]! - b.ports[0]!)).toEqual(records);
  });
});

describe("applyStatusBatches", () => {
  it("writes the state, message and start of each applied update, ends only the tasks that end, and leaves health as it was", async () => {
    const result = await inObject((db) => {
      insertTasks(db, [task("t-run", { healthy: true }), task("t-fail"), task("t-twice"), task("t-other", { agentId: "agent-b" })]);
      const results = applyStatusBatches(
        db,
        [
          {
            agentId: "agent-a",
            updates: [update("t-run", "TASK_RUNNING", 1), update("t-fail", "TASK_FAILED", 1, "exit 1"), update("t-twice", "TASK_RUNNING", 1)],
          },
          // A second frame: a repeat, a later update of a task of the first, and a task that is not this agent's.
          {
            agentId: "agent-a",
            updates: [update("t-run", "TASK_RUNNING", 1), update("t-twice", "TASK_KILLED", 2, "killed"), update("t-other", "TASK_RUNNING", 1)],
          },
        ],
        NOW + 1000,
      );
      return { results, rows: ["t-run", "t-fail", "t-twice", "t-other"].map((id) => getTask(db, id)) };
    });
    expect(result.results.map((f) => f.map((r) => r.kind))).toEqual([
      ["applied", "applied", "applied"],
      ["duplicate", "applied", "unknown"],
    ]);
    const [run, fail, twice, other] = result.rows;
    expect(run).toMatchObject({ state: "TASK_RUNNING", message: null, healthy: true, startedAt: NOW + 500, updatedAt: NOW + 1000, endedAt: null });
    expect(fail).toMatchObject({ state: "TASK_FAILED", message: "exit 1", startedAt: null, updatedAt: NOW + 1000, endedAt: NOW + 1000 });
    expect(twice).toMatchObject({ state: "TASK_KILLED", message: "killed", startedAt: NOW + 500, endedAt: NOW + 1000 });
    expect(other).toMatchObject({ state: "TASK_STAGING", updatedAt: NOW, endedAt: null });
  });
});
