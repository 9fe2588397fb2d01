import { describe, expect, test } from "bun:test";
import { openAgentDb } from "./agent-db.ts";
import type { RunningTask } from "./drivers/driver.ts";
import { TaskStore } from "./task-store.ts";
import { launchOf } from "./test-support/tasks.ts";
import { testScope } from "./test-support/scope.ts";

const { defer, tempDir } = testScope("dcx-task-store");

function open(dir: string) {
  const db = openAgentDb(dir);
  defer(() => db.close());
  return db;
}

describe("task store", () => {
  test("a task's cgroup is kept with its process, and a task without one reads back without one", () => {
    const store = new TaskStore(open(tempDir()));
    const base = { driver: "exec", sandbox: "/sandbox", state: "TASK_STARTING" as const };
    store.insert({ ...base, taskId: "in-cgroup", launch: launchOf("in-cgroup", { shell: "true" }) });
    store.insert({ ...base, taskId: "plain", launch: launchOf("plain", { shell: "true" }) });
    const process = { driver: "exec", pid: 4242, pgid: 4242, startTime: 99, sandbox: "/sandbox" };
    const inCgroup: RunningTask = { ...process, taskId: "in-cgroup", cgroup: "dcx/agent-1/task-in-cgroup" };
    store.setProcess(inCgroup);
    store.setProcess({ ...process, taskId: "plain" });
    expect(store.get("in-cgroup")?.process).toEqual(inCgroup);
    expect(store.get("plain")?.process).toEqual({ ...process, taskId: "plain" });
    expect(store.get("plain")?.process).not.toHaveProperty("cgroup");
  });

  test("a database from before cgroups gains the column and keeps its records", () => {
    const dir = tempDir();
    const old = openAgentDb(dir);
    old.run(`CREATE TABLE tasks (task_id TEXT PRIMARY KEY, driver TEXT NOT NULL, launch TEXT NOT NULL, sandbox TEXT NOT NULL,
      pid INTEGER, pgid INTEGER, start_time INTEGER, state TEXT NOT NULL, message TEXT, kill_deadline INTEGER,
      done INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL)`);
    old
      .query("INSERT INTO tasks (task_id, driver, launch, sandbox, pid, pgid, start_time, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run("old", "exec", JSON.stringify(launchOf("old", { shell: "true" })), "/sandbox", 7, 7, 1, "TASK_RUNNING", 0);
    old.close();
    const store = new TaskStore(open(dir));
    expect(store.live().map((record) => record.process)).toEqual([{ taskId: "old", driver: "exec", pid: 7, pgid: 7, startTime: 1, sandbox: "/sandbox" }]);
    store.setProcess({ taskId: "old", driver: "exec", pid: 8, pgid: 8, startTime: 2, sandbox: "/sandbox", cgroup: "dcx/agent-1/task-old" });
    expect(store.get("old")?.process?.cgroup).toBe("dcx/agent-1/task-old");
  });
});
