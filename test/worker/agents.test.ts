import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { type Account, TestSocket, call, joinAgent, pingEvery, registerFrame, signUp } from "./helpers.ts";

interface Slave {
  id: string;
  hostname: string;
  active: boolean;
  resources: Record<string, unknown>;
  used_resources: Record<string, unknown>;
  attributes: Record<string, unknown>;
  registered_time: number;
}

async function slaves(account: Account): Promise<Slave[]> {
  const res = await call(`/c/${account.cluster.id}/master/slaves`, { token: account.token });
  expect(res.status).toBe(200);
  return ((await res.json()) as { slaves: Slave[] }).slaves;
}

async function agentState(account: Account, id: string): Promise<string> {
  const res = await call(`/c/${account.cluster.id}/agents/${id}`, { token: account.token });
  return ((await res.json()) as { agent: { state: string } }).agent.state;
}

const stub = (account: Account) => env.CLUSTER.getByName(account.cluster.id);

/** Moves the cluster's clock forward: disconnects and deadlines now lie 10 s in the past. */
async function timePasses(account: Account): Promise<void> {
  await runInDurableObject(stub(account), async (_instance: Cluster, state) => {
    state.storage.sql.exec("UPDATE agents SET disconnected_at = disconnected_at - 10000");
    state.storage.sql.exec("UPDATE timers SET due_at = due_at - 10000");
    // The alarm is the test's to run (runDurableObjectAlarm): not before then on its own, however slow the machine.
    await state.storage.setAlarm(Date.now() + 60_000);
  });
}

describe("agent registration", () => {
  it("registers with a join token, returns a credential, and shows the agent as Mesos does", async () => {
    const account = await signUp();
    const { agentId, credential, registered } = await joinAgent(account, {
      hostname: "worker-7",
      resources: {
        cpus: 2.5,
        mem: 1024,
        disk: 4096,
        gpus: 1,
        ports: [
          [31000, 31999],
          [33000, 33010],
        ],
      },
      attributes: { rack: "r7", zone: "a", weight: 3 },
    });
    expect(agentId).toMatch(/^[0-9a-f-]{36}-S0$/);
    expect(credential).toMatch(/^dcxa_/);
    expect(registered.pingIntervalMs).toBe(500);
    const [slave] = await slaves(account);
    expect(slave).toMatchObject({
      id: agentId,
      hostname: "worker-7",
      active: true,
      resources: { cpus: 2.5, mem: 1024, disk: 4096, gpus: 1, ports: "[31000-31999, 33000-33010]" },
      used_resources: { cpus: 0, mem: 0, disk: 0, gpus: 0 },
      attributes: { rack: "r7", zone: "a", weight: 3 },
    });
    expect(slave?.registered_time).toBeCloseTo(Date.now() / 1000, -1);
    const state = (await (await call(`/c/${account.cluster.id}/master/state.json`, { token: account.token })).json()) as Record<string, unknown>;
    expect(state.activated_slaves).toBe(1);
    expect((state.slaves as Slave[])[0]?.id).toBe(agentId);
    const metrics = (await (await call(`/c/${account.cluster.id}/metrics/snapshot`, { token: account.token })).json()) as Record<string, number>;
    expect(metrics["master/slaves_active"]).toBe(1);
    expect(metrics["master/cpus_total"]).toBe(2.5);
    expect(metrics["master/slave_registrations"]).toBe(1);
  });

  it("re-attaches the same agent with its credential: same id, no duplicate, new description", async () => {
    const account = await signUp();
    const first = await joinAgent(account);
    first.socket.ws.close(1000, "restart");
    await first.socket.waitClosed();
    const again = await TestSocket.open(account.cluster.id, first.credential);
    again.send(registerFrame({ agentId: first.agentId, hostname: "node-1-renamed" }));
    const registered = await again.next<{ type: string; agentId: string; credential?: string }>();
    expect(registered).toMatchObject({ type: "registered", agentId: first.agentId });
    expect(registered.credential).toBeUndefined();
    const all = await slaves(account);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ id: first.agentId, hostname: "node-1-renamed", active: true });
    const metrics = (await (await call(`/c/${account.cluster.id}/metrics/snapshot`, { token: account.token })).json()) as Record<string, number>;
    expect(metrics["master/slave_reregistrations"]).toBe(1);
  });

  it("a second session of the same agent replaces the first (4000)", async () => {
    const account = await signUp();
    const first = await joinAgent(account);
    const second = await TestSocket.open(account.cluster.id, first.credential);
    second.send(registerFrame());
    expect((await second.next()).type).toBe("registered");
    expect((await first.socket.waitClosed()).code).toBe(4000);
    expect(await agentState(account, first.agentId)).toBe("active");
  });

  it("answers heartbeats with pong", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    socket.send("ping");
    expect(await socket.next()).toBe("pong");
  });

  it("refuses an unknown credential with 1008", async () => {
    const account = await signUp();
    const socket = await TestSocket.open(account.cluster.id, "dcxa_not-a-real-credential");
    const closed = await socket.waitClosed();
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/credential/);
  });

  it("refuses a connect without a credential with 1008, and a plain GET with 426", async () => {
    const account = await signUp();
    expect((await (await TestSocket.open(account.cluster.id, undefined)).waitClosed()).code).toBe(1008);
    expect((await (await TestSocket.open(account.cluster.id, account.token)).waitClosed()).code).toBe(1008);
    const plain = await call(`/c/${account.cluster.id}/agent/connect`);
    expect(plain.status).toBe(426);
  });
});

describe("bad frames", () => {
  it("answers each bad frame with an error naming the problem, keeps the connection, stores nothing", async () => {
    const account = await signUp();
    const { token } = (await (await call(`/clusters/${account.cluster.id}/agent-tokens`, { method: "POST", token: account.token, json: {} })).json()) as {
      token: string;
    };
    const socket = await TestSocket.open(account.cluster.id, token);
    const cases: [unknown, RegExp][] = [
      ["{not json", /not valid JSON/],
      [{ type: "bogus" }, /unknown message type 'bogus'/],
      [{ no: "type" }, /does not match/],
      [{ type: "status", updates: [{ updateId: "u1", taskId: "t", state: "TASK_RUNNING", timestamp: 1 }] }, /register first/],
      [registerFrame({ resources: { cpus: -1, mem: 1, disk: 1 } }), /does not match/],
      [registerFrame({ ip: "not-an-ip" }), /does not match/],
      [registerFrame({ protocol: 99 }), /does not match/],
      ["x".repeat(1024 * 1024 + 10), /frame too large/],
      [new TextEncoder().encode("binary").buffer, /binary frames/],
    ];
    for (const [frame, expected] of cases) {
      socket.send(frame);
      const reply = await socket.next<{ type: string; message: string; details?: { path: string }[] }>();
      expect(reply.type).toBe("error");
      expect(reply.message).toMatch(expected);
    }
    expect(socket.closed).toBeUndefined();
    const agents = (await (await call(`/c/${account.cluster.id}/agents`, { token: account.token })).json()) as { agents: unknown[] };
    expect(agents.agents).toEqual([]);
    // The connection is still usable: a good register now succeeds.
    socket.send(registerFrame());
    expect((await socket.next()).type).toBe("registered");
  });

  it("names the offending field of an invalid register", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    socket.send(registerFrame({ resources: { cpus: 1, mem: -5, disk: 1 } }));
    const reply = await socket.next<{ details: { path: string }[] }>();
    expect(reply.details.map((d) => d.path)).toContain("/resources/mem");
  });

  it("updates resources on a `resources` frame", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    socket.send({ type: "resources", resources: { cpus: 8, mem: 2048, disk: 10, gpus: 0, ports: [] } });
    // The gateway answers pings itself, so a pong says nothing of the frame: the registry is polled.
    await expect.poll(async () => (await slaves(account))[0]?.resources).toMatchObject({ cpus: 8, mem: 2048, ports: "[]" });
  });
});

describe("removal", () => {
  it("closes the agent's socket with 4002 and invalidates its credential", async () => {
    const account = await signUp();
    const { socket, agentId, credential } = await joinAgent(account);
    const res = await call(`/c/${account.cluster.id}/agents/${agentId}`, { method: "DELETE", token: account.token });
    expect(res.status).toBe(204);
    expect((await socket.waitClosed()).code).toBe(4002);
    expect(await slaves(account)).toEqual([]);
    const again = await TestSocket.open(account.cluster.id, credential);
    expect((await again.waitClosed()).code).toBe(1008);
    expect((await call(`/c/${account.cluster.id}/agents/${agentId}`, { method: "DELETE", token: account.token })).status).toBe(404);
  });
});

describe("liveness", () => {
  it("a closed socket makes the agent disconnected, then unreachable when the alarm finds the timeout passed", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account);
    socket.ws.close(1000, "bye");
    await socket.waitClosed();
    await expect.poll(() => agentState(account, agentId)).toBe("disconnected");
    expect((await slaves(account))[0]).toMatchObject({ id: agentId, active: false });
    // Move the disconnect back past the (test) timeout of 2 s, then let the alarm run.
    await timePasses(account);
    expect(await runDurableObjectAlarm(stub(account))).toBe(true);
    expect(await agentState(account, agentId)).toBe("unreachable");
    expect(await slaves(account)).toEqual([]);
    const state = (await (await call(`/c/${account.cluster.id}/master/state`, { token: account.token })).json()) as Record<string, number>;
    expect(state.unreachable_slaves).toBe(1);
    const metrics = (await (await call(`/c/${account.cluster.id}/metrics/snapshot`, { token: account.token })).json()) as Record<string, number>;
    expect(metrics["master/slaves_unreachable"]).toBe(1);
  });

  it("an open socket that stops sending heartbeats is closed (4001) and the agent becomes unreachable", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account);
    // No pings: the object's own alarm finds the heartbeat missing after the 2 s test timeout.
    expect((await socket.waitClosed(5000)).code).toBe(4001);
    expect(await agentState(account, agentId)).toBe("unreachable");
  });

  it("heartbeats keep an agent active across the timeout", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account);
    await pingEvery(socket, 5, 500);
    await runDurableObjectAlarm(stub(account));
    expect(await agentState(account, agentId)).toBe("active");
    expect(socket.closed).toBeUndefined();
  });

  it("an unreachable agent that comes back is active again, with the same id", async () => {
    const account = await signUp();
    const { socket, agentId, credential } = await joinAgent(account);
    socket.ws.close(1000, "bye");
    await socket.waitClosed();
    await expect.poll(() => agentState(account, agentId)).toBe("disconnected");
    await timePasses(account);
    await runDurableObjectAlarm(stub(account));
    expect(await agentState(account, agentId)).toBe("unreachable");
    const back = await TestSocket.open(account.cluster.id, credential);
    back.send(registerFrame({ agentId }));
    expect(await back.next()).toMatchObject({ type: "registered", agentId });
    expect(await agentState(account, agentId)).toBe("active");
  });
});
