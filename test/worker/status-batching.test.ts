import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { CloseCode } from "../../protocol/index.ts";
import { call, joinAgent, signUp } from "./helpers.ts";

interface Frame {
  type?: string;
  updateIds?: string[];
  taskIds?: string[];
  tasks?: { taskId: string }[];
}

const ofType = (frames: Frame[], type: string) => frames.filter((f) => f.type === type);

/**
 * Status frames that arrive together are committed in one transaction (group commit). What an
 * agent sees must not change: every frame acked on its own socket after the write, updates
 * applied in arrival order and exactly once, kills for unknown tasks to the frame's agent.
 */
describe("status frames committed together", () => {
  it("frames sent back to back from two agents: each acked on its own socket, applied in order, repeats applied once", async () => {
    const account = await signUp();
    const resources = { cpus: 1, mem: 1024, disk: 1000, gpus: 0, ports: [[31000, 31010]] };
    const a = await joinAgent(account, { resources, hostname: "node-a" });
    const b = await joinAgent(account, { resources, hostname: "node-b" });
    const post = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/pair", cmd: "sleep 600", cpus: 0.5, mem: 16, instances: 2, constraints: [["hostname", "UNIQUE"]] },
    });
    expect(post.status).toBe(201);
    const taskA = (await a.socket.nextOfType<Frame>("launch")).tasks?.[0]?.taskId ?? "";
    const taskB = (await b.socket.nextOfType<Frame>("launch")).tasks?.[0]?.taskId ?? "";
    const now = Date.now();
    // In one turn: A runs then fails its task; B runs its task, repeats that frame, and reports a task nobody launched.
    a.socket.send({ type: "status", updates: [{ updateId: "a-1", taskId: taskA, state: "TASK_RUNNING", timestamp: now }] });
    a.socket.send({ type: "status", updates: [{ updateId: "a-2", taskId: taskA, state: "TASK_FAILED", message: "exit 3", timestamp: now + 1 }] });
    b.socket.send({ type: "status", updates: [{ updateId: "b-1", taskId: taskB, state: "TASK_RUNNING", timestamp: now }] });
    b.socket.send({ type: "status", updates: [{ updateId: "b-1", taskId: taskB, state: "TASK_RUNNING", timestamp: now }] });
    b.socket.send({ type: "status", updates: [{ updateId: "b-2", taskId: "stray.task", state: "TASK_RUNNING", timestamp: now }] });

    const [fromA, fromB] = await Promise.all([a.socket.framesWithin<Frame>(1500), b.socket.framesWithin<Frame>(1500)]);
    expect(ofType(fromA, "ack").map((f) => f.updateIds)).toEqual([["a-1"], ["a-2"]]);
    expect(ofType(fromA, "kill")).toEqual([]);
    expect(ofType(fromB, "ack").map((f) => f.updateIds)).toEqual([["b-1"], ["b-1"], ["b-2"]]);
    expect(ofType(fromB, "kill").map((f) => f.taskIds)).toEqual([["stray.task"]]);

    const tasks = (await (await call(`/c/${account.cluster.id}/master/tasks`, { token: account.token })).json()) as { tasks: { id: string; state: string }[] };
    const stateOf = (id: string) => tasks.tasks.filter((t) => t.id === id).map((t) => t.state);
    // Arrival order: FAILED after RUNNING ends A's task; B's repeated RUNNING changes nothing.
    expect(stateOf(taskA)).toEqual(["TASK_FAILED"]);
    expect(stateOf(taskB)).toEqual(["TASK_RUNNING"]);
    const app = (await (await call(`/c/${account.cluster.id}/v2/apps/pair`, { token: account.token })).json()) as {
      app: { lastTaskFailure?: { taskId: string; message: string } };
    };
    expect(app.app.lastTaskFailure).toMatchObject({ taskId: taskA, message: "exit 3" });
  });
});

describe("a status frame that cannot be applied", () => {
  it("costs only its own agent: the others in its batch are acked and applied; its session is closed with 1011 to resend", async () => {
    const account = await signUp();
    const resources = { cpus: 1, mem: 1024, disk: 1000, gpus: 0, ports: [[31000, 31010]] };
    const a = await joinAgent(account, { resources, hostname: "node-a" });
    const b = await joinAgent(account, { resources, hostname: "node-b" });
    const post = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/pair", cmd: "sleep 600", cpus: 0.5, mem: 16, instances: 2, constraints: [["hostname", "UNIQUE"]] },
    });
    expect(post.status).toBe(201);
    const taskA = (await a.socket.nextOfType<Frame>("launch")).tasks?.[0]?.taskId ?? "";
    const taskB = (await b.socket.nextOfType<Frame>("launch")).tasks?.[0]?.taskId ?? "";
    // Storage refuses one update id, as a failing disk or a bug would for one frame.
    const cluster = env.CLUSTER.getByName(account.cluster.id);
    await runInDurableObject(cluster, (_: Cluster, state) => {
      state.storage.sql.exec(
        "CREATE TRIGGER poison BEFORE INSERT ON applied_updates WHEN NEW.update_id = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned update'); END",
      );
    });
    const now = Date.now();
    a.socket.send({ type: "status", updates: [{ updateId: "poison", taskId: taskA, state: "TASK_RUNNING", timestamp: now }] });
    b.socket.send({ type: "status", updates: [{ updateId: "good", taskId: taskB, state: "TASK_RUNNING", timestamp: now }] });

    const [fromA, fromB] = await Promise.all([a.socket.framesWithin<Frame>(1500), b.socket.framesWithin<Frame>(1500)]);
    expect(ofType(fromB, "ack").map((f) => f.updateIds)).toEqual([["good"]]);
    expect(ofType(fromA, "ack")).toEqual([]);
    expect(a.socket.closed?.code).toBe(CloseCode.RETRY);
    expect(b.socket.closed).toBeUndefined();
    const tasks = (await (await call(`/c/${account.cluster.id}/master/tasks`, { token: account.token })).json()) as { tasks: { id: string; state: string }[] };
    const stateOf = (id: string) => tasks.tasks.find((t) => t.id === id)?.state;
    expect(stateOf(taskB)).toBe("TASK_RUNNING");
    expect(stateOf(taskA)).toBe("TASK_STAGING");
  });
});
