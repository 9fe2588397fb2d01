import { describe, expect, it } from "vitest";
import { type Account, type TestSocket, call, joinAgent, signUp } from "./helpers.ts";

const post = (a: Account, path: string, json?: unknown, method = "POST") =>
  call(`/c/${a.cluster.id}${path}`, { method, token: a.token, ...(json === undefined ? {} : { json }) });
const get = async <T>(a: Account, path: string) => (await (await call(`/c/${a.cluster.id}${path}`, { token: a.token })).json()) as T;

async function launchFrame(socket: TestSocket): Promise<{ taskId: string }[]> {
  return (await socket.nextOfType<{ tasks?: { taskId: string }[] }>("launch")).tasks ?? [];
}

async function running(socket: TestSocket, ids: string[], seq: string) {
  socket.send({ type: "status", updates: ids.map((taskId, i) => ({ updateId: `${seq}-${i}`, taskId, state: "TASK_RUNNING", timestamp: Date.now() })) });
}

describe("invalid app definitions over HTTP", () => {
  const base = { id: "/ok", cmd: "sleep 1" };
  it.each([
    [{ ...base, id: "/Upper" }, "/id"],
    [{ ...base, id: "/a//b" }, "/id"],
    [{ ...base, id: "/-x" }, "/id"],
    [{ ...base, cpus: -1 }, "/cpus"],
    [{ ...base, mem: -5 }, "/mem"],
    [{ ...base, instances: 1.5 }, "/instances"],
    [{ ...base, args: ["sleep", "1"] }, "/cmd"],
    [{ id: "/nocmd" }, "/cmd"],
    [{ ...base, constraints: [["hostname", "SOMETIMES"]] }, "/constraints/0"],
    [{ ...base, constraints: [["hostname", "UNIQUE", "x"]] }, "/constraints/0"],
    [{ ...base, portDefinitions: [{ port: 8080 }, { port: 8080 }] }, "/portDefinitions/1/port"],
    [{ ...base, backoffFactor: 0.5 }, "/backoffFactor"],
    [{ ...base, upgradeStrategy: { minimumHealthCapacity: 1.5, maximumOverCapacity: 1 } }, "/upgradeStrategy/minimumHealthCapacity"],
    [{ ...base, env: { A: 1 } }, "/env/A"],
    [{ ...base, container: { type: "DOCKER", docker: {} } }, "/container/docker/image"],
    [{ ...base, container: { type: "RKT" } }, "/container/type"],
    [{ ...base, container: { type: "MESOS", docker: { image: "nginx" } } }, "/container/type"],
    [{ ...base, container: { docker: { image: "library/Nginx:1" } } }, "/container/docker/image"],
    [{ ...base, container: { docker: { image: "nginx:" } } }, "/container/docker/image"],
    [
      {
        ...base,
        networks: [{ mode: "container/bridge" }],
        container: {
          docker: { image: "nginx" },
          portMappings: [
            { containerPort: 80, hostPort: 8080 },
            { containerPort: 81, hostPort: 8080 },
          ],
        },
      },
      "/container/portMappings/1/hostPort",
    ],
    [
      { ...base, networks: [{ mode: "container/bridge" }], container: { docker: { image: "nginx" }, portMappings: [{ containerPort: -1 }] } },
      "/container/portMappings/0/containerPort",
    ],
    [{ ...base, container: { docker: { image: "nginx" }, portMappings: [{ containerPort: 80 }] } }, "/container/portMappings"],
    [{ ...base, networks: [{ mode: "container", name: "dcos" }], container: { docker: { image: "nginx" } } }, "/networks/0/mode"],
    [{ ...base, networks: [{ mode: "host" }], container: { docker: { image: "nginx", network: "BRIDGE" } } }, "/container/docker/network"],
    [{ ...base, container: { docker: { image: "nginx", network: "USER" } } }, "/container/docker/network"],
    [
      { ...base, container: { docker: { image: "nginx" }, volumes: [{ containerPath: "data", mode: "RW", persistent: { size: 10 } }] } },
      "/container/volumes/0",
    ],
    [{ ...base, healthChecks: [{ protocol: "GOPHER" }] }, "/healthChecks/0/protocol"],
    [{ ...base, healthChecks: [{ intervalSeconds: 5, timeoutSeconds: 10 }] }, "/healthChecks/0/timeoutSeconds"],
    [{ ...base, healthChecks: [{ intervalSeconds: 0 }] }, "/healthChecks/0/intervalSeconds"],
    [{ ...base, healthChecks: [{ protocol: "COMMAND" }] }, "/healthChecks/0/command"],
    [{ ...base, healthChecks: [{ portIndex: 3 }] }, "/healthChecks/0/portIndex"],
    [{ ...base, healthChecks: [{ protocol: "TCP", path: "/x" }] }, "/healthChecks/0/path"],
    [{ ...base, healthChecks: [{ maxConsecutiveFailures: -1 }] }, "/healthChecks/0/maxConsecutiveFailures"],
    [{ ...base, healthChecks: [{ path: "/health\r\nX-Injected: yes" }] }, "/healthChecks/0/path"],
    [{ ...base, readinessChecks: [{ portName: "http-api" }] }, "/readinessChecks/0/portName"],
    [{ ...base, portDefinitions: [{ name: "http-api" }], readinessChecks: [{ httpStatusCodesForReady: [] }] }, "/readinessChecks/0/httpStatusCodesForReady"],
    [{ ...base, portDefinitions: [{ name: "http-api" }], readinessChecks: [{ protocol: "TCP" }] }, "/readinessChecks/0/protocol"],
    [{ ...base, portDefinitions: [{ name: "http-api" }], readinessChecks: [{ timeoutSeconds: 60 }] }, "/readinessChecks/0/timeoutSeconds"],
  ])("%j → 422 on %s, nothing stored", async (definition, path) => {
    const account = await signUp();
    const res = await post(account, "/v2/apps", definition);
    expect(res.status).toBe(422);
    const body = (await res.json()) as { message: string; details: { path: string; errors: string[] }[] };
    expect(body.message).toBe("Object is not valid");
    expect(body.details.map((d) => d.path)).toEqual([path]);
    expect((await get<{ apps: unknown[] }>(account, "/v2/apps")).apps).toEqual([]);
    expect(await get<unknown[]>(account, "/v2/deployments")).toEqual([]);
  });

  it("a PATCH with a bad health or readiness check is 422 at the check's path, and the app stays as it was", async () => {
    const account = await signUp();
    expect((await post(account, "/v2/apps", { id: "/p", cmd: "sleep 1", cpus: 0.1, mem: 16, instances: 0 })).status).toBe(201);
    const before = await get<{ app: { version: string } }>(account, "/v2/apps/p");
    const bad = await post(account, "/v2/apps/p?force=true", { healthChecks: [{ protocol: "TCP" }, { protocol: "HTTP", path: "health" }] }, "PATCH");
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { details: { path: string }[] }).details.map((d) => d.path)).toEqual(["/healthChecks/1/path"]);
    const unnamed = await post(account, "/v2/apps/p?force=true", { readinessChecks: [{ name: "warm" }] }, "PATCH");
    expect(((await unnamed.json()) as { details: { path: string; errors: string[] }[] }).details).toEqual([
      { path: "/readinessChecks/0/portName", errors: [expect.stringMatching(/no port of the app has a name/)] },
    ]);
    expect((await get<{ app: { version: string } }>(account, "/v2/apps/p")).app.version).toBe(before.app.version);
  });

  it("answers malformed JSON with 400 and a non-JSON body with 415", async () => {
    const account = await signUp();
    const malformed = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      headers: { "Content-Type": "application/json" },
      body: "{",
    });
    expect(malformed.status).toBe(400);
    const text = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      headers: { "Content-Type": "text/plain" },
      body: "id=/x",
    });
    expect(text.status).toBe(415);
  });
});

describe("Marathon endpoints", () => {
  it("accepts the example app from Marathon's documentation and keeps unknown fields", async () => {
    const account = await signUp();
    const basic0 = {
      id: "/basic-0",
      cmd: "while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done",
      cpus: 0.1,
      mem: 10.0,
      instances: 1,
      fancyExtension: { a: 1 },
    };
    const res = await post(account, "/v2/apps", basic0);
    expect(res.status).toBe(201);
    const { app } = await get<{ app: Record<string, unknown> }>(account, "/v2/apps/basic-0");
    expect(app).toMatchObject({ id: "/basic-0", cpus: 0.1, mem: 10, instances: 1, fancyExtension: { a: 1 }, backoffSeconds: 1, backoffFactor: 1.15 });
  });

  it("PUT creates a missing app (201), lists versions, and PUT {version} rolls back", async () => {
    const account = await signUp();
    const created = await post(account, "/v2/apps/v", { cmd: "sleep 1", cpus: 0.1, mem: 16, instances: 0 }, "PUT");
    expect(created.status).toBe(201);
    const first = ((await created.json()) as { version: string }).version;
    const changed = await post(account, "/v2/apps/v?force=true", { cmd: "sleep 2", cpus: 0.1, mem: 16, instances: 0 }, "PUT");
    expect(changed.status).toBe(200);
    const versions = await get<{ versions: string[] }>(account, "/v2/apps/v/versions");
    expect(versions.versions).toHaveLength(2);
    expect((await get<{ cmd: string }>(account, `/v2/apps/v/versions/${first}`)).cmd).toBe("sleep 1");
    const rolled = await post(account, "/v2/apps/v?force=true", { version: first }, "PUT");
    expect(rolled.status).toBe(200);
    expect((await get<{ app: { cmd: string } }>(account, "/v2/apps/v")).app.cmd).toBe("sleep 1");
  });

  it("DELETE /v2/deployments/{id} rolls back a scale; with force it just forgets it (202)", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, { resources: { cpus: 1, mem: 64, disk: 10, gpus: 0, ports: [[31000, 31001]] } });
    await post(account, "/v2/apps", { id: "/r", cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 1 });
    await running(
      socket,
      (await launchFrame(socket)).map((t) => t.taskId),
      "r1",
    );
    await expect.poll(() => get<unknown[]>(account, "/v2/deployments")).toEqual([]);
    // Scale past what the agent can hold (64 MB): the deployment waits.
    const scale = await post(account, "/v2/apps/r", { instances: 10 }, "PATCH");
    const deploymentId = scale.headers.get("Marathon-Deployment-Id");
    const rollback = await call(`/c/${account.cluster.id}/v2/deployments/${deploymentId}`, { method: "DELETE", token: account.token });
    expect(rollback.status).toBe(200);
    expect(rollback.headers.get("Marathon-Deployment-Id")).not.toBe(deploymentId);
    expect((await get<{ app: { instances: number } }>(account, "/v2/apps/r")).app.instances).toBe(1);
    const again = await post(account, "/v2/apps/r?force=true", { instances: 10 }, "PATCH");
    const forced = await call(`/c/${account.cluster.id}/v2/deployments/${again.headers.get("Marathon-Deployment-Id")}?force=true`, {
      method: "DELETE",
      token: account.token,
    });
    expect(forced.status).toBe(202);
    expect(await get<unknown[]>(account, "/v2/deployments")).toEqual([]);
    expect((await call(`/c/${account.cluster.id}/v2/deployments/nope`, { method: "DELETE", token: account.token })).status).toBe(404);
  });

  it("restart replaces every task with a new version; DELETE /v2/queue/{id}/delay resets a backoff", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    await post(account, "/v2/apps", { id: "/rs", cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 1, backoffSeconds: 60 });
    const [first] = await launchFrame(socket);
    await running(socket, [first?.taskId ?? ""], "rs1");
    await expect.poll(() => get<unknown[]>(account, "/v2/deployments")).toEqual([]);
    const restart = await post(account, "/v2/apps/rs/restart");
    expect(restart.status).toBe(200);
    const [second] = await launchFrame(socket);
    expect(second?.taskId).not.toBe(first?.taskId);
    socket.send({ type: "status", updates: [{ updateId: "rs-fail", taskId: second?.taskId, state: "TASK_FAILED", message: "boom", timestamp: Date.now() }] });
    await expect
      .poll(async () => (await get<{ queue: { delay: { timeLeftSeconds: number } }[] }>(account, "/v2/queue")).queue[0]?.delay.timeLeftSeconds ?? 0)
      .toBeGreaterThan(30);
    const reset = await call(`/c/${account.cluster.id}/v2/queue/rs/delay`, { method: "DELETE", token: account.token });
    expect(reset.status).toBe(204);
    const [third] = await launchFrame(socket);
    expect(third?.taskId).toBeTruthy();
    expect((await call(`/c/${account.cluster.id}/v2/queue/rs/delay`, { method: "DELETE", token: account.token })).status).toBe(404);
  });

  it("/v2/tasks filters by status, /v2/tasks/delete kills by id, /v2/info describes the framework", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    await post(account, "/v2/apps", { id: "/t", cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 2 });
    const launched = await launchFrame(socket);
    await running(socket, [launched[0]?.taskId ?? ""], "t1");
    await expect.poll(async () => (await get<{ tasks: unknown[] }>(account, "/v2/tasks?status=running")).tasks.length).toBe(1);
    expect((await get<{ tasks: unknown[] }>(account, "/v2/tasks?status=staging")).tasks).toHaveLength(1);
    expect((await get<{ tasks: unknown[] }>(account, "/v2/tasks")).tasks).toHaveLength(2);
    const bad = await post(account, "/v2/tasks/delete", { ids: ["nope", "nada"] });
    expect(bad.status).toBe(400);
    const del = await post(account, "/v2/tasks/delete?scale=true", { ids: [launched[1]?.taskId] });
    expect(del.status).toBe(200);
    expect((await get<{ app: { instances: number } }>(account, "/v2/apps/t")).app.instances).toBe(1);
    const info = await get<{ name: string; marathon_config: { local_port_min: number } }>(account, "/v2/info");
    expect(info).toMatchObject({ name: "marathon", marathon_config: { local_port_min: 10000 } });
  });

  it("shows Marathon and its tasks in /master/state, /master/frameworks and /master/tasks, with Mesos names", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account);
    await post(account, "/v2/apps", { id: "/shop/web", cmd: "sleep 100", cpus: 0.25, mem: 32, instances: 1 });
    const [task] = await launchFrame(socket);
    await running(socket, [task?.taskId ?? ""], "ms");
    await expect.poll(async () => (await get<{ tasks: { state: string }[] }>(account, "/master/tasks")).tasks[0]?.state).toBe("TASK_RUNNING");
    const state = await get<{ frameworks: { name: string; tasks: Record<string, unknown>[] }[] }>(account, "/master/state");
    expect(state.frameworks.map((f) => f.name)).toEqual(["marathon", "metronome"]);
    expect(state.frameworks[0]?.tasks[0]).toMatchObject({
      id: task?.taskId,
      name: "web.shop",
      slave_id: agentId,
      state: "TASK_RUNNING",
      resources: { cpus: 0.25, mem: 32 },
    });
    const frameworks = await get<{ frameworks: { id: string; name: string }[] }>(account, "/master/frameworks");
    expect(frameworks.frameworks.map((f) => f.name)).toEqual(["marathon", "metronome"]);
    const one = await get<{ tasks: unknown[] }>(account, `/master/tasks?task_id=${task?.taskId}`);
    expect(one.tasks).toHaveLength(1);
    const metrics = await get<Record<string, number>>(account, "/metrics/snapshot");
    expect(metrics["master/tasks_running"]).toBe(1);
    expect(metrics["master/cpus_used"]).toBe(0.25);
  });
});
