import { describe, expect, it } from "vitest";
import { type Account, type TestSocket, call, expectInvalid, joinAgent, signUp } from "./helpers.ts";

/**
 * Writing Marathon groups: POST creates every app of a group body in one transaction, PUT makes
 * a group hold what its body gives (creating, replacing and removing apps), `scaleBy` scales
 * every app inside, `dryRun` only says what would happen, and `dependencies` hold an app's
 * launches back until what it depends on is deployed.
 */

interface AppJson {
  id: string;
  cmd?: string;
  instances: number;
  dependencies?: string[];
}
interface ResultJson {
  deploymentId: string;
  version: string;
  deploymentIds: string[];
}
interface ErrorJson {
  message: string;
  details?: { path: string; errors: string[] }[];
}

const api = (a: Account, path: string, init: { method?: string; json?: unknown } = {}) => call(`/c/${a.cluster.id}${path}`, { token: a.token, ...init });
const getJson = async <T>(a: Account, path: string) => (await (await api(a, path)).json()) as T;
const apps = async (a: Account) => (await getJson<{ apps: AppJson[] }>(a, "/v2/apps")).apps;
const appIds = async (a: Account) => (await apps(a)).map((x) => x.id).sort();
const deploymentCount = async (a: Account) => (await getJson<unknown[]>(a, "/v2/deployments")).length;
const app = (id: string, extra: Record<string, unknown> = {}) => ({ id, cmd: "sleep 1000", cpus: 0.1, mem: 16, instances: 0, ...extra });

async function postGroup(a: Account, body: unknown, status = 201) {
  const res = await api(a, "/v2/groups", { method: "POST", json: body });
  expect(res.status).toBe(status);
  return res;
}

/** The next launch frame, skipping other frames. */
async function nextLaunch(socket: TestSocket, timeoutMs = 5000): Promise<{ taskId: string }[]> {
  return (await socket.nextOfType<{ tasks?: { taskId: string }[] }>("launch", timeoutMs)).tasks ?? [];
}

describe("POST /v2/groups", () => {
  it("creates nested groups with ids relative to their group, one deployment per app", async () => {
    const a = await signUp();
    const res = await postGroup(a, {
      id: "prod",
      apps: [app("web")],
      groups: [
        { id: "db", apps: [app("pg"), app("/prod/db/cache")] },
        { id: "/prod/jobs", groups: [{ id: "./batch", apps: [app("./worker")] }] },
      ],
    });
    const body = (await res.json()) as ResultJson;
    expect(body.deploymentIds).toHaveLength(4);
    expect(body.deploymentId).toBe(body.deploymentIds[0]);
    expect(res.headers.get("Marathon-Deployment-Id")).toBe(body.deploymentId);
    expect(res.headers.get("Location")).toMatch(/\/v2\/groups\/prod$/);
    expect(await appIds(a)).toEqual(["/prod/db/cache", "/prod/db/pg", "/prod/jobs/batch/worker", "/prod/web"]);
    const group = await getJson<{ id: string; apps: { id: string }[]; groups: { id: string }[] }>(a, "/v2/groups/prod");
    expect(group.apps.map((x) => x.id)).toEqual(["/prod/web"]);
    expect(group.groups.map((g) => g.id)).toEqual(["/prod/db", "/prod/jobs"]);
  });

  it("creates nothing when one app is invalid: 422 with Marathon's path into the body", async () => {
    const a = await signUp();
    const res = await postGroup(a, { id: "/prod", apps: [app("web"), app("api", { cpus: -1 })] }, 422);
    expect(((await res.json()) as ErrorJson).details?.map((d) => d.path)).toEqual(["/apps(1)/cpus"]);
    await expectInvalid(
      await api(a, "/v2/groups", { method: "POST", json: { id: "/prod", groups: [{ id: "db", apps: [app("pg", { mem: "lots" })] }] } }),
      "/groups(0)/apps(0)/mem",
    );
    await expectInvalid(await api(a, "/v2/groups", { method: "POST", json: { id: "/prod", apps: [app("/other/web")] } }), "/apps(0)/id");
    await expectInvalid(await api(a, "/v2/groups", { method: "POST", json: { id: "/prod", apps: [app("web"), app("web")] } }), "/apps(1)/id");
    await expectInvalid(await api(a, "/v2/groups", { method: "POST", json: { apps: [app("web")] } }), "/id");
    // A group is implied by its apps: one without any would not exist afterwards.
    await expectInvalid(await api(a, "/v2/groups", { method: "POST", json: { id: "/empty", groups: [{ id: "inner", apps: [] }] } }), "/apps");
    expect(await appIds(a)).toEqual([]);
    expect(await deploymentCount(a)).toBe(0);
  });

  it("is a 409 when the group, or an app of its id, exists, and changes nothing", async () => {
    const a = await signUp();
    await postGroup(a, { id: "/prod", apps: [app("web")] });
    const again = await postGroup(a, { id: "/prod", apps: [app("api")] }, 409);
    expect(((await again.json()) as ErrorJson).message).toMatch(/already created/);
    await postGroup(a, { id: "/prod/web", apps: [app("x")] }, 409);
    expect(await appIds(a)).toEqual(["/prod/web"]);
  });
});

describe("PUT /v2/groups/{id}", () => {
  it("creates new apps, replaces changed ones, removes those left out, and leaves equal ones alone", async () => {
    const a = await signUp();
    await postGroup(a, { id: "/prod", apps: [app("web"), app("old"), app("same")], groups: [{ id: "db", apps: [app("pg")] }] });
    const before = await getJson<{ app: { version: string } }>(a, "/v2/apps/prod/same");
    const res = await api(a, "/v2/groups/prod", { method: "PUT", json: { apps: [app("web", { cmd: "sleep 2000" }), app("new"), app("same")] } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as ResultJson).deploymentIds).toHaveLength(3);
    // `groups` left out keeps the subgroups as they are.
    expect(await appIds(a)).toEqual(["/prod/db/pg", "/prod/new", "/prod/same", "/prod/web"]);
    expect((await apps(a)).find((x) => x.id === "/prod/web")?.cmd).toBe("sleep 2000");
    expect((await getJson<{ app: { version: string } }>(a, "/v2/apps/prod/same")).app.version).toBe(before.app.version);
    // `groups: []` removes every subgroup, with its apps.
    expect((await api(a, "/v2/groups/prod", { method: "PUT", json: { groups: [] } })).status).toBe(200);
    expect(await appIds(a)).toEqual(["/prod/new", "/prod/same", "/prod/web"]);
  });

  it("is a 409 when a deployment holds an app it touches, unless ?force=true", async () => {
    const a = await signUp();
    await postGroup(a, { id: "/prod", apps: [app("web", { instances: 1 })] });
    const body = { apps: [app("web", { instances: 1, cmd: "sleep 5" })] };
    expect((await api(a, "/v2/groups/prod", { method: "PUT", json: body })).status).toBe(409);
    expect((await apps(a))[0]?.cmd).toBe("sleep 1000");
    expect((await api(a, "/v2/groups/prod?force=true", { method: "PUT", json: body })).status).toBe(200);
    expect((await apps(a))[0]?.cmd).toBe("sleep 5");
  });

  it("answers ?dryRun=true with Marathon's steps and writes nothing", async () => {
    const a = await signUp();
    await postGroup(a, { id: "/prod", apps: [app("web"), app("old"), app("big")] });
    const count = await deploymentCount(a);
    const res = await api(a, "/v2/groups/prod?dryRun=true", {
      method: "PUT",
      json: { apps: [app("web", { cmd: "sleep 9" }), app("big", { instances: 3 }), app("new")] },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      steps: [
        { actions: [{ action: "StopApplication", app: "/prod/old" }] },
        { actions: [{ action: "StartApplication", app: "/prod/new" }] },
        {
          actions: [
            { action: "RestartApplication", app: "/prod/web" },
            { action: "ScaleApplication", app: "/prod/big" },
            { action: "ScaleApplication", app: "/prod/new" },
          ],
        },
      ],
    });
    expect(await appIds(a)).toEqual(["/prod/big", "/prod/old", "/prod/web"]);
    expect((await apps(a)).find((x) => x.id === "/prod/web")?.cmd).toBe("sleep 1000");
    expect(await deploymentCount(a)).toBe(count);
    const scale = await api(a, "/v2/groups/prod?dryRun=true", { method: "PUT", json: { scaleBy: 2 } });
    expect(await scale.json()).toEqual({ steps: [] });
  });

  it("scales every app inside by scaleBy, rounding up as Marathon does", async () => {
    const a = await signUp();
    await postGroup(a, { id: "/prod", apps: [app("web", { instances: 1 }), app("idle")], groups: [{ id: "db", apps: [app("pg", { instances: 3 })] }] });
    expect((await api(a, "/v2/groups/prod", { method: "PUT", json: { scaleBy: 1.5 } })).status).toBe(409);
    const res = await api(a, "/v2/groups/prod?force=true", { method: "PUT", json: { scaleBy: 1.5 } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as ResultJson).deploymentIds).toHaveLength(2);
    const byId = new Map((await apps(a)).map((x) => [x.id, x.instances]));
    expect(Object.fromEntries(byId)).toEqual({ "/prod/web": 2, "/prod/idle": 0, "/prod/db/pg": 5 });
    expect((await api(a, "/v2/groups/nothing", { method: "PUT", json: { scaleBy: 2 } })).status).toBe(404);
  });

  it("refuses a rollback of a whole group with a 422 that says why", async () => {
    const a = await signUp();
    await postGroup(a, { id: "/prod", apps: [app("web")] });
    const res = await api(a, "/v2/groups/prod", { method: "PUT", json: { version: "2020-01-01T00:00:00.000Z" } });
    await expectInvalid(res.clone(), "/version");
    expect(((await res.json()) as ErrorJson).details?.[0]?.errors[0]).toMatch(/not supported/);
  });
});

describe("dependencies", () => {
  it("launches an app only once the apps it depends on are deployed", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    await postGroup(a, { id: "/stack", dependencies: [], apps: [app("web", { instances: 1, dependencies: ["db"] }), app("db", { instances: 1 })] });
    const first = await nextLaunch(socket);
    expect(first.map((t) => t.taskId.split(".")[0])).toEqual(["stack_db"]);
    expect((await apps(a)).find((x) => x.id === "/stack/web")?.dependencies).toEqual(["/stack/db"]);
    socket.send({ type: "status", updates: [{ updateId: "u-db", taskId: first[0]?.taskId, state: "TASK_RUNNING", timestamp: Date.now() }] });
    const second = await nextLaunch(socket);
    expect(second.map((t) => t.taskId.split(".")[0])).toEqual(["stack_web"]);
  });

  it("applies a group's dependencies to every app inside it", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    await postGroup(a, {
      id: "/shop",
      groups: [
        { id: "data", apps: [app("pg", { instances: 1 })] },
        { id: "front", dependencies: ["/shop/data"], apps: [app("web", { instances: 1 })] },
      ],
    });
    const first = await nextLaunch(socket);
    expect(first.map((t) => t.taskId.split(".")[0])).toEqual(["shop_data_pg"]);
    expect((await apps(a)).find((x) => x.id === "/shop/front/web")?.dependencies).toEqual(["/shop/data"]);
    socket.send({ type: "status", updates: [{ updateId: "u-pg", taskId: first[0]?.taskId, state: "TASK_RUNNING", timestamp: Date.now() }] });
    expect((await nextLaunch(socket)).map((t) => t.taskId.split(".")[0])).toEqual(["shop_front_web"]);
  });

  it("lets an app whose dependency was removed be scaled and changed; a new dependency on nothing is still refused", async () => {
    const a = await signUp();
    await postGroup(a, { id: "/s", apps: [app("db"), app("web", { dependencies: ["db"] })] });
    expect((await api(a, "/v2/apps/s/db?force=true", { method: "DELETE" })).status).toBe(200);
    expect((await api(a, "/v2/apps/s/web?force=true", { method: "PATCH", json: { cmd: "sleep 2000" } })).status).toBe(200);
    expect((await api(a, "/v2/apps?force=true", { method: "PUT", json: [{ id: "/s/web", instances: 0 }] })).status).toBe(200);
    await expectInvalid(await api(a, "/v2/apps/s/web?force=true", { method: "PATCH", json: { dependencies: ["/s/db", "/nope"] } }), "/dependencies/1");
  });

  it("lets a held app scale down while its dependency's deployment cannot finish (no deadlock over resources)", { timeout: 15_000 }, async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a, { resources: { cpus: 1, mem: 1024, disk: 1000, gpus: 0, ports: [[31000, 31010]] } });
    expect((await api(a, "/v2/apps", { method: "POST", json: app("/b") })).status).toBe(201);
    expect((await api(a, "/v2/apps", { method: "POST", json: app("/a", { instances: 2, cpus: 0.4, dependencies: ["/b"] }) })).status).toBe(201);
    const tasks = await nextLaunch(socket);
    expect(tasks).toHaveLength(2);
    socket.send({ type: "status", updates: tasks.map((t, i) => ({ updateId: `a-${i}`, taskId: t.taskId, state: "TASK_RUNNING", timestamp: Date.now() })) });
    await expect.poll(() => deploymentCount(a)).toBe(0);
    // /b now needs room /a holds: its deployment waits; /a, which depends on /b, is scaled down to make room.
    expect((await api(a, "/v2/apps/b", { method: "PATCH", json: { instances: 1, cpus: 0.5 } })).status).toBe(200);
    expect((await api(a, "/v2/apps/a", { method: "PATCH", json: { instances: 0 } })).status).toBe(200);
    const deadline = Date.now() + 5000;
    for (;;) {
      const frame = await socket.next<{ type?: string; taskIds?: string[] }>(Math.max(1, deadline - Date.now()));
      if (typeof frame === "object" && frame.type === "kill") {
        expect([...(frame.taskIds ?? [])].sort()).toEqual(tasks.map((t) => t.taskId).sort());
        break;
      }
    }
  });

  it("refuses dependencies that name nothing or form a cycle (422, nothing created)", async () => {
    const a = await signUp();
    await expectInvalid(
      await api(a, "/v2/groups", { method: "POST", json: { id: "/x", apps: [app("a", { dependencies: ["nope"] })] } }),
      "/apps(0)/dependencies/0",
    );
    const cycle = { id: "/x", apps: [app("a", { dependencies: ["b"] }), app("b", { dependencies: ["/x/a"] })] };
    await expectInvalid(await api(a, "/v2/groups", { method: "POST", json: cycle }), "/apps(1)/dependencies/0");
    await expectInvalid(await api(a, "/v2/groups", { method: "POST", json: { id: "/x", dependencies: ["/x"], apps: [app("a")] } }), "/apps(0)/dependencies/0");
    await expectInvalid(await api(a, "/v2/apps", { method: "POST", json: app("/solo", { dependencies: ["/missing"] }) }), "/dependencies/0");
    expect(await appIds(a)).toEqual([]);
  });
});

describe("bad group bodies", () => {
  it("are 4xx with a reason, never 500", async () => {
    const a = await signUp();
    const bodies: unknown[] = [
      [],
      "x",
      { id: 5 },
      { id: "/bad id" },
      { id: "/p", apps: {} },
      { id: "/p", apps: [5] },
      { id: "/p", apps: [{}] },
      { id: "/p", groups: [{}] },
      { id: "/p", groups: [5] },
      { id: "/p", groups: [{ id: "q", scaleBy: 2 }] },
      { id: "/p", pods: [{ id: "x" }] },
      { id: "/p", dependencies: ["../../.."] },
      { id: "/p", apps: [app("a", { dependencies: "b" })] },
      { id: "/p", scaleBy: -1 },
      { id: "/p", scaleBy: 2, apps: [] },
      { id: "/..", apps: [] },
    ];
    for (const body of bodies) {
      for (const method of ["POST", "PUT"]) {
        const res = await api(a, method === "POST" ? "/v2/groups" : "/v2/groups/p", { method, json: body });
        expect([400, 404, 409, 422], `${method} ${JSON.stringify(body)}`).toContain(res.status);
        expect(((await res.json()) as ErrorJson).message.length).toBeGreaterThan(0);
      }
    }
    expect(await appIds(a)).toEqual([]);
  });
});
