import { describe, expect, it } from "vitest";
import { type Account, call, joinAgent, signUp } from "./helpers.ts";

/**
 * What Marathon's, Metronome's and Mesos's own clients can tell apart: query parameters read
 * as Marathon reads them, partial PUTs, HTTP Basic auth, only Marathon's fields in bodies,
 * the system routes, and DC/OS's path layout under the cluster.
 */

const api = (a: Account, path: string, init: { method?: string; json?: unknown; headers?: Record<string, string> } = {}) =>
  call(`/c/${a.cluster.id}${path}`, { token: a.token, ...init });
const json = async <T>(res: Response | Promise<Response>) => (await (await res).json()) as T;

interface AppJson {
  id: string;
  cmd: string;
  instances: number;
  env: Record<string, string>;
  deployments: { id: string }[];
}

async function createApp(a: Account, body: Record<string, unknown>) {
  const res = await api(a, "/v2/apps", { method: "POST", json: { cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 0, ...body } });
  expect(res.status).toBe(201);
  return json<AppJson>(res);
}

describe("Marathon's wire behaviour", () => {
  it("reads boolean flags in any case, and refuses a value that is no boolean, naming the parameter", async () => {
    const a = await signUp();
    await createApp(a, { id: "/web", instances: 1 });
    // No agent: the start deployment stays, and holds the app.
    expect((await api(a, "/v2/apps/web", { method: "PATCH", json: { instances: 2 } })).status).toBe(409);
    expect((await api(a, "/v2/apps/web?force=True", { method: "PATCH", json: { instances: 2 } })).status).toBe(200);
    expect((await api(a, "/v2/apps/web?force=FALSE", { method: "PATCH", json: { instances: 3 } })).status).toBe(409);
    const bad = await api(a, "/v2/apps/web?force=ture", { method: "PATCH", json: { instances: 3 } });
    expect(bad.status).toBe(400);
    expect(await json<{ details: unknown[] }>(bad)).toMatchObject({ details: [{ path: "force", errors: [expect.stringMatching(/ture/)] }] });
  });

  it("PUT /v2/apps/{id} merges onto the app unless partialUpdate=false, and still creates a new app", async () => {
    const a = await signUp();
    expect((await api(a, "/v2/apps/web", { method: "PUT", json: { cmd: "sleep 5", mem: 16, cpus: 0.1, instances: 0 } })).status).toBe(201);
    expect((await api(a, "/v2/apps/web", { method: "PUT", json: { env: { A: "1" } } })).status).toBe(200);
    const merged = (await json<{ app: AppJson }>(api(a, "/v2/apps/web"))).app;
    expect([merged.cmd, merged.env]).toEqual(["sleep 5", { A: "1" }]);
    // A full replacement needs a full definition: without a command it is Marathon's 422.
    const replaced = await api(a, "/v2/apps/web?partialUpdate=false", { method: "PUT", json: { env: { B: "2" } } });
    expect(replaced.status).toBe(422);
    expect((await api(a, "/v2/apps/web?partialUpdate=False", { method: "PUT", json: { cmd: "sleep 6", env: { B: "2" } } })).status).toBe(200);
    expect((await json<{ app: AppJson }>(api(a, "/v2/apps//web"))).app.env).toEqual({ B: "2" });
  });

  it("accepts HTTP Basic auth with the API token as the password, and nothing else as Basic", async () => {
    const a = await signUp();
    const basic = (user: string, password: string) => ({ Authorization: `Basic ${btoa(`${user}:${password}`)}` });
    expect((await call(`/c/${a.cluster.id}/v2/apps`, { headers: basic("anyone", a.token) })).status).toBe(200);
    expect((await call(`/c/${a.cluster.id}/v2/apps`, { headers: basic("anyone", "wrong") })).status).toBe(401);
    expect((await call(`/c/${a.cluster.id}/v2/apps`, { headers: basic(a.token, "") })).status).toBe(401);
    expect((await call(`/c/${a.cluster.id}/v2/apps`, { headers: { Authorization: "Basic %%%" } })).status).toBe(401);
  });

  it("sends only Marathon's fields: no task message, no deployment waiting unless embed=waiting, no queue role", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    await createApp(a, { id: "/big", cpus: 64, instances: 1 });
    await createApp(a, { id: "/small", instances: 1 });
    let launch: { type?: string; tasks?: { taskId: string }[] };
    do launch = await socket.next();
    while (launch.type !== "launch");
    const taskId = launch.tasks?.[0]?.taskId ?? "";
    socket.send({ type: "status", updates: [{ updateId: "m1", taskId, state: "TASK_RUNNING", message: "started", timestamp: Date.now() }] });
    await socket.nextOfType("ack");
    const [task] = (await json<{ tasks: Record<string, unknown>[] }>(api(a, "/v2/tasks"))).tasks;
    expect(task).toMatchObject({ id: taskId, appId: "/small" });
    expect(task).not.toHaveProperty("message");
    const [plain] = await json<Record<string, unknown>[]>(api(a, "/v2/deployments"));
    expect(plain).not.toHaveProperty("waiting");
    const [explained] = await json<Record<string, unknown>[]>(api(a, "/v2/deployments?embed=waiting"));
    expect(explained?.waiting).toMatchObject({ instances: 1, reasons: { "insufficient cpus": 1 } });
    const queue = await json<{ queue: Record<string, unknown>[] }>(api(a, "/v2/queue?embed=lastUnusedOffers"));
    expect(queue.queue[0]).not.toHaveProperty("role");
    expect(queue.queue[0]?.lastUnusedOffers).toHaveLength(1);
    const summary = queue.queue[0]?.processedOffersSummary as {
      unusedOffersCount: number;
      rejectSummaryLastOffers: { reason: string; declined: number; processed: number }[];
    };
    expect(summary.unusedOffersCount).toBe(1);
    expect(summary.rejectSummaryLastOffers.find((r) => r.reason === "InsufficientCpus")).toEqual({ reason: "InsufficientCpus", declined: 1, processed: 1 });
  });

  it("embed=lastUnusedOffers lists each agent the last round turned down, in Marathon's UnusedOffer shape with its reject reasons", async () => {
    const a = await signUp();
    const one = await joinAgent(a, { hostname: "node-1", attributes: { rack: "r1", level: 3 } });
    const two = await joinAgent(a, {
      hostname: "node-2",
      ip: "10.0.0.2",
      attributes: { rack: "r2" },
      resources: { cpus: 1, mem: 8192, disk: 100_000, gpus: 0, ports: [[31000, 31009]] },
    });
    // Too big for node-2's single cpu, and kept off node-1 by a constraint.
    await createApp(a, { id: "/picky", cpus: 2, instances: 1, constraints: [["rack", "LIKE", "r2"]] });
    const plain = await json<{ queue: Record<string, unknown>[] }>(api(a, "/v2/queue"));
    expect(plain.queue[0]).not.toHaveProperty("lastUnusedOffers");
    const queue = await json<{ queue: { app: { id: string }; lastUnusedOffers: unknown[] }[] }>(api(a, "/v2/queue?embed=lastUnusedOffers"));
    const entry = queue.queue.find((e) => e.app.id === "/picky");
    const offers = entry?.lastUnusedOffers as {
      offer: { id: string; agentId: string; hostname: string; resources: unknown[]; attributes: unknown[] };
      reason: string[];
      timestamp: string;
    }[];
    expect(offers.map((o) => [o.offer.hostname, o.reason])).toEqual([
      ["node-1", ["UnfulfilledConstraint"]],
      ["node-2", ["InsufficientCpus"]],
    ]);
    const first = offers[0];
    expect(first?.offer).toMatchObject({ agentId: one.agentId, id: expect.stringContaining(one.agentId) });
    expect(first?.offer.resources).toEqual([
      { name: "cpus", role: "*", scalar: 4 },
      { name: "mem", role: "*", scalar: 8192 },
      { name: "disk", role: "*", scalar: 100_000 },
      { name: "ports", role: "*", ranges: [{ begin: 31000, end: 32000 }] },
    ]);
    expect(first?.offer.attributes).toEqual(
      expect.arrayContaining([
        { name: "rack", text: "r1" },
        { name: "level", scalar: 3 },
      ]),
    );
    expect(offers[1]?.offer).toMatchObject({
      agentId: two.agentId,
      resources: expect.arrayContaining([{ name: "ports", role: "*", ranges: [{ begin: 31000, end: 31009 }] }]),
    });
    expect(Number.isNaN(Date.parse(first?.timestamp ?? ""))).toBe(false);
    // Placed once the constraint allows it: no longer queued, no offers left over.
    expect((await api(a, "/v2/apps/picky?force=true", { method: "PUT", json: { cpus: 1, constraints: [] } })).status).toBe(200);
    const after = await json<{ queue: { app: { id: string } }[] }>(api(a, "/v2/queue?embed=lastUnusedOffers"));
    expect(after.queue.find((e) => e.app.id === "/picky")).toBeUndefined();
  });

  it("reads an id with or without its leading slash, slashes collapsed, on every route that takes one", async () => {
    const a = await signUp();
    const created = await api(a, "/v2/apps", { method: "POST", json: { id: "/shop/web", cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 1 } });
    const deployment = created.headers.get("Marathon-Deployment-Id") ?? "";
    const routes: [string, (id: string) => string][] = [
      ["GET", (id) => `/v2/apps/${id}`],
      ["GET", (id) => `/v2/apps/${id}/tasks`],
      ["GET", (id) => `/v2/apps/${id}/versions`],
      ["GET", (id) => `/v2/groups/${id.replace(/web$/, "")}`],
      ["GET", (id) => `/v2/groups/${id.replace(/web$/, "")}versions`],
      ["GET", (id) => `/service/marathon/v2/apps/${id}`],
      ["GET", (id) => `/v2/deployments/${id.replace("shop/web", deployment)}`],
    ];
    for (const [method, path] of routes) {
      const answers = [];
      for (const id of ["shop/web", "/shop/web", "//shop/web"]) {
        const res = await api(a, path(id), { method });
        answers.push(`${res.status} ${await res.text()}`);
      }
      expect(answers[0]?.startsWith("200 "), `${method} ${path("shop/web")}: ${answers[0]}`).toBe(true);
      expect(new Set(answers).size, `${method} ${path("shop/web")}`).toBe(1);
    }
    // The queue: the app waits for an agent, so its delay may be reset under any spelling.
    for (const id of ["shop/web", "/shop/web", "//shop/web/"]) expect((await api(a, `/v2/queue/${id}/delay`, { method: "DELETE" })).status, id).toBe(204);
    const tasks = await api(a, "/v2/apps//shop/web/tasks?scale=True", { method: "DELETE" });
    expect(tasks.status).toBe(200);
  });

  it("resets the delay of any app in the launch queue, by id with or without its slash, and 404s one that is not queued", async () => {
    const a = await signUp();
    await createApp(a, { id: "/q/web", instances: 1 });
    await createApp(a, { id: "/idle" });
    expect((await api(a, "/v2/queue/q/web/delay", { method: "DELETE" })).status).toBe(204);
    expect((await api(a, "/v2/queue//q/web/delay", { method: "DELETE" })).status).toBe(204);
    expect((await api(a, "/v2/queue/idle/delay", { method: "DELETE" })).status).toBe(404);
  });

  it("serves /ping, /metrics (Marathon's JSON), /logging and DELETE /v2/leader; /v2/info has Marathon's fields", async () => {
    const a = await signUp();
    await createApp(a, { id: "/prod/web" });
    const ping = await api(a, "/ping");
    expect([ping.status, await ping.text()]).toEqual([200, "pong"]);
    const metrics = await json<{ version: string; gauges: Record<string, { value: number }>; counters: object; timers: object }>(api(a, "/metrics"));
    expect(metrics.gauges["marathon.apps.active.gauge"]).toEqual({ value: 1 });
    expect(metrics.gauges["marathon.groups.active.gauge"]).toEqual({ value: 2 });
    expect(Object.keys(metrics).sort()).toEqual(["counters", "gauges", "histograms", "meters", "timers", "version"]);
    expect(await json(api(a, "/logging"))).toEqual({ ROOT: "INFO" });
    expect((await api(a, "/logging", { method: "POST", json: { logger: "x", level: "loud" } })).status).toBe(422);
    expect((await api(a, "/logging", { method: "POST", json: { logger: "x", level: "debug" } })).status).toBe(405);
    expect(await json(api(a, "/v2/leader", { method: "DELETE" }))).toEqual({ message: "Leadership abdicated" });
    const info = await json<{ marathon_config: Record<string, unknown>; zookeeper_config: unknown }>(api(a, "/v2/info"));
    expect(info.marathon_config.features).toEqual(["task_killing"]);
    expect(info.marathon_config).not.toHaveProperty("mesos_version");
    expect(info.zookeeper_config).toEqual({ zk: null });
  });
});

describe("DC/OS's path layout and the rest of the surface", () => {
  it("serves Marathon under /service/marathon, Metronome under /service/metronome, Mesos under /mesos, and /capabilities", async () => {
    const a = await signUp();
    await createApp(a, { id: "/web" });
    expect((await json<{ apps: AppJson[] }>(api(a, "/service/marathon/v2/apps"))).apps.map((x) => x.id)).toEqual(["/web"]);
    expect(await (await api(a, "/service/marathon/ping")).text()).toBe("pong");
    expect((await api(a, "/service/metronome/v1/jobs")).status).toBe(200);
    expect(await json(api(a, "/service/metronome/info"))).toMatchObject({ version: expect.any(String), libVersion: expect.any(String) });
    expect(await json(api(a, "/service/metronome/leader"))).toEqual({ leader: "dcx.test" });
    expect(await (await api(a, "/service/metronome/ping")).text()).toBe("pong");
    for (const path of ["/mesos/master/state", "/mesos/state", "/state", "/master/state.json"]) {
      const state = await json<Record<string, unknown>>(api(a, path));
      expect(state, path).toMatchObject({ version: "1.11.0", build_user: "dcx", build_time: expect.any(Number), build_date: expect.any(String) });
    }
    expect((await api(a, "/mesos_dns/v1/version")).status).toBe(200);
    const caps = await api(a, "/capabilities");
    expect(caps.headers.get("Content-Type")).toMatch(/application\/vnd\.dcos\.capabilities\+json/);
    expect(await caps.json()).toEqual({ capabilities: [{ name: "PACKAGE_MANAGEMENT" }, { name: "METRONOME" }] });
  });

  it("answers the Mesos master's state-summary, flags, roles, version and short forms", async () => {
    const a = await signUp();
    await joinAgent(a);
    const summary = await json<{ slaves: Record<string, unknown>[]; frameworks: { name: string; TASK_RUNNING: number }[] }>(api(a, "/master/state-summary"));
    expect(summary.slaves).toHaveLength(1);
    expect(summary.slaves[0]).toMatchObject({ TASK_RUNNING: 0, framework_ids: [] });
    expect(summary.frameworks.map((f) => [f.name, f.TASK_RUNNING])).toEqual([
      ["marathon", 0],
      ["metronome", 0],
    ]);
    const { flags } = await json<{ flags: Record<string, string> }>(api(a, "/master/flags"));
    expect(flags).toMatchObject({ allocation_interval: "1secs", agent_ping_timeout: expect.stringMatching(/^\d+(\.\d+)?secs$/) });
    expect((await json<{ flags: unknown }>(api(a, "/master/state"))).flags).toEqual(flags);
    expect(await json(api(a, "/master/roles"))).toMatchObject({ roles: [{ name: "*", weight: 1 }] });
    for (const path of ["/version", "/master/version", "/mesos/version"])
      expect(await json(api(a, path)), path).toMatchObject({ version: "1.11.0", build_user: "dcx" });
    expect(await json<{ slaves: unknown[] }>(api(a, "/slaves"))).toMatchObject({ slaves: [expect.anything()] });
    expect(await json<{ frameworks: unknown[] }>(api(a, "/frameworks"))).toMatchObject({ frameworks: [expect.anything(), expect.anything()] });
    for (const path of ["/master/nonsense", "/master/constructor", "/master/__proto__"]) expect((await api(a, path)).status, path).toBe(404);
  });

  it("refuses to tear down a built-in framework, naming it; an unknown or missing id is a 400", async () => {
    const a = await signUp();
    const [marathon] = (await json<{ frameworks: { id: string }[] }>(api(a, "/master/frameworks"))).frameworks;
    const form = (body: string) => ({ method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body });
    const refused = await call(`/c/${a.cluster.id}/master/teardown`, { token: a.token, ...form(`frameworkId=${marathon?.id}`) });
    expect(refused.status).toBe(409);
    expect((await json<{ message: string }>(refused)).message).toMatch(/built-in marathon/);
    expect((await call(`/c/${a.cluster.id}/mesos/master/teardown`, { token: a.token, ...form("frameworkId=nope") })).status).toBe(400);
    expect((await call(`/c/${a.cluster.id}/teardown`, { token: a.token, ...form("") })).status).toBe(400);
  });

  it("serves Metronome's /v1/metrics and the legacy /v0/scheduled-jobs (a job with its schedules)", async () => {
    const a = await signUp();
    const job = { id: "nightly", run: { cmd: "true", cpus: 0.1, mem: 32 }, schedules: [{ id: "night", cron: "0 3 * * *" }] };
    expect((await api(a, "/v0/scheduled-jobs", { method: "POST", json: job })).status).toBe(201);
    expect(await json(api(a, "/v1/jobs/nightly/schedules"))).toMatchObject([{ id: "night", cron: "0 3 * * *" }]);
    const replaced = await api(a, "/service/metronome/v0/scheduled-jobs/nightly", {
      method: "PUT",
      json: { ...job, schedules: [{ id: "noon", cron: "0 12 * * *" }] },
    });
    expect(replaced.status).toBe(200);
    expect((await json<{ id: string }[]>(api(a, "/v1/jobs/nightly/schedules"))).map((s) => s.id)).toEqual(["noon"]);
    expect((await api(a, "/v0/scheduled-jobs/other", { method: "PUT", json: job })).status).toBe(422);
    const metrics = await json<{ gauges: Record<string, { value: number }> }>(api(a, "/v1/metrics"));
    expect(metrics.gauges["jobs.active.gauge"]).toEqual({ value: 1 });
  });

  it("reads Metronome's flags and embeds as Marathon's: stopCurrentJobRuns=True, embed lists comma-separated", async () => {
    const a = await signUp();
    expect((await api(a, "/v1/jobs", { method: "POST", json: { id: "busy", run: { cmd: "sleep 100", cpus: 0.1, mem: 32 } } })).status).toBe(201);
    expect((await api(a, "/v1/jobs/busy/runs", { method: "POST" })).status).toBe(201);
    const [job] = await json<{ activeRuns: unknown[]; historySummary: unknown }[]>(api(a, "/v1/jobs?embed=activeRuns,historySummary"));
    expect(job?.activeRuns).toHaveLength(1);
    expect(job?.historySummary).toBeDefined();
    expect((await api(a, "/v1/jobs/busy?stopCurrentJobRuns=nah", { method: "DELETE" })).status).toBe(400);
    expect((await api(a, "/v1/jobs/busy?stopCurrentJobRuns=False", { method: "DELETE" })).status).toBe(409);
    expect((await api(a, "/v1/jobs/busy?stopCurrentJobRuns=True", { method: "DELETE" })).status).toBe(200);
  });
});
