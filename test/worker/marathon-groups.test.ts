import { describe, expect, it } from "vitest";
import { type Account, type TestSocket, call, joinAgent, signUp } from "./helpers.ts";

/**
 * Marathon groups over HTTP: implied by app ids (`/prod/web/api` is in `/prod/web`), read with
 * Marathon's embeds, and removed with every app inside them; and the `embed` parameters of
 * `/v2/apps`. Apps without instances need no agent; those with tasks run on a protocol-level one.
 */

interface AppJson {
  id: string;
  version: string;
  tasksRunning?: number;
  deployments?: { id: string }[];
  tasks?: { id: string; state: string }[];
  lastTaskFailure?: unknown;
  taskStats?: Record<string, { stats: { counts: Record<string, number>; lifeTime?: { averageSeconds: number; medianSeconds: number } } }>;
  readinessCheckResults?: { name: string; taskId: string; ready: boolean }[];
}
interface GroupJson {
  id: string;
  apps?: AppJson[];
  pods?: unknown[];
  groups?: GroupJson[];
  dependencies: string[];
  version: string;
}
interface ErrorJson {
  message: string;
  details?: { path: string; errors: string[] }[];
  deployments?: { id: string }[];
}
interface DeploymentJson {
  id: string;
  affectedApps: string[];
  currentActions: { action: string }[];
}

let seq = 0;
const api = (a: Account, path: string, init: { method?: string; json?: unknown } = {}) => call(`/c/${a.cluster.id}${path}`, { token: a.token, ...init });
const getJson = async <T>(a: Account, path: string) => (await (await api(a, path)).json()) as T;
const group = (a: Account, path: string) => getJson<GroupJson>(a, `/v2/groups${path}`);
const appIds = async (a: Account) => (await getJson<{ apps: AppJson[] }>(a, "/v2/apps")).apps.map((x) => x.id);
const deployments = (a: Account) => getJson<DeploymentJson[]>(a, "/v2/deployments");

async function create(a: Account, id: string, extra: Record<string, unknown> = {}) {
  const res = await api(a, "/v2/apps", { method: "POST", json: { id, cmd: "sleep 1000", cpus: 0.1, mem: 16, instances: 0, ...extra } });
  expect(res.status).toBe(201);
  return (await res.json()) as AppJson;
}

/** Reports updates as the agent would, and waits for their ack. */
async function report(socket: TestSocket, updates: Record<string, unknown>[]): Promise<void> {
  socket.send({ type: "status", updates: updates.map((u) => ({ updateId: `g-${seq++}`, state: "TASK_RUNNING", timestamp: Date.now(), ...u })) });
  await socket.nextOfType("ack");
}

/** Creates an app with running instances on the agent; returns its task ids. */
async function running(a: Account, socket: TestSocket, id: string, instances = 1, extra: Record<string, unknown> = {}): Promise<string[]> {
  await create(a, id, { instances, ...extra });
  const launch = await socket.nextOfType<{ tasks: { taskId: string }[] }>("launch");
  const ids = launch.tasks.map((t) => t.taskId);
  await report(
    socket,
    ids.map((taskId) => ({ taskId })),
  );
  return ids;
}

describe("GET /v2/groups", () => {
  it("nests groups from app ids, Marathon's GroupInfo with apps and groups by default", async () => {
    const a = await signUp();
    const api1 = await create(a, "/prod/web/api");
    await create(a, "/prod/web/ui");
    const db = await create(a, "/prod/db");
    await create(a, "/production");
    const top = await create(a, "/top");
    const root = await group(a, "");
    // No `enforceRole`: marathon-python 0.13 refuses a group carrying it, and DCX has one role.
    expect(root).toMatchObject({ id: "/", pods: [], dependencies: [] });
    expect(root).not.toHaveProperty("enforceRole");
    expect(root.apps?.map((x) => x.id)).toEqual(["/production", "/top"]);
    expect(root.groups?.map((g) => g.id)).toEqual(["/prod"]);
    const prod = root.groups?.[0];
    expect(prod?.apps?.map((x) => x.id)).toEqual(["/prod/db"]);
    expect(prod?.groups?.map((g) => g.id)).toEqual(["/prod/web"]);
    expect(prod?.groups?.[0]?.apps?.map((x) => x.id)).toEqual(["/prod/web/api", "/prod/web/ui"]);
    expect(prod?.groups?.[0]?.groups).toEqual([]);
    // A group's version is the newest of the apps inside it; the root's is the newest of all.
    expect(prod?.version).toBe(db.version > api1.version ? db.version : api1.version);
    expect(root.version).toBe(top.version);
    // Without group.apps.counts / .deployments, a group's apps show neither (unlike /v2/apps).
    expect(prod?.apps?.[0]).not.toHaveProperty("tasksRunning");
    expect(prod?.apps?.[0]).not.toHaveProperty("deployments");
    expect(prod?.apps?.[0]).toMatchObject({ cmd: "sleep 1000", instances: 0, version: db.version });
  });

  it("shows one group by id (trailing slash or not), the same subtree as the root shows", async () => {
    const a = await signUp();
    await create(a, "/prod/web/api");
    await create(a, "/prod/db");
    const root = await group(a, "");
    expect(await group(a, "/prod")).toEqual(root.groups?.[0]);
    expect(await group(a, "/prod/web/")).toEqual(root.groups?.[0]?.groups?.[0]);
    expect((await api(a, "/v2/groups/")).status).toBe(200);
  });

  it("is an empty root group on a cluster without apps", async () => {
    const a = await signUp();
    expect(await group(a, "")).toEqual({ id: "/", apps: [], pods: [], groups: [], dependencies: [], version: "1970-01-01T00:00:00.000Z" });
  });

  it("404s with Marathon's message for a group no app lies in: a prefix of a segment, an app, nothing", async () => {
    const a = await signUp();
    await create(a, "/prod/web");
    for (const path of ["/pro", "/prod/web", "/prod/we", "/nope", "/prod/web/versions/x"]) {
      const res = await api(a, `/v2/groups${path}`);
      expect(res.status, path).toBe(404);
    }
    expect(await (await api(a, "/v2/groups/prod/web")).json()).toEqual({ message: "Group '/prod/web' does not exist" });
    expect(await (await api(a, "/v2/groups/nope/versions")).json()).toEqual({ message: "Group '/nope' does not exist" });
  });

  it("answers malformed group ids with 400 naming the problem", async () => {
    const a = await signUp();
    const cases: [string, RegExp][] = [
      ["/Prod", /segment 'Prod' is invalid/],
      ["/a_b/c", /segment 'a_b' is invalid/],
      ["/-x", /segment '-x' is invalid/],
    ];
    for (const [path, problem] of cases) {
      for (const method of ["GET", "DELETE"]) {
        const res = await api(a, `/v2/groups${path}`, { method });
        expect(res.status, `${method} ${path}`).toBe(400);
        const body = (await res.json()) as ErrorJson;
        expect(body.message).toMatch(problem);
        expect(body.details).toEqual([{ path: "/id", errors: [expect.stringMatching(problem)] }]);
      }
    }
  });

  it("embeds what group.groups, group.apps and group.apps.* ask for, and nothing else once any is named", async () => {
    const a = await signUp();
    await create(a, "/prod/web/api");
    await create(a, "/prod/db");
    const groupsOnly = await group(a, "/prod?embed=group.groups");
    expect(groupsOnly).not.toHaveProperty("apps");
    expect(groupsOnly).not.toHaveProperty("pods");
    expect(groupsOnly.groups?.map((g) => g.id)).toEqual(["/prod/web"]);
    expect(groupsOnly.groups?.[0]).not.toHaveProperty("apps");

    const counted = await group(a, "/prod?embed=group.apps&embed=group.apps.counts");
    expect(counted).not.toHaveProperty("groups");
    expect(counted.apps?.[0]).toMatchObject({ id: "/prod/db", tasksRunning: 0 });
    expect(counted.apps?.[0]).not.toHaveProperty("deployments");

    const comma = await group(a, "/prod?embed=group.apps,group.apps.deployments,group.groups");
    expect(comma.apps?.[0]?.deployments).toEqual([]);
    expect(comma.groups?.[0]?.apps?.[0]?.deployments).toEqual([]);

    const appEmbedsOnly = await group(a, "/prod?embed=group.apps.tasks");
    expect(Object.keys(appEmbedsOnly).sort()).toEqual(["dependencies", "id", "version"]);

    for (const bad of ["apps.tasks", "group.everything", "group.apps.nope"]) {
      const res = await api(a, `/v2/groups?embed=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(((await res.json()) as ErrorJson).message).toContain(`Unknown embed '${bad}'`);
    }
  });

  it("embeds the tasks of the apps inside with group.apps.tasks", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    const [taskId] = await running(a, socket, "/shop/web");
    const shop = await group(a, "/shop?embed=group.apps&embed=group.apps.tasks");
    expect(shop.apps?.[0]?.tasks?.map((t) => [t.id, t.state])).toEqual([[taskId, "TASK_RUNNING"]]);
    expect(shop.apps?.[0]).toHaveProperty("deployments");
  });

  it("lists the versions of the apps inside a group, newest first, and only theirs", async () => {
    const a = await signUp();
    const first = await create(a, "/prod/api");
    const other = await create(a, "/production");
    const changed = await api(a, "/v2/apps/prod/api?force=true", { method: "PUT", json: { cmd: "sleep 2000", cpus: 0.1, mem: 16, instances: 0 } });
    const second = ((await changed.json()) as { version: string }).version;
    const versions = await getJson<string[]>(a, "/v2/groups/prod/versions");
    expect(versions).toEqual([second, first.version]);
    expect(await getJson<string[]>(a, "/v2/groups/versions")).toEqual([second, other.version, first.version].sort().reverse());
  });

  it("PATCH changes only enforceRole: false is the group as it is, true is a 422 naming the field", async () => {
    const a = await signUp();
    await create(a, "/prod/web");
    const res = await api(a, "/v2/groups/prod", { method: "PATCH", json: { enforceRole: true } });
    expect(res.status).toBe(422);
    expect(((await res.json()) as ErrorJson).details).toEqual([{ path: "/enforceRole", errors: [expect.stringMatching(/one role/)] }]);
    const same = await api(a, "/v2/groups//prod", { method: "PATCH", json: { enforceRole: false } });
    expect(same.status).toBe(200);
    expect(((await same.json()) as GroupJson).apps?.map((x) => x.id)).toEqual(["/prod/web"]);
    expect((await api(a, "/v2/groups/nope", { method: "PATCH", json: {} })).status).toBe(404);
    expect((await api(a, "/v2/groups/prod", { method: "PATCH", json: { instances: 2 } })).status).toBe(422);
  });

  it("reads group ids with or without their leading slash, and with doubled slashes, as Marathon's PathId does", async () => {
    const a = await signUp();
    await create(a, "/a/b/web");
    for (const path of ["/a/b", "//a/b", "/a//b", "/a/b/"]) expect((await group(a, path)).id, path).toBe("/a/b");
  });
});

describe("app ids and groups", () => {
  it("refuses an app inside another app, or one whose id is a group, as Marathon does (422 on /id)", async () => {
    const a = await signUp();
    await create(a, "/prod/web");
    for (const [id, why] of [
      ["/prod/web/api", "it would lie inside the app /prod/web"],
      ["/prod", "the app /prod/web lies inside it"],
    ]) {
      const res = await api(a, "/v2/apps", { method: "POST", json: { id, cmd: "sleep 1", cpus: 0.1, mem: 16, instances: 0 } });
      expect(res.status, id).toBe(422);
      expect(((await res.json()) as ErrorJson).details).toEqual([
        { path: "/id", errors: [`Groups and Applications may not have the same identifier: ${why}`] },
      ]);
    }
    expect((await api(a, "/v2/apps/prod?force=true", { method: "PUT", json: { cmd: "sleep 1", cpus: 0.1, mem: 16 } })).status).toBe(422);
    await create(a, "/prod/db");
    await create(a, "/production");
    expect(await appIds(a)).toEqual(["/prod/db", "/prod/web", "/production"]);
  });
});

describe("DELETE /v2/groups/{id}", () => {
  it("removes every app inside the group, one stop deployment each, and none outside it", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    const [webTask] = await running(a, socket, "/prod/web");
    const [apiTask] = await running(a, socket, "/prod/svc/api");
    const [outside] = await running(a, socket, "/production");
    await expect.poll(() => deployments(a)).toEqual([]);

    const res = await api(a, "/v2/groups/prod", { method: "DELETE" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { deploymentId: string; version: string; deploymentIds: string[] };
    expect(res.headers.get("Marathon-Deployment-Id")).toBe(body.deploymentId);
    expect(body.deploymentIds).toHaveLength(2);
    expect(body.deploymentIds[0]).toBe(body.deploymentId);
    expect(Date.parse(body.version)).not.toBeNaN();

    expect(await appIds(a)).toEqual(["/production"]);
    expect((await api(a, "/v2/groups/prod")).status).toBe(404);
    const stops = await deployments(a);
    expect(stops.map((d) => d.id).sort()).toEqual([...body.deploymentIds].sort());
    expect(stops.map((d) => [d.affectedApps, d.currentActions[0]?.action]).sort()).toEqual([
      [["/prod/svc/api"], "StopApplication"],
      [["/prod/web"], "StopApplication"],
    ]);
    const kill = await socket.nextOfType<{ taskIds: string[] }>("kill");
    expect([...kill.taskIds].sort()).toEqual([webTask, apiTask].sort());
    expect(kill.taskIds).not.toContain(outside);
    await report(
      socket,
      kill.taskIds.map((taskId) => ({ taskId, state: "TASK_KILLED" })),
    );
    await expect.poll(() => deployments(a)).toEqual([]);
    expect((await group(a, "")).apps?.map((x) => x.id)).toEqual(["/production"]);
  });

  it("409s while a deployment holds any app inside, removing nothing; ?force=true removes them all", async () => {
    const a = await signUp();
    await create(a, "/team/idle");
    await create(a, "/team/busy", { instances: 1 });
    const [held] = await deployments(a);
    expect(held?.affectedApps).toEqual(["/team/busy"]);

    const conflict = await api(a, "/v2/groups/team", { method: "DELETE" });
    expect(conflict.status).toBe(409);
    const body = (await conflict.json()) as ErrorJson;
    expect(body.message).toContain("locked");
    expect(body.deployments).toEqual([{ id: held?.id }]);
    expect(await appIds(a)).toEqual(["/team/busy", "/team/idle"]);

    const forced = await api(a, "/v2/groups/team?force=true", { method: "DELETE" });
    expect(forced.status).toBe(200);
    expect(await appIds(a)).toEqual([]);
    expect((await deployments(a)).map((d) => d.id)).not.toContain(held?.id);
  });

  it("404s for a group no app lies in, even one whose name starts another's", async () => {
    const a = await signUp();
    await create(a, "/production/web");
    for (const path of ["/prod", "/production/web", "/nope"]) {
      const res = await api(a, `/v2/groups${path}`, { method: "DELETE" });
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual({ message: `Group '${path}' does not exist` });
    }
    expect(await appIds(a)).toEqual(["/production/web"]);
  });

  it("on the root removes every app; on an empty root it still answers a DeploymentResult", async () => {
    const a = await signUp();
    await create(a, "/a/b");
    await create(a, "/c");
    const res = await api(a, "/v2/groups", { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { deploymentIds: string[] }).deploymentIds).toHaveLength(2);
    expect(await appIds(a)).toEqual([]);
    const empty = await api(a, "/v2/groups", { method: "DELETE" });
    expect(empty.status).toBe(200);
    expect(await empty.json()).toMatchObject({ deploymentId: expect.any(String), deploymentIds: [] });
  });
});

describe("embed on /v2/apps", () => {
  it("always shows counts and deployments; tasks, taskStats and readiness only when asked", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    const [t1, t2] = await running(a, socket, "/web", 2);
    await expect.poll(() => deployments(a)).toEqual([]);

    const [plain] = (await getJson<{ apps: AppJson[] }>(a, "/v2/apps")).apps;
    expect(plain).toMatchObject({ id: "/web", tasksRunning: 2, deployments: [] });
    for (const key of ["tasks", "taskStats", "readinessCheckResults"]) expect(plain).not.toHaveProperty(key);

    const [rich] = (await getJson<{ apps: AppJson[] }>(a, "/v2/apps?embed=apps.tasks&embed=apps.taskStats,apps.readiness")).apps;
    expect(rich?.tasks?.map((t) => t.id).sort()).toEqual([t1, t2].sort());
    expect(rich?.readinessCheckResults).toEqual([]);
    const total = rich?.taskStats?.totalSummary?.stats;
    expect(total?.counts).toEqual({ staged: 0, running: 2, healthy: 0, unhealthy: 0 });
    expect(total?.lifeTime?.medianSeconds).toBeGreaterThanOrEqual(0);
    expect(rich?.taskStats?.withLatestConfig?.stats.counts.running).toBe(2);
    expect(rich?.taskStats).not.toHaveProperty("withOutdatedConfig");
  });

  it("a single app always has tasks and its last failure; taskStats and readiness on request", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    const [task] = await running(a, socket, "/one");
    await report(socket, [{ taskId: task, state: "TASK_FAILED", message: "exited with code 1" }]);
    const { app } = await getJson<{ app: AppJson }>(a, "/v2/apps/one");
    expect(app).toHaveProperty("tasks");
    expect(app.lastTaskFailure).toMatchObject({ taskId: task, state: "TASK_FAILED" });
    expect(app).not.toHaveProperty("taskStats");
    const withStats = (await getJson<{ app: AppJson }>(a, "/v2/apps/one?embed=app.taskStats")).app;
    expect(withStats).toHaveProperty("taskStats");
    // The list shows the last failure too: DCX's list always has.
    expect((await getJson<{ apps: AppJson[] }>(a, "/v2/apps")).apps[0]?.lastTaskFailure).toMatchObject({ taskId: task });
  });

  it("apps.readiness shows the readiness results of the deployment in progress", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    await create(a, "/ready", { instances: 1, portDefinitions: [{ name: "http-api" }], readinessChecks: [{ preserveLastResponse: true }] });
    const [fresh] = (await socket.nextOfType<{ tasks: { taskId: string }[] }>("launch")).tasks;
    const id = fresh?.taskId ?? "";
    const warming = { name: "readinessCheck", ready: false, lastResponse: { status: 503, contentType: "text/plain", body: "warming" } };
    await report(socket, [{ taskId: id }, { taskId: id, readiness: warming, message: "HTTP 503 Service Unavailable" }]);
    expect((await deployments(a)).map((d) => d.affectedApps)).toEqual([["/ready"]]);
    const { app } = await getJson<{ app: AppJson }>(a, "/v2/apps/ready?embed=app.readiness");
    expect(app.readinessCheckResults).toEqual([{ ...warming, taskId: id }]);
    const [listed] = (await getJson<{ apps: AppJson[] }>(a, "/v2/apps?embed=apps.readiness")).apps;
    expect(listed?.readinessCheckResults).toEqual([{ ...warming, taskId: id }]);
  });

  it("answers an unknown embed with 400 naming it", async () => {
    const a = await signUp();
    await create(a, "/x");
    for (const path of ["/v2/apps?embed=apps.everything", "/v2/apps/x?embed=app.nope"]) {
      const res = await api(a, path);
      expect(res.status, path).toBe(400);
      const body = (await res.json()) as ErrorJson;
      expect(body.message).toMatch(/^Unknown embed '(apps\.everything|app\.nope)'/);
      expect(body.details?.[0]?.path).toBe("embed");
    }
  });
});
