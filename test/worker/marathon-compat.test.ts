import { describe, expect, it } from "vitest";
import { type Account, type TestSocket, call, expectInvalid, joinAgent, signUp } from "./helpers.ts";

const send = (a: Account, path: string, method: string, json?: unknown, headers: Record<string, string> = {}) =>
  call(`/c/${a.cluster.id}${path}`, { method, token: a.token, headers, ...(json === undefined ? {} : { json }) });
const get = async <T>(a: Account, path: string) => (await (await send(a, path, "GET")).json()) as T;

interface AppJson {
  id: string;
  cmd?: string;
  cpus: number;
  instances: number;
  labels: Record<string, string>;
}
interface TaskJson {
  id: string;
  host: string;
  ports: number[];
  servicePorts: number[];
  state: string;
}

const appIds = async (a: Account, query = "") => (await get<{ apps: AppJson[] }>(a, `/v2/apps${query}`)).apps.map((x) => x.id).sort();
const app = async (a: Account, id: string) => (await get<{ app: AppJson }>(a, `/v2/apps${id}`)).app;
const settled = (a: Account) => expect.poll(async () => (await get<unknown[]>(a, "/v2/deployments")).length).toBe(0);

async function launchFrame(socket: TestSocket): Promise<{ taskId: string }[]> {
  return (await socket.nextOfType<{ tasks?: { taskId: string }[] }>("launch")).tasks ?? [];
}

function running(socket: TestSocket, ids: string[], seq: string): void {
  socket.send({ type: "status", updates: ids.map((taskId, i) => ({ updateId: `${seq}-${i}`, taskId, state: "TASK_RUNNING", timestamp: Date.now() })) });
}

describe("PUT and PATCH /v2/apps (bulk)", () => {
  it("creates and updates many apps in one call, merging by default (partialUpdate=true)", async () => {
    const account = await signUp();
    const res = await send(account, "/v2/apps", "PUT", [
      { id: "/bulk/a", cmd: "sleep 1", cpus: 0.1, mem: 16, instances: 0 },
      { id: "bulk/b", cmd: "sleep 2", cpus: 0.1, mem: 16, instances: 0 },
    ]);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { deploymentId: string; version: string; deploymentIds: string[] };
    expect(body.deploymentIds).toHaveLength(2);
    expect(body.deploymentId).toBe(body.deploymentIds[0]);
    expect(res.headers.get("Marathon-Deployment-Id")).toBe(body.deploymentId);
    expect(Number.isNaN(Date.parse(body.version))).toBe(false);
    expect(await appIds(account)).toEqual(["/bulk/a", "/bulk/b"]);
    await settled(account);

    expect((await send(account, "/v2/apps", "PUT", [{ id: "/bulk/a", cpus: 0.2 }])).status).toBe(200);
    expect(await app(account, "/bulk/a")).toMatchObject({ cmd: "sleep 1", cpus: 0.2 });
    await settled(account);

    expect((await send(account, "/v2/apps?partialUpdate=false", "PUT", [{ id: "/bulk/a", cmd: "sleep 3", mem: 16, instances: 0 }])).status).toBe(200);
    expect(await app(account, "/bulk/a")).toMatchObject({ cmd: "sleep 3", cpus: 1 });
    await settled(account);

    expect((await send(account, "/v2/apps", "PATCH", [{ id: "/bulk/b", labels: { team: "x" } }])).status).toBe(200);
    expect(await app(account, "/bulk/b")).toMatchObject({ cmd: "sleep 2", labels: { team: "x" } });
  });

  it("changes nothing when any app is invalid, naming the entry in the path", async () => {
    const account = await signUp();
    expect((await send(account, "/v2/apps", "PUT", [{ id: "/keep", cmd: "sleep 1", cpus: 0.1, mem: 16, instances: 0 }])).status).toBe(200);
    await settled(account);
    const good = { id: "/keep", cpus: 0.5 };
    await expectInvalid(await send(account, "/v2/apps", "PUT", [good, { id: "/new", cmd: "sleep 1", cpus: -1 }]), "/1/cpus");
    await expectInvalid(await send(account, "/v2/apps", "PUT", [good, { cmd: "sleep 1" }]), "/1/id");
    await expectInvalid(await send(account, "/v2/apps", "PUT", [good, { id: "/Bad_Id", cmd: "x" }]), "/1/id");
    await expectInvalid(await send(account, "/v2/apps", "PUT", [good, { id: "keep", cpus: 0.3 }]), "/1/id");
    // An app inside another app, and a dependency on nothing, are found after the writes and roll them back.
    await expectInvalid(await send(account, "/v2/apps", "PUT", [good, { id: "/keep/sub", cmd: "sleep 1" }]), "/1/id");
    await expectInvalid(await send(account, "/v2/apps", "PUT", [good, { id: "/dep", cmd: "sleep 1", dependencies: ["/nowhere"] }]), "/1/dependencies/0");
    await expectInvalid(await send(account, "/v2/apps", "PATCH", { id: "/keep" }), "/");
    expect(await appIds(account)).toEqual(["/keep"]);
    expect((await app(account, "/keep")).cpus).toBe(0.1);
  });

  it("answers 409 for an app held by a deployment unless force", async () => {
    const account = await signUp();
    // No agent: the start deployment of one instance stays in progress.
    expect((await send(account, "/v2/apps", "POST", { id: "/held", cmd: "sleep 1", cpus: 0.1, mem: 16, instances: 1 })).status).toBe(201);
    const conflict = await send(account, "/v2/apps", "PUT", [
      { id: "/held", instances: 2 },
      { id: "/other", cmd: "sleep 1", instances: 0 },
    ]);
    expect(conflict.status).toBe(409);
    expect(((await conflict.json()) as { deployments: unknown[] }).deployments).toHaveLength(1);
    expect(await appIds(account)).toEqual(["/held"]);
    const forced = await send(account, "/v2/apps?force=true", "PUT", [
      { id: "/held", instances: 2 },
      { id: "/other", cmd: "sleep 1", instances: 0 },
    ]);
    expect(forced.status).toBe(200);
    expect((await app(account, "/held")).instances).toBe(2);
    expect(await appIds(account)).toEqual(["/held", "/other"]);
  });
});

describe("text/plain task lists and killing an app's tasks", () => {
  it("lists running tasks as Marathon's tab-separated lines, and DELETE /v2/apps/{id}/tasks kills them", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    const web = { id: "/shop/web", cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 2, portDefinitions: [{ port: 0 }, { port: 0 }] };
    expect((await send(account, "/v2/apps", "POST", web)).status).toBe(201);
    const launched = await launchFrame(socket);
    expect(launched).toHaveLength(2);
    const first = launched[0]?.taskId ?? "";
    running(socket, [first], "web");
    await expect.poll(async () => (await get<{ tasks: TaskJson[] }>(account, "/v2/tasks?status=running")).tasks.length).toBe(1);
    expect((await send(account, "/v2/apps", "POST", { id: "/noports", cmd: "sleep 1", cpus: 0.1, mem: 16, instances: 0, portDefinitions: [] })).status).toBe(
      201,
    );

    const tasks = (await get<{ tasks: TaskJson[] }>(account, "/v2/apps/shop/web/tasks")).tasks;
    const up = tasks.find((t) => t.id === first);
    expect(up?.state).toBe("TASK_RUNNING");
    const [sp0, sp1] = up?.servicePorts ?? [];
    const [hp0, hp1] = up?.ports ?? [];
    expect(sp0 && sp1 && hp0 && hp1).toBeTruthy();
    const webLines = `shop_web\t${sp0}\tnode-1:${hp0}\t\nshop_web\t${sp1}\tnode-1:${hp1}\t\n`;

    const one = await send(account, "/v2/apps/shop/web/tasks", "GET", undefined, { Accept: "text/plain" });
    expect(one.status).toBe(200);
    expect(one.headers.get("Content-Type")).toMatch(/^text\/plain/);
    expect(await one.text()).toBe(webLines);
    const all = await send(account, "/v2/tasks", "GET", undefined, { Accept: "text/plain" });
    expect(await all.text()).toBe(`noports\t \t\n${webLines}`);
    expect((await send(account, "/v2/apps/nope/tasks", "GET", undefined, { Accept: "text/plain" })).status).toBe(404);
    // Marathon ignores status values other than running and staging.
    expect((await get<{ tasks: TaskJson[] }>(account, "/v2/tasks?status[]=staging")).tasks.map((t) => t.id)).toEqual([launched[1]?.taskId]);
    expect((await get<{ tasks: TaskJson[] }>(account, "/v2/tasks?status=bogus")).tasks).toHaveLength(2);

    const elsewhere = await send(account, "/v2/apps/shop/web/tasks?host=node-9", "DELETE");
    expect(await elsewhere.json()).toEqual({ tasks: [] });
    const killed = await send(account, "/v2/apps/shop/web/tasks?host=node-1", "DELETE");
    expect(killed.status).toBe(200);
    expect(((await killed.json()) as { tasks: TaskJson[] }).tasks.map((t) => t.id).sort()).toEqual(launched.map((t) => t.taskId).sort());
  });

  it("DELETE /v2/apps/{id}/tasks?scale=true answers a DeploymentResult and lowers the instance count", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    expect((await send(account, "/v2/apps", "POST", { id: "/sc", cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 2 })).status).toBe(201);
    running(
      socket,
      (await launchFrame(socket)).map((t) => t.taskId),
      "sc",
    );
    await expect.poll(async () => (await get<{ tasks: TaskJson[] }>(account, "/v2/tasks?status=running")).tasks.length).toBe(2);
    // As in Marathon, scale and wipe exclude each other; nothing is killed.
    const both = await send(account, "/v2/apps/sc/tasks?scale=true&wipe=true", "DELETE");
    expect(both.status).toBe(400);
    expect(((await both.json()) as { message: string }).message).toBe("You cannot use scale and wipe at the same time.");
    expect((await send(account, "/v2/tasks/delete?scale=true&wipe=true", "POST", { ids: ["x"] })).status).toBe(400);
    expect((await get<{ tasks: TaskJson[] }>(account, "/v2/tasks?status=running")).tasks.length).toBe(2);
    const res = await send(account, "/v2/apps/sc/tasks?scale=true&host=*", "DELETE");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { deploymentId: string; version: string };
    expect(body.deploymentId).toBeTruthy();
    expect((await app(account, "/sc")).instances).toBe(0);
  });
});

describe("GET /v2/apps?label= selectors", () => {
  it("supports k, k==v, k!=v, k in (..), k notin (..), and answers 400 for a malformed selector", async () => {
    const account = await signUp();
    const apps = [
      { id: "/a", labels: { env: "prod", tier: "web" } },
      { id: "/b", labels: { env: "qa" } },
      { id: "/c", labels: { "odd key": "x" } },
    ];
    expect(
      (
        await send(
          account,
          "/v2/apps",
          "PUT",
          apps.map((x) => ({ ...x, cmd: "sleep 1", instances: 0 })),
        )
      ).status,
    ).toBe(200);
    const q = (s: string) => appIds(account, `?label=${encodeURIComponent(s)}`);
    expect(await q("env in (prod, qa)")).toEqual(["/a", "/b"]);
    expect(await q("env notin (prod)")).toEqual(["/b"]);
    expect(await q("env in (prod), tier")).toEqual(["/a"]);
    expect(await q("tier != web")).toEqual([]);
    expect(await q("env==qa")).toEqual(["/b"]);
    expect(await q("odd\\ key")).toEqual(["/c"]);
    expect(await q("env in ()")).toEqual([]);
    for (const bad of ["env in (prod", "env in prod", "env ==", "== prod", "env,", "env in (a b)", "env=prod"]) {
      const res = await send(account, `/v2/apps?label=${encodeURIComponent(bad)}`, "GET");
      expect(res.status, bad).toBe(400);
      expect(((await res.json()) as { message: string }).message).toContain("Can not parse label selector");
    }
  });
});

describe("service ports of bridge port mappings", () => {
  it("are assigned cluster-wide as Marathon does, kept across updates, and listed by the text/plain task list", async () => {
    const a = await signUp();
    const bridge = (id: string, extra: Record<string, unknown> = {}) => ({
      id,
      cpus: 0.1,
      mem: 16,
      instances: 0,
      container: { type: "DOCKER", docker: { image: "dcx-test/busybox:1" }, portMappings: [{ containerPort: 80 }, { containerPort: 53, protocol: "udp" }] },
      networks: [{ mode: "container/bridge" }],
      ...extra,
    });
    type Mapped = { container: { portMappings: { servicePort: number }[] } };
    const created = (await (await send(a, "/v2/apps", "POST", bridge("/br"))).json()) as Mapped;
    const ports = created.container.portMappings.map((m) => m.servicePort);
    expect(ports.every((p) => p >= 10000 && p <= 20000)).toBe(true);
    expect(new Set(ports).size).toBe(2);
    const other = (await (await send(a, "/v2/apps", "POST", bridge("/br2"))).json()) as Mapped;
    expect(other.container.portMappings.map((m) => m.servicePort).some((p) => ports.includes(p))).toBe(false);
    expect((await send(a, "/v2/apps/br?force=true", "PATCH", { cmd: "sleep 5" })).status).toBe(200);
    const after = (await get<{ app: Mapped }>(a, "/v2/apps/br")).app;
    expect(after.container.portMappings.map((m) => m.servicePort)).toEqual(ports);
    const text = await (await send(a, "/v2/apps/br/tasks", "GET", undefined, { Accept: "text/plain" })).text();
    expect(text).toBe(`br\t${ports[0]}\t\nbr\t${ports[1]}\t\n`);
  });
});
