import { describe, expect, it } from "vitest";
import { type Account, TestSocket, call, joinAgent, registerFrame, signUp } from "./helpers.ts";

/**
 * Health checks, readiness checks and health-aware deployments on the master, against a
 * protocol-level agent that plays the results. Result timestamps are chosen, so grace periods
 * are exercised without waiting.
 */

interface LaunchedTask {
  taskId: string;
  ports: number[];
  healthChecks?: { protocol: string; port?: number; path?: string; intervalMs: number }[];
  readinessChecks?: { name: string; port: number }[];
}
interface HealthJson {
  alive: boolean;
  consecutiveFailures: number;
  firstSuccess: string | null;
  lastSuccess: string | null;
  lastFailure: string | null;
  lastFailureCause: string | null;
  taskId: string;
}
interface TaskJson {
  id: string;
  version: string;
  state: string;
  healthCheckResults: HealthJson[];
}
interface DeploymentJson {
  id: string;
  currentStep: number;
  totalSteps: number;
  currentActions: { action: string; readinessCheckResults: { name: string; taskId: string; ready: boolean; lastResponse?: { status: number } }[] }[];
  waiting?: { unready?: { instances: number; reasons: Record<string, number> }; lastHealthFailure?: { cause: string } };
}

let seq = 0;
const api = (a: Account, path: string, init: { method?: string; json?: unknown } = {}) => call(`/c/${a.cluster.id}${path}`, { token: a.token, ...init });
const getJson = async <T>(a: Account, path: string) => (await (await api(a, path)).json()) as T;
const tasksOf = async (a: Account, id: string) => (await getJson<{ tasks: TaskJson[] }>(a, `/v2/apps${id}/tasks`)).tasks;
const appOf = async (a: Account, id: string) =>
  (await getJson<{ app: { version: string; tasksHealthy: number; tasksUnhealthy: number; deployments: unknown[] } }>(a, `/v2/apps${id}`)).app;
/** With DCX's `waiting` (why each has not finished), which Marathon clients get only when they ask. */
const deployments = (a: Account) => getJson<DeploymentJson[]>(a, "/v2/deployments?embed=waiting");

/** Sends updates as the agent would and waits for their ack; returns what the master asked to kill meanwhile. */
async function send(socket: TestSocket, updates: Record<string, unknown>[]): Promise<string[]> {
  const withIds = updates.map((u) => ({ updateId: `h-${seq++}`, state: "TASK_RUNNING", timestamp: Date.now(), ...u }));
  socket.send({ type: "status", updates: withIds });
  const kills: string[] = [];
  for (;;) {
    const frame = await socket.next<{ type?: string; taskIds?: string[] }>();
    if (frame.type === "kill") kills.push(...(frame.taskIds ?? []));
    if (frame.type === "ack") return kills;
  }
}

const health = (taskId: string, healthy: boolean, extra: Record<string, unknown> = {}) => ({
  taskId,
  healthy,
  ...(healthy ? {} : { message: "HTTP 500 Internal Server Error" }),
  ...extra,
});

/** An agent and an app with `definition`; returns the launched tasks once the agent reported them RUNNING at `startedAt`. */
async function deployed(definition: Record<string, unknown>, startedAt = Date.now()) {
  const account = await signUp();
  const { socket, agentId, credential } = await joinAgent(account, { resources: { cpus: 4, mem: 4096, disk: 1000, gpus: 0, ports: [[31000, 31099]] } });
  const res = await api(account, "/v2/apps", { method: "POST", json: { cmd: "serve", cpus: 0.1, mem: 16, ...definition } });
  expect(res.status).toBe(201);
  const launch = await socket.nextOfType<{ tasks: LaunchedTask[] }>("launch");
  await send(
    socket,
    launch.tasks.map((t) => ({ taskId: t.taskId, timestamp: startedAt })),
  );
  return { account, socket, agentId, credential, tasks: launch.tasks };
}

const httpCheck = { protocol: "HTTP", path: "/health", gracePeriodSeconds: 60, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 3 };

describe("health checks on the master", () => {
  it("sends the checks in the launch, keeps results per task, counts healthy and unhealthy, and kills at maxConsecutiveFailures", async () => {
    const { account, socket, tasks } = await deployed({ id: "/hc", instances: 2, healthChecks: [httpCheck] }, Date.now() - 120_000);
    const [a, b] = tasks;
    expect(a?.healthChecks).toEqual([
      { protocol: "HTTP", port: a?.ports[0], path: "/health", ignoreHttp1xx: false, ipProtocol: "IPv4", intervalMs: 1000, timeoutMs: 1000, delayMs: 0 },
    ]);
    expect(await appOf(account, "/hc")).toMatchObject({ tasksHealthy: 0, tasksUnhealthy: 0 });
    // The deployment waits for health, not just RUNNING.
    expect((await deployments(account))[0]?.waiting?.unready).toEqual({ instances: 2, reasons: { "no health check passed yet": 2 } });
    expect(await send(socket, [health(a?.taskId ?? "", true), health(b?.taskId ?? "", true)])).toEqual([]);
    await expect.poll(() => deployments(account)).toEqual([]);
    expect(await appOf(account, "/hc")).toMatchObject({ tasksHealthy: 2, tasksUnhealthy: 0 });
    expect(await send(socket, [health(b?.taskId ?? "", false), health(b?.taskId ?? "", false)])).toEqual([]);
    const [, sick] = await tasksOf(account, "/hc");
    expect(sick?.healthCheckResults).toEqual([
      expect.objectContaining({
        alive: false,
        consecutiveFailures: 2,
        lastFailureCause: "HTTP 500 Internal Server Error",
        taskId: b?.taskId,
        firstSuccess: expect.any(String),
      }),
    ]);
    expect(await appOf(account, "/hc")).toMatchObject({ tasksHealthy: 1, tasksUnhealthy: 1 });
    expect(await send(socket, [health(b?.taskId ?? "", false)])).toEqual([b?.taskId]);
    // The replacement is launched; the healthy task is left alone.
    const replacement = await socket.nextOfType<{ tasks: LaunchedTask[] }>("launch");
    expect(replacement.tasks).toHaveLength(1);
  });

  it("ignores failures in the grace period until the first pass, then counts them", async () => {
    const { account, socket, tasks } = await deployed({ id: "/grace", healthChecks: [{ ...httpCheck, gracePeriodSeconds: 300 }] });
    const id = tasks[0]?.taskId ?? "";
    expect(
      await send(
        socket,
        [1, 2, 3, 4, 5].map(() => health(id, false)),
      ),
    ).toEqual([]);
    expect((await tasksOf(account, "/grace"))[0]?.healthCheckResults).toEqual([
      expect.objectContaining({ alive: false, consecutiveFailures: 0, lastFailure: null }),
    ]);
    expect(await appOf(account, "/grace")).toMatchObject({ tasksHealthy: 0, tasksUnhealthy: 0 });
    expect(await send(socket, [health(id, true), health(id, false), health(id, false)])).toEqual([]);
    expect(await send(socket, [health(id, false)])).toEqual([id]);
  });

  it("judges a frame by where it ends: failures an agent resends after a partition, then a pass, kill nothing", async () => {
    const { socket, tasks } = await deployed({ id: "/burst", healthChecks: [httpCheck] }, Date.now() - 120_000);
    const id = tasks[0]?.taskId ?? "";
    expect(await send(socket, [health(id, false), health(id, false), health(id, false), health(id, false), health(id, true)])).toEqual([]);
  });

  it("never kills a task for silence: an agent that went away and came back is asked to kill nothing", async () => {
    const { account, socket, credential, tasks } = await deployed({ id: "/quiet", healthChecks: [httpCheck] }, Date.now() - 120_000);
    const id = tasks[0]?.taskId ?? "";
    await send(socket, [health(id, true), health(id, false), health(id, false)]);
    socket.ws.close(1000, "bye");
    const again = await TestSocket.open(account.cluster.id, credential);
    again.send(registerFrame({ tasks: [{ taskId: id, state: "TASK_RUNNING" }] }));
    await again.nextOfType("registered");
    await new Promise((r) => setTimeout(r, 200));
    expect(again.frames.map((f) => JSON.parse(f) as { type: string }).filter((f) => f.type === "kill")).toEqual([]);
    expect((await tasksOf(account, "/quiet"))[0]).toMatchObject({
      state: "TASK_RUNNING",
      healthCheckResults: [expect.objectContaining({ consecutiveFailures: 2 })],
    });
  });
});

describe("health-aware deployments", () => {
  it("a new version that never passes keeps the old task, shows why, and a rollback kills only the new task", async () => {
    const { account, socket, tasks } = await deployed({ id: "/roll", instances: 1 });
    const old = tasks[0]?.taskId ?? "";
    await expect.poll(() => deployments(account)).toEqual([]);
    const before = await appOf(account, "/roll");
    const patched = await api(account, "/v2/apps/roll", { method: "PATCH", json: { healthChecks: [{ ...httpCheck, gracePeriodSeconds: 0 }] } });
    const deploymentId = patched.headers.get("Marathon-Deployment-Id");
    const [fresh] = (await socket.nextOfType<{ tasks: LaunchedTask[] }>("launch")).tasks;
    await send(socket, [{ taskId: fresh?.taskId }]);
    expect(await send(socket, [health(fresh?.taskId ?? "", false), health(fresh?.taskId ?? "", false)])).toEqual([]);
    const [stuck] = await deployments(account);
    expect(stuck).toMatchObject({ id: deploymentId, currentStep: 1, totalSteps: 1, currentActions: [{ action: "RestartApplication" }] });
    expect(stuck?.waiting).toMatchObject({
      unready: { instances: 1, reasons: { "health check 0 (HTTP) failing: HTTP 500 Internal Server Error": 1 } },
      lastHealthFailure: { cause: "HTTP 500 Internal Server Error" },
    });
    expect((await tasksOf(account, "/roll")).map((t) => t.id)).toEqual([old, fresh?.taskId]);
    const rollback = await api(account, `/v2/deployments/${deploymentId}`, { method: "DELETE" });
    expect(rollback.status).toBe(200);
    expect((await socket.nextOfType<{ taskIds: string[] }>("kill")).taskIds).toEqual([fresh?.taskId]);
    await send(socket, [{ taskId: fresh?.taskId, state: "TASK_KILLED" }]);
    await expect.poll(() => deployments(account)).toEqual([]);
    expect((await appOf(account, "/roll")).version).toBe(before.version);
    expect((await tasksOf(account, "/roll")).map((t) => t.id)).toEqual([old]);
  });

  it("a stuck deployment gives way to a forced new version: the failing tasks go first, the old one once the new version passes", async () => {
    const { account, socket, tasks } = await deployed({ id: "/force", instances: 1, upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 } });
    const old = tasks[0]?.taskId ?? "";
    await expect.poll(() => deployments(account)).toEqual([]);
    await api(account, "/v2/apps/force", { method: "PATCH", json: { healthChecks: [{ ...httpCheck, gracePeriodSeconds: 0 }] } });
    const [broken] = (await socket.nextOfType<{ tasks: LaunchedTask[] }>("launch")).tasks;
    await send(socket, [{ taskId: broken?.taskId }, health(broken?.taskId ?? "", false)]);
    const locked = await api(account, "/v2/apps/force", { method: "PATCH", json: { env: { FIXED: "1" } } });
    expect(locked.status).toBe(409);
    const forced = await api(account, "/v2/apps/force?force=true", { method: "PATCH", json: { env: { FIXED: "1" } } });
    expect(forced.status).toBe(200);
    const { kill, launch } = await socket.nextOfEach<{ taskIds: string[]; tasks: LaunchedTask[] }>(["kill", "launch"]);
    expect(kill?.taskIds).toEqual([broken?.taskId]);
    const [fixed] = launch?.tasks ?? [];
    await send(socket, [{ taskId: broken?.taskId, state: "TASK_KILLED" }, { taskId: fixed?.taskId }]);
    expect(await send(socket, [health(fixed?.taskId ?? "", true)])).toEqual([]);
    expect((await socket.nextOfType<{ taskIds: string[] }>("kill")).taskIds).toEqual([old]);
    await send(socket, [{ taskId: old, state: "TASK_KILLED" }]);
    await expect.poll(() => deployments(account)).toEqual([]);
    expect((await tasksOf(account, "/force")).map((t) => t.id)).toEqual([fixed?.taskId]);
  });

  it("an upgrade kills the old version's unhealthy task first and keeps the healthy one for minimumHealthCapacity", async () => {
    const { account, socket, tasks } = await deployed(
      { id: "/pick", instances: 2, healthChecks: [httpCheck], upgradeStrategy: { minimumHealthCapacity: 0.5, maximumOverCapacity: 0 } },
      Date.now() - 120_000,
    );
    const [a, b] = tasks.map((t) => t.taskId);
    await send(socket, [health(a ?? "", true), health(b ?? "", true)]);
    await expect.poll(() => deployments(account)).toEqual([]);
    await send(socket, [health(b ?? "", false)]);
    await api(account, "/v2/apps/pick/restart", { method: "POST" });
    expect((await socket.nextOfType<{ taskIds: string[] }>("kill")).taskIds).toEqual([b]);
  });

  it("a new task counts only once healthy and ready; readiness results show in currentActions", async () => {
    const { account, socket, tasks } = await deployed({ id: "/ready", instances: 1, portDefinitions: [{ name: "http-api" }] });
    await expect.poll(() => deployments(account)).toEqual([]);
    await api(account, "/v2/apps/ready", { method: "PATCH", json: { healthChecks: [{ protocol: "TCP" }], readinessChecks: [{ preserveLastResponse: true }] } });
    const [fresh] = (await socket.nextOfType<{ tasks: LaunchedTask[] }>("launch")).tasks;
    expect(fresh?.readinessChecks).toEqual([expect.objectContaining({ name: "readinessCheck", port: fresh?.ports[0] })]);
    const id = fresh?.taskId ?? "";
    await send(socket, [{ taskId: id }, health(id, true)]);
    const warming = { name: "readinessCheck", ready: false, lastResponse: { status: 503, contentType: "text/plain", body: "warming" } };
    expect(await send(socket, [{ taskId: id, readiness: warming, message: "HTTP 503 Service Unavailable" }])).toEqual([]);
    const [waiting] = await deployments(account);
    expect(waiting?.currentActions[0]?.readinessCheckResults).toEqual([{ ...warming, taskId: id }]);
    expect(waiting?.waiting?.unready?.reasons).toEqual({ "readiness check 'readinessCheck' not ready: HTTP 503": 1 });
    // Not ready: the old task must still be there.
    expect((await tasksOf(account, "/ready")).map((t) => t.id)).toContain(tasks[0]?.taskId);
    expect(await send(socket, [{ taskId: id, readiness: { name: "readinessCheck", ready: true } }])).toEqual([]);
    expect((await socket.nextOfType<{ taskIds: string[] }>("kill")).taskIds).toEqual([tasks[0]?.taskId]);
    await send(socket, [{ taskId: tasks[0]?.taskId, state: "TASK_KILLED" }]);
    await expect.poll(() => deployments(account)).toEqual([]);
  });
});
