import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import type { ClusterDb } from "../../control/cluster/db.ts";
import { orphanCandidates } from "../../control/cluster/frameworks/marathon/apps.ts";
import { type Account, type TestSocket, call, expectInvalid, joinAgent, signUp } from "./helpers.ts";

interface Launch {
  type: "launch";
  tasks: { taskId: string; ports: number[]; env: Record<string, string>; command?: { shell?: string } }[];
}
interface AppInfo {
  id: string;
  version: string;
  instances: number;
  tasksRunning: number;
  tasksStaged: number;
  deployments: { id: string }[];
  portDefinitions: { port: number }[];
  lastTaskFailure?: { message: string; state: string };
}

let updateSeq = 0;
/** Plays the agent side of a task: reports a state for each task id, and waits for the ack. */
async function report(socket: TestSocket, taskIds: string[], state: string, message?: string): Promise<void> {
  const updates = taskIds.map((taskId) => ({ updateId: `u-${updateSeq++}`, taskId, state, timestamp: Date.now(), ...(message ? { message } : {}) }));
  socket.send({ type: "status", updates });
  const ack = await socket.nextOfType<{ updateIds: string[] }>("ack");
  expect(ack.updateIds).toEqual(updates.map((u) => u.updateId));
}

const app = async (a: Account, id: string) => (await (await call(`/c/${a.cluster.id}/v2/apps${id}`, { token: a.token })).json()) as { app: AppInfo };
const deployments = async (a: Account) => (await (await call(`/c/${a.cluster.id}/v2/deployments`, { token: a.token })).json()) as { id: string }[];

describe("Marathon /v2 against a protocol-level agent", () => {
  it("deploys an app: 201 with the deployment header, launches with Marathon's env, completes when RUNNING", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account, { resources: { cpus: 4, mem: 4096, disk: 1000, gpus: 0, ports: [[31000, 31010]] } });
    const res = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "web", cmd: "python3 -m http.server $PORT0", cpus: 0.5, mem: 64, instances: 2, labels: { tier: "front" } },
    });
    expect(res.status).toBe(201);
    const deploymentId = res.headers.get("Marathon-Deployment-Id");
    expect(deploymentId).toBeTruthy();
    expect(res.headers.get("Location")).toMatch(/\/v2\/apps\/web$/);
    const created = (await res.json()) as AppInfo;
    expect(created).toMatchObject({ id: "/web", instances: 2, deployments: [{ id: deploymentId }] });
    expect(created.portDefinitions[0]?.port).toBeGreaterThanOrEqual(10000);

    const launch = await socket.nextOfType<Launch>("launch");
    expect(launch.tasks).toHaveLength(2);
    const [t0, t1] = launch.tasks;
    expect(t0?.taskId).toMatch(/^web\.instance-[0-9a-f-]{36}\._app\.1$/);
    expect(t0?.command).toEqual({ shell: "python3 -m http.server $PORT0" });
    expect(t0?.ports[0]).toBeGreaterThanOrEqual(31000);
    expect(t0?.ports[0]).not.toBe(t1?.ports[0]);
    expect(t0?.env).toMatchObject({
      HOST: "node-1",
      PORT0: String(t0?.ports[0]),
      PORT: String(t0?.ports[0]),
      PORTS: String(t0?.ports[0]),
      MARATHON_APP_ID: "/web",
      MARATHON_APP_VERSION: created.version,
      MESOS_TASK_ID: t0?.taskId,
      MARATHON_APP_LABEL_TIER: "front",
    });
    expect((await deployments(account)).map((d) => d.id)).toEqual([deploymentId]);

    await report(
      socket,
      launch.tasks.map((t) => t.taskId),
      "TASK_RUNNING",
    );
    await expect.poll(() => deployments(account), { timeout: 5000 }).toEqual([]);
    const after = await app(account, "/web");
    expect(after.app.tasksRunning).toBe(2);
    const tasks = (await (await call(`/c/${account.cluster.id}/v2/apps/web/tasks`, { token: account.token })).json()) as {
      tasks: { id: string; host: string; ports: number[]; slaveId: string; state: string; startedAt: string }[];
    };
    expect(tasks.tasks.map((t) => t.state)).toEqual(["TASK_RUNNING", "TASK_RUNNING"]);
    expect(tasks.tasks[0]).toMatchObject({ host: "node-1", slaveId: agentId });
    expect(tasks.tasks[0]?.startedAt).toBeTruthy();
    const slaves = (await (await call(`/c/${account.cluster.id}/master/slaves`, { token: account.token })).json()) as {
      slaves: { used_resources: { cpus: number } }[];
    };
    expect(slaves.slaves[0]?.used_resources.cpus).toBe(1);
  });

  it("refuses a second change while a deployment holds the app (409), unless forced", async () => {
    const account = await signUp();
    await joinAgent(account);
    await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/locked", cmd: "sleep 100", instances: 1, cpus: 0.1, mem: 16 },
    });
    const conflict = await call(`/c/${account.cluster.id}/v2/apps/locked`, { method: "PATCH", token: account.token, json: { instances: 2 } });
    expect(conflict.status).toBe(409);
    const body = (await conflict.json()) as { message: string; deployments: { id: string }[] };
    expect(body.message).toContain("locked");
    expect(body.deployments).toHaveLength(1);
    const forced = await call(`/c/${account.cluster.id}/v2/apps/locked?force=true`, { method: "PATCH", token: account.token, json: { instances: 2 } });
    expect(forced.status).toBe(200);
    expect(forced.headers.get("Marathon-Deployment-Id")).toBeTruthy();
    expect((await app(account, "/locked")).app.instances).toBe(2);
  });

  it("answers invalid apps with 422 and the field path, and stores nothing", async () => {
    const account = await signUp();
    await expectInvalid(await call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: { id: "/Bad", cmd: "x" } }), "/id");
    await expectInvalid(
      await call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: { id: "/x", cmd: "x", cpus: -1 } }),
      "/cpus",
    );
    const list = (await (await call(`/c/${account.cluster.id}/v2/apps`, { token: account.token })).json()) as { apps: unknown[] };
    expect(list.apps).toEqual([]);
    const dup = { id: "/dup", cmd: "sleep 1", cpus: 0.1, mem: 16, instances: 0 };
    expect((await call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: dup })).status).toBe(201);
    const again = await call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: dup });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { message: string }).message).toBe("An app with id [/dup] already exists.");
  });

  it("replaces a failed task after a backoff, and reports lastTaskFailure", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/crash", cmd: "exit 1", cpus: 0.1, mem: 16, backoffSeconds: 1 },
    });
    const first = await socket.nextOfType<Launch>("launch");
    const taskId = first.tasks[0]?.taskId ?? "";
    await report(socket, [taskId], "TASK_FAILED", "exited with code 1");
    const info = await app(account, "/crash");
    expect(info.app.lastTaskFailure).toMatchObject({ state: "TASK_FAILED", message: "exited with code 1" });
    const queue = (await (await call(`/c/${account.cluster.id}/v2/queue`, { token: account.token })).json()) as {
      queue: { count: number; delay: { timeLeftSeconds: number } }[];
    };
    expect(queue.queue[0]?.count).toBe(1);
    expect(queue.queue[0]?.delay.timeLeftSeconds).toBeGreaterThan(0);
    const second = await socket.nextOfType<Launch>("launch", 5000);
    expect(second.tasks[0]?.taskId).not.toBe(taskId);
  });

  it("kills a task on request and replaces it; with scale=true the app shrinks instead", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/k", cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 2 },
    });
    const launch = await socket.nextOfType<Launch>("launch");
    const ids = launch.tasks.map((t) => t.taskId);
    await report(socket, ids, "TASK_RUNNING");
    const killed = await call(`/c/${account.cluster.id}/v2/apps/k/tasks/${ids[0]}`, { method: "DELETE", token: account.token });
    expect(killed.status).toBe(200);
    const kill = await socket.nextOfType<{ taskIds: string[] }>("kill");
    expect(kill.taskIds).toEqual([ids[0]]);
    const replacement = await socket.nextOfType<Launch>("launch");
    expect(replacement.tasks).toHaveLength(1);
    await report(socket, [ids[0] ?? ""], "TASK_KILLED");
    const scaled = await call(`/c/${account.cluster.id}/v2/apps/k/tasks/${ids[1]}?scale=true`, { method: "DELETE", token: account.token });
    expect(scaled.headers.get("Marathon-Deployment-Id")).toBeTruthy();
    expect((await app(account, "/k")).app.instances).toBe(1);
    const unknown = await call(`/c/${account.cluster.id}/v2/apps/k/tasks/nope`, { method: "DELETE", token: account.token });
    expect(unknown.status).toBe(404);
  });

  it("deletes an app: its tasks are killed and the stop deployment ends when they are gone", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    await call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: { id: "/gone", cmd: "sleep 100", cpus: 0.1, mem: 16 } });
    const launch = await socket.nextOfType<Launch>("launch");
    await report(socket, [launch.tasks[0]?.taskId ?? ""], "TASK_RUNNING");
    await expect.poll(() => deployments(account)).toEqual([]);
    const del = await call(`/c/${account.cluster.id}/v2/apps/gone`, { method: "DELETE", token: account.token });
    expect(del.status).toBe(200);
    expect((await call(`/c/${account.cluster.id}/v2/apps/gone`, { token: account.token })).status).toBe(404);
    const kill = await socket.nextOfType<{ taskIds: string[] }>("kill");
    expect(kill.taskIds).toEqual([launch.tasks[0]?.taskId]);
    expect(await deployments(account)).toHaveLength(1);
    await report(socket, kill.taskIds, "TASK_KILLED");
    await expect.poll(() => deployments(account)).toEqual([]);
  });

  it("a deleted app's group is checked by each round while it has live tasks, and no longer once they ended", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    const candidates = () =>
      runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (instance: Cluster) => [
        ...(orphanCandidates.get((instance as unknown as { db: ClusterDb }).db) ?? []),
      ]);
    await call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: { id: "/left", cmd: "sleep 100", cpus: 0.1, mem: 16 } });
    const launch = await socket.nextOfType<Launch>("launch");
    await report(socket, [launch.tasks[0]?.taskId ?? ""], "TASK_RUNNING");
    // The first round read every group with a live task; a group with an app leaves the set at the next.
    await expect.poll(candidates).toEqual([]);
    expect((await call(`/c/${account.cluster.id}/v2/apps/left?force=true`, { method: "DELETE", token: account.token })).status).toBe(200);
    const kill = await socket.nextOfType<{ taskIds: string[] }>("kill");
    expect(kill.taskIds).toEqual([launch.tasks[0]?.taskId]);
    expect(await candidates()).toEqual(["/left"]);
    await report(socket, kill.taskIds, "TASK_KILLED");
    await expect.poll(() => deployments(account)).toEqual([]);
    await expect.poll(candidates).toEqual([]);
  });

  it("UNIQUE hostname with more instances than agents waits and says why in /v2/queue", async () => {
    const account = await signUp();
    await joinAgent(account);
    await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/uniq", cmd: "sleep 1", cpus: 0.1, mem: 16, instances: 2, constraints: [["hostname", "UNIQUE"]] },
    });
    const queue = (await (await call(`/c/${account.cluster.id}/v2/queue`, { token: account.token })).json()) as {
      queue: { count: number; processedOffersSummary: { rejectSummaryLastOffers: { reason: string; declined: number }[] } }[];
    };
    expect(queue.queue[0]?.count).toBe(1);
    expect(queue.queue[0]?.processedOffersSummary.rejectSummaryLastOffers.find((r) => r.reason === "UnfulfilledConstraint")?.declined).toBe(1);
    const listed = await (await call(`/c/${account.cluster.id}/v2/deployments?embed=waiting`, { token: account.token })).json();
    const [waiting] = listed as { waiting: { instances: number; reasons: Record<string, number> } }[];
    expect(waiting?.waiting.instances).toBe(1);
    expect(Object.keys(waiting?.waiting.reasons ?? {}).join(" ")).toMatch(/UNIQUE/);
  });

  it("a task the agent reports that the master does not know is killed", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    socket.send({ type: "status", updates: [{ updateId: "stray-1", taskId: "ghost.instance-x._app.1", state: "TASK_RUNNING", timestamp: Date.now() }] });
    expect((await socket.nextOfType<{ updateIds: string[] }>("ack")).updateIds).toEqual(["stray-1"]);
    expect((await socket.nextOfType<{ taskIds: string[] }>("kill")).taskIds).toEqual(["ghost.instance-x._app.1"]);
  });
});
