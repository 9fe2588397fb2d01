import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { decodeMessage, encodeQuery } from "../../control/dns/index.ts";
import type { Vips } from "../../protocol/vips.ts";
import { type Account, type TestSocket, agentStateBecomes, call, expectInvalid, joinAgent, signUp } from "./helpers.ts";

/**
 * Named VIPs in the Cluster object: labels admitted or refused at the label's path, stable
 * addresses from the cluster's range answered over DoH, and the `vips` table sent to every
 * agent as tasks start, fail their checks, are killed, and as agents join.
 */

const VIP_NAME = "shopweb.marathon.l4lb.thisdcos.directory";
let seq = 0;

const api = (a: Account, path: string, init: Parameters<typeof call>[1] = {}) => call(`/c/${a.cluster.id}${path}`, { token: a.token, ...init });

async function resolveA(a: Account, name: string): Promise<{ rcode: number; ips: string[] }> {
  const key = (await (await call(`/clusters/${a.cluster.id}/dns-keys`, { method: "POST", token: a.token, json: {} })).json()) as { key: string };
  const res = await call(`/dns/${key.key}/dns-query`, {
    method: "POST",
    headers: { "Content-Type": "application/dns-message" },
    body: encodeQuery(name, "A", 7),
  });
  const decoded = decodeMessage(new Uint8Array(await res.arrayBuffer()));
  if (!decoded.ok) throw new Error(decoded.reason);
  return { rcode: (decoded.packet.flags ?? 0) & 0xf, ips: (decoded.packet.answers ?? []).map((r) => String(r.data)) };
}

/** Sends status updates as an agent would; returns the `vips` frames that came before the ack. */
async function report(socket: TestSocket, updates: Record<string, unknown>[]): Promise<Vips[]> {
  socket.send({ type: "status", updates: updates.map((u) => ({ updateId: `v-${seq++}`, state: "TASK_RUNNING", timestamp: Date.now(), ...u })) });
  const tables: Vips[] = [];
  for (;;) {
    const frame = await socket.next<{ type?: string }>();
    if (frame.type === "vips") tables.push(frame as Vips);
    if (frame.type === "ack") return tables;
  }
}

/** The next `vips` frame, skipping others. */
const nextTable = (socket: TestSocket) => socket.nextOfType<Vips>("vips");

/**
 * The table once it satisfies `ok`: the last one already read (`seen`), or one still to come
 * (tables of a burst of changes arrive together at the end of the master's coalescing window).
 */
async function tableWhere(socket: TestSocket, ok: (t: Vips) => boolean, seen: Vips[] = []): Promise<Vips> {
  const last = seen.at(-1);
  if (last !== undefined && ok(last)) return last;
  for (;;) {
    const table = await nextTable(socket);
    if (ok(table)) return table;
  }
}

const backendsOf = (t: Vips) => t.vips[0]?.backends ?? [];

const webApp = (extra: Record<string, unknown> = {}) => ({
  id: "/shop/web",
  cmd: "serve",
  cpus: 0.1,
  mem: 16,
  instances: 2,
  portDefinitions: [{ port: 0, labels: { VIP_0: "/shop/web:80" } }],
  ...extra,
});

/** An agent at 10.0.0.7 running both tasks of /shop/web, RUNNING. */
async function deployed(extra: Record<string, unknown> = {}) {
  const account = await signUp();
  const { socket, agentId } = await joinAgent(account, { ip: "10.0.0.7" });
  expect((await api(account, "/v2/apps", { method: "POST", json: webApp(extra) })).status).toBe(201);
  const launch = await socket.nextOfType<{ tasks: { taskId: string; ports: number[] }[] }>("launch");
  const tables = await report(
    socket,
    launch.tasks.map((t) => ({ taskId: t.taskId })),
  );
  return { account, socket, agentId, tasks: launch.tasks, tables };
}

describe("named VIPs", () => {
  it("answers the VIP's name with a stable address from the default range, and tells the agent its backends", async () => {
    const { account, socket, tasks, tables } = await deployed();
    const { ips } = await resolveA(account, VIP_NAME);
    expect(ips).toHaveLength(1);
    expect(ips[0]).toMatch(/^127\.11\.\d+\.\d+$/);
    const table = await tableWhere(socket, (t) => backendsOf(t).length === 2, tables);
    expect(table).toEqual({
      type: "vips",
      range: "127.11.0.0/16",
      vips: [
        {
          name: VIP_NAME,
          ip: ips[0],
          port: 80,
          backends: tasks.map((t) => ({ host: "10.0.0.7", port: t.ports[0] ?? 0, draining: false })).sort((x, y) => x.port - y.port),
        },
      ],
    });
    expect(await (await api(account, "/vips")).json()).toEqual({ range: table.range, vips: table.vips });
    // A config change keeps the address: it belongs to the name, not to a version of the app.
    expect((await api(account, "/v2/apps/shop/web", { method: "PUT", json: webApp({ cmd: "serve --v2" }) })).status).toBe(200);
    expect((await resolveA(account, VIP_NAME)).ips).toEqual(ips);
    // A second app naming the same VIP shares its address.
    const other = { ...webApp(), id: "/shop/web-canary", instances: 0 };
    expect((await api(account, "/v2/apps", { method: "POST", json: other })).status).toBe(201);
    expect((await resolveA(account, VIP_NAME)).ips).toEqual(ips);
  });

  it("drains a task failing its health check and one being killed, and drops it once it is gone", async () => {
    const check = { protocol: "TCP", gracePeriodSeconds: 0, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 100 };
    const { account, socket, tasks } = await deployed({ healthChecks: [check] });
    const [a, b] = tasks as [{ taskId: string; ports: number[] }, { taskId: string; ports: number[] }];
    // Checks not passed yet: neither task has served, so neither is a backend.
    expect((await (await api(account, "/vips")).json()) as { vips: unknown[] }).toMatchObject({ vips: [] });
    let tables = await report(
      socket,
      [a, b].map((t) => ({ taskId: t.taskId, healthy: true })),
    );
    await tableWhere(socket, (t) => backendsOf(t).length === 2 && backendsOf(t).every((x) => !x.draining), tables);
    tables = await report(socket, [{ taskId: a.taskId, healthy: false, message: "connection refused" }]);
    const sick = backendsOf(await tableWhere(socket, (t) => backendsOf(t).some((x) => x.draining), tables));
    expect(sick).toHaveLength(2);
    expect(sick.find((x) => x.port === a.ports[0])).toEqual({ host: "10.0.0.7", port: a.ports[0], draining: true });
    expect(sick.find((x) => x.port === b.ports[0])).toEqual({ host: "10.0.0.7", port: b.ports[0], draining: false });
    tables = await report(socket, [{ taskId: a.taskId, healthy: true }]);
    await tableWhere(socket, (t) => backendsOf(t).every((x) => !x.draining), tables);
    const killed = await api(account, `/v2/apps/shop/web/tasks/${a.taskId}`, { method: "DELETE" });
    expect(killed.status).toBe(200);
    const draining = await tableWhere(socket, (t) => backendsOf(t).some((x) => x.draining));
    expect(backendsOf(draining).find((x) => x.draining)?.port).toBe(a.ports[0]);
    tables = await report(socket, [{ taskId: a.taskId, state: "TASK_KILLED" }]);
    const left = await tableWhere(socket, (t) => backendsOf(t).length === 1, tables);
    expect(backendsOf(left)).toEqual([{ host: "10.0.0.7", port: b.ports[0], draining: false }]);
  });

  it("drops the backends of an agent that goes unreachable, and tells the other agents", async () => {
    const { account, socket, agentId } = await deployed({ instances: 1 });
    const other = await joinAgent(account, { ip: "10.0.0.8" });
    await tableWhere(other.socket, (t) => backendsOf(t).length === 1);
    socket.ws.close(1000, "bye");
    await socket.waitClosed();
    await agentStateBecomes(account, agentId, "disconnected");
    const stub = env.CLUSTER.getByName(account.cluster.id);
    // The agent's disconnect and its deadline moved past the (test) timeout of 2 s; then the alarm runs.
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE agents SET disconnected_at = disconnected_at - 10000");
      state.storage.sql.exec("UPDATE timers SET due_at = due_at - 10000");
    });
    await runDurableObjectAlarm(stub);
    const after = await tableWhere(other.socket, (t) => t.vips.length === 0);
    expect(after.range).toBe("127.11.0.0/16");
  });

  it("sends the whole table to an agent as it registers", async () => {
    const { account } = await deployed();
    const second = await joinAgent(account, { ip: "10.0.0.8" });
    const table = await nextTable(second.socket);
    expect(table.vips.map((v) => v.backends.length)).toEqual([2]);
  });

  it("tells the agents of a VIP an app gains by an update, after commits that found no app with one", async () => {
    // The object remembers between commits that no app mentions a VIP: the update must undo that.
    const { account, socket, tables } = await deployed({ portDefinitions: [{ port: 0 }] });
    expect(tables).toEqual([]);
    expect((await api(account, "/v2/apps/shop/web?force=true", { method: "PUT", json: webApp() })).status).toBe(200);
    const launch = await socket.nextOfType<{ tasks: { taskId: string; ports: number[] }[] }>("launch");
    const seen = await report(
      socket,
      launch.tasks.map((t) => ({ taskId: t.taskId })),
    );
    const table = await tableWhere(socket, (t) => backendsOf(t).length > 0, seen);
    expect(table.vips.map((v) => v.name)).toEqual([VIP_NAME]);
  });

  it("answers bad labels with a 422 at the label", async () => {
    const account = await signUp();
    const post = (json: unknown) => api(account, "/v2/apps", { method: "POST", json });
    await expectInvalid(await post(webApp({ portDefinitions: [{ port: 0, labels: { VIP_0: "/shop/web" } }] })), "/portDefinitions/0/labels/VIP_0");
    await expectInvalid(await post(webApp({ portDefinitions: [{ port: 0, labels: { VIP_0: "11.0.0.1:80" } }] })), "/portDefinitions/0/labels/VIP_0");
    const res = await post(webApp({ portDefinitions: [{ port: 0 }, { port: 0, labels: { VIP_ADMIN: "127.0.0.1:22" } }] }));
    const body = (await res.json()) as { details: { path: string; errors: string[] }[] };
    expect(res.status).toBe(422);
    expect(body.details).toEqual([
      { path: "/portDefinitions/1/labels/VIP_ADMIN", errors: [expect.stringMatching(/outside the cluster's VIP range 127\.11\.0\.0\/16/)] },
    ]);
    expect((await post(webApp({ instances: 0, portDefinitions: [{ port: 0, labels: { VIP_0: "127.11.9.9:80" } }] }))).status).toBe(201);
    expect((await (await api(account, "/v2/apps")).json()) as { apps: unknown[] }).toMatchObject({ apps: [expect.objectContaining({ id: "/shop/web" })] });
  });
});

describe("the VIP range setting", () => {
  it("is validated, refuses a range the cluster's VIPs do not fit, and moves every name to a new range", async () => {
    const account = await signUp();
    const patch = (json: unknown) => api(account, "/dns", { method: "PATCH", json });
    expect(await (await api(account, "/dns")).json()).toEqual({ zone: "mesos", ttl: 5, vipRange: "127.11.0.0/16" });
    await expectInvalid(await patch({ vipRange: "127.0.0.0/8" }), "/vipRange");
    await expectInvalid(await patch({ vipRange: "11.0.0.1/8" }), "/vipRange");
    expect((await patch({ vipRange: "127.20.0.0/28" })).status).toBe(200);
    // 14 usable addresses: 14 names fit, the 15th is refused at its label.
    for (let i = 0; i < 14; i++) {
      const res = await api(account, "/v2/apps", {
        method: "POST",
        json: webApp({ id: `/s${i}`, instances: 0, portDefinitions: [{ port: 0, labels: { VIP_0: `/s${i}:80` } }] }),
      });
      expect(res.status).toBe(201);
    }
    const ips = await Promise.all(Array.from({ length: 14 }, (_, i) => resolveA(account, `s${i}.marathon.l4lb.thisdcos.directory`)));
    expect(new Set(ips.map((r) => r.ips[0])).size).toBe(14);
    const full = await api(account, "/v2/apps", {
      method: "POST",
      json: webApp({ id: "/s14", instances: 0, portDefinitions: [{ port: 0, labels: { VIP_0: "/s14:80" } }] }),
    });
    expect(full.status).toBe(422);
    expect(JSON.stringify(await full.json())).toMatch(/no address left for 's14'/);
    // Too small for the 14 names: refused, nothing moves.
    const small = await patch({ vipRange: "127.21.0.0/29", ttl: 9 });
    await expectInvalid(small, "/vipRange");
    expect(await (await api(account, "/dns")).json()).toEqual({ zone: "mesos", ttl: 5, vipRange: "127.20.0.0/28" });
    expect((await patch({ vipRange: "127.22.0.0/28", ttl: 9 })).status).toBe(200);
    expect((await resolveA(account, "s0.marathon.l4lb.thisdcos.directory")).ips[0]).toMatch(/^127\.22\.0\./);
    await api(account, "/v2/apps/s0", { method: "DELETE" });
    // A freed name's address goes to the next name that needs one once the range is full.
    expect(
      (
        await api(account, "/v2/apps", {
          method: "POST",
          json: webApp({ id: "/s14", instances: 0, portDefinitions: [{ port: 0, labels: { VIP_0: "/s14:80" } }] }),
        })
      ).status,
    ).toBe(201);
    expect(await (await api(account, "/dns")).json()).toEqual({ zone: "mesos", ttl: 9, vipRange: "127.22.0.0/28" });
  });

  it("is refused whole when an app's IP VIP would fall outside it", async () => {
    const account = await signUp();
    const app = webApp({ instances: 0, portDefinitions: [{ port: 0, labels: { VIP_0: "127.11.9.9:80" } }] });
    expect((await api(account, "/v2/apps", { method: "POST", json: app })).status).toBe(201);
    const res = await api(account, "/dns", { method: "PATCH", json: { vipRange: "11.0.0.0/8", ttl: 30 } });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { details: { path: string; errors: string[] }[] };
    expect(body.details).toEqual([{ path: "/vipRange", errors: [expect.stringMatching(/app \/shop\/web, label VIP_0: 127\.11\.9\.9 is outside/)] }]);
    expect(await (await api(account, "/dns")).json()).toEqual({ zone: "mesos", ttl: 5, vipRange: "127.11.0.0/16" });
  });
});
