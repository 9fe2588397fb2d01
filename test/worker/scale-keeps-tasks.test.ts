import { describe, expect, it } from "vitest";
import { call, joinAgent, signUp } from "./helpers.ts";

interface Frame {
  type?: string;
  tasks?: { taskId: string }[];
  taskIds?: string[];
}

const launched = (frames: Frame[]) =>
  frames
    .filter((f) => f.type === "launch")
    .flatMap((f) => f.tasks ?? [])
    .map((t) => t.taskId);
const killed = (frames: Frame[]) => frames.filter((f) => f.type === "kill").flatMap((f) => f.taskIds ?? []);

/** Marathon scales without restarting: a change of `instances` alone keeps the running tasks. */
describe("scaling an app", () => {
  it("launches only the new instances on a scale up, kills only the surplus on a scale down, and restarts nothing", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    // Heartbeats, as an agent sends them: the test takes longer than the agent timeout.
    const heartbeat = setInterval(() => socket.send("ping"), 300);
    const api = (path: string, method: string, json?: unknown) => call(`/c/${a.cluster.id}${path}`, { method, token: a.token, json });
    const settled = () => expect.poll(async () => ((await (await api("/v2/deployments", "GET")).json()) as unknown[]).length).toBe(0);
    const run = (ids: string[], seq: string) =>
      socket.send({ type: "status", updates: ids.map((taskId, i) => ({ updateId: `${seq}-${i}`, taskId, state: "TASK_RUNNING", timestamp: Date.now() })) });

    expect((await api("/v2/apps", "POST", { id: "/s", cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 1 })).status).toBe(201);
    const first = launched(await socket.framesWithin<Frame>(500));
    expect(first).toHaveLength(1);
    run(first, "one");
    await settled();

    expect((await api("/v2/apps/s", "PATCH", { instances: 3 })).status).toBe(200);
    const up = await socket.framesWithin<Frame>(500);
    expect(launched(up)).toHaveLength(2);
    run(launched(up), "up");
    await settled();
    expect(killed(await socket.framesWithin<Frame>(300))).toEqual([]);
    expect(killed(up)).toEqual([]);

    expect((await api("/v2/apps/s", "PATCH", { instances: 2 })).status).toBe(200);
    const down = await socket.framesWithin<Frame>(500);
    expect(killed(down)).toHaveLength(1);
    expect(launched(down)).toEqual([]);
    const tasks = (await (await api("/v2/apps/s/tasks", "GET")).json()) as { tasks: { id: string }[] };
    expect(tasks.tasks.map((t) => t.id)).toContain(first[0]);
    clearInterval(heartbeat);
  });
});
