import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { call, joinAgent, signUp } from "./helpers.ts";

interface Frame {
  type?: string;
  updateIds?: string[];
  taskIds?: string[];
  tasks?: { taskId: string; ports: number[]; env: Record<string, string>; resources: Record<string, number> }[];
}

const ofType = (frames: Frame[], type: string) => frames.filter((f) => f.type === type);

/**
 * Placement at scale rests on batching: a round's launches reach each agent in one frame, the
 * round's rows are written in a few statements, and an agent's status frame of many updates is
 * applied and acked as one. What each task gets must not change for it.
 */
describe("a round placing many instances on one agent", () => {
  it("sends them all in one launch frame, each with its own id, host and ports; the rows hold what the frame says", async () => {
    const account = await signUp();
    const agent = await joinAgent(account, { hostname: "big-node" });
    const post = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/many", cmd: "sleep 600", cpus: 0.01, mem: 8, instances: 30, portDefinitions: [{ port: 0, name: "http" }] },
    });
    expect(post.status).toBe(201);
    const frames = await agent.socket.framesWithin<Frame>(1500);
    const launches = ofType(frames, "launch");
    expect(launches).toHaveLength(1);
    const tasks = launches[0]?.tasks ?? [];
    expect(tasks).toHaveLength(30);
    expect(new Set(tasks.map((t) => t.taskId)).size).toBe(30);
    expect(new Set(tasks.map((t) => t.ports[0])).size).toBe(30);
    for (const t of tasks) {
      expect(t.env).toMatchObject({ HOST: "big-node", MESOS_TASK_ID: t.taskId, PORT0: String(t.ports[0]), MARATHON_APP_ID: "/many" });
      expect(t.resources).toEqual({ cpus: 0.01, mem: 8, disk: 0, gpus: 0 });
    }
    const rows = await runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (_i: Cluster, state) =>
      state.storage.sql
        .exec<{ id: string; agent_id: string; host: string; state: string; ports: string; resources: string; staged_at: number; started_at: number | null }>(
          "SELECT id, agent_id, host, state, ports, resources, staged_at, started_at FROM tasks",
        )
        .toArray(),
    );
    expect(rows).toHaveLength(30);
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const t of tasks) {
      const row = byId.get(t.taskId);
      expect(row).toMatchObject({ agent_id: agent.agentId, host: "big-node", state: "TASK_STAGING", started_at: null });
      // Stored as the JSON text the columns always held, readable by every reader of the table.
      expect(row?.ports).toBe(JSON.stringify(t.ports));
      expect(row?.resources).toBe('{"cpus":0.01,"mem":8,"disk":0,"gpus":0}');
      expect(typeof row?.staged_at).toBe("number");
    }
  });
});

describe("a status frame of many updates", () => {
  it("is applied whole and acked in one frame; an update for a task the master does not know fails alone, with a kill of its own", async () => {
    const account = await signUp();
    const agent = await joinAgent(account, { hostname: "busy-node" });
    const post = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/batch", cmd: "sleep 600", cpus: 0.01, mem: 8, instances: 25, portDefinitions: [] },
    });
    expect(post.status).toBe(201);
    const ids = ((await agent.socket.nextOfType<Frame>("launch")).tasks ?? []).map((t) => t.taskId);
    expect(ids).toHaveLength(25);
    const now = Date.now();
    const updates = ids.map((taskId, i) => ({ updateId: `run-${i}`, taskId, state: "TASK_RUNNING", timestamp: now + i }));
    // Among them: a task nobody launched, and one of the app's tasks failing right after running.
    updates.splice(10, 0, { updateId: "stray", taskId: "stray.task", state: "TASK_RUNNING", timestamp: now });
    updates.push({ updateId: "fail-0", taskId: ids[0] ?? "", state: "TASK_FAILED", timestamp: now + 100 });
    agent.socket.send({ type: "status", updates });

    const frames = await agent.socket.framesWithin<Frame>(1500);
    expect(ofType(frames, "ack").map((f) => f.updateIds)).toEqual([updates.map((u) => u.updateId)]);
    expect(ofType(frames, "kill").map((f) => f.taskIds)).toEqual([["stray.task"]]);
    const master = (await (await call(`/c/${account.cluster.id}/master/tasks`, { token: account.token })).json()) as {
      tasks: { id: string; state: string }[];
    };
    const stateOf = new Map(master.tasks.filter((t) => ids.includes(t.id)).map((t) => [t.id, t.state]));
    expect(stateOf.get(ids[0] ?? "")).toBe("TASK_FAILED");
    expect(ids.slice(1).map((id) => stateOf.get(id))).toEqual(ids.slice(1).map(() => "TASK_RUNNING"));
    // Each running task's start is its own update's time, not one shared value.
    const started = await runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (_i: Cluster, state) =>
      state.storage.sql.exec<{ id: string; started_at: number }>("SELECT id, started_at FROM tasks WHERE state = 'TASK_RUNNING'").toArray(),
    );
    expect(new Map(started.map((r) => [r.id, r.started_at])).get(ids[5] ?? "")).toBe(now + 5);
  });
});

describe("status updates past one statement's parameter", () => {
  it("long messages split the batch across statements (a parameter stays well under SQLite's 2 MB value limit), and every update is applied with its own message", async () => {
    const account = await signUp();
    const agent = await joinAgent(account, { hostname: "chatty-node" });
    const post = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/chatty", cmd: "sleep 600", cpus: 0.01, mem: 4, instances: 150, portDefinitions: [] },
    });
    expect(post.status).toBe(201);
    const ids = ((await agent.socket.nextOfType<Frame>("launch")).tasks ?? []).map((t) => t.taskId);
    expect(ids).toHaveLength(150);
    // 150 messages of 4,000 characters: 600,000 characters of JSON, more than one parameter holds.
    const now = Date.now();
    agent.socket.send({
      type: "status",
      updates: ids.map((taskId, i) => ({ updateId: `long-${i}`, taskId, state: "TASK_RUNNING", message: `${i}:`.padEnd(4000, "x"), timestamp: now })),
    });
    const ack = await agent.socket.nextOfType<Frame>("ack");
    expect(ack.updateIds).toHaveLength(150);
    const rows = await runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (_i: Cluster, state) =>
      state.storage.sql.exec<{ id: string; state: string; message: string }>("SELECT id, state, message FROM tasks").toArray(),
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    ids.forEach((id, i) => {
      expect(byId.get(id)?.state).toBe("TASK_RUNNING");
      expect(byId.get(id)?.message).toBe(`${i}:`.padEnd(4000, "x"));
    });
  });
});
