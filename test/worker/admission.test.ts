import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { taskSetDigest } from "../../protocol/index.ts";
import { AgentAdmission } from "../../control/cluster/admission.ts";
import { GatewayAdmission } from "../../control/gateway/admission.ts";
import type { AgentGateway } from "../../control/gateway/gateway.ts";
import { type GatewayEvent, gatewayName } from "../../control/gateway/wire.ts";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { sweepLiveness } from "../../control/cluster/liveness.ts";
import { activeSessions } from "../../control/cluster/agents.ts";
import { type Account, TestSocket, call, joinAgent, joinToken, registerFrame, signUp } from "./helpers.ts";

type Frame = { type?: string; retryAfterMs?: number; agentId?: string; credential?: string; reconnectWindowMs?: number; tasks?: { taskId: string }[] };

/** What a register of an agent that speaks the resume step adds: the digest of its live tasks. */
const resume = (tasks: { taskId: string; state: "TASK_RUNNING" }[] = []) => ({ tasks, resume: { digest: taskSetDigest(tasks) } });

/**
 * The cluster's gateway (a new cluster has one) admits `perSecond` sessions (one second of burst)
 * from now on, and holds an agent over the rate at most `maxHoldMs` before turning it away.
 */
async function admitAt(account: Account, perSecond: number, maxHoldMs: number): Promise<void> {
  await runInDurableObject(env.AGENT_GATEWAY.getByName(gatewayName(account.cluster.id, 0)), (instance: AgentGateway) => {
    const enqueue = Reflect.get(instance, "enqueue") as (event: GatewayEvent) => void;
    const release = (events: GatewayEvent[]) => {
      for (const event of events) enqueue.call(instance, event);
    };
    Reflect.set(instance, "admission", new GatewayAdmission(perSecond, release, maxHoldMs));
  });
}

function gatewayStats(account: Account) {
  return env.AGENT_GATEWAY.getByName(gatewayName(account.cluster.id, 0)).forwarded();
}

async function counter(account: Account, name: string): Promise<number> {
  return runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (_instance: Cluster, state) => {
    const row = state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", `counter:${name}`).toArray()[0];
    return Number(row?.value ?? 0);
  });
}

async function agentCount(account: Account): Promise<number> {
  const res = await call(`/c/${account.cluster.id}/agents`, { token: account.token });
  return ((await res.json()) as { agents: unknown[] }).agents.length;
}

/** Joins with `token` until admitted, honouring each retry-after; returns how many times it was told to retry. */
async function joinHonouringRetry(account: Account, token: string, hostname: string): Promise<number> {
  for (let refusals = 0; ; refusals++) {
    const socket = await TestSocket.open(account.cluster.id, token);
    socket.send(registerFrame({ hostname, ...resume() }));
    const frame = await socket.next<Frame>(5000);
    if (frame.type === "registered") return refusals;
    expect(frame.type).toBe("retry");
    await new Promise((r) => setTimeout(r, frame.retryAfterMs ?? 0));
  }
}

describe("admission of registrations at the gateway", () => {
  it("over the rate: held at the gateway, then registered one per token in arrival order; the Cluster object hears of none before its turn", async () => {
    const account = await signUp();
    await admitAt(account, 2, 10_000);
    const { token } = await joinToken(account);
    // Opened together, so all land on the one gateway (the cluster adds gateways as agents register).
    const sockets = await Promise.all(Array.from({ length: 4 }, () => TestSocket.open(account.cluster.id, token)));
    sockets.forEach((s, i) => s.send(registerFrame({ hostname: `held-${i}`, ...resume() })));
    // One second of burst (two) is admitted at once; the other two wait at the gateway.
    await expect.poll(() => agentCount(account)).toBe(2);
    const early = await gatewayStats(account);
    expect(early).toMatchObject({ held: 2, waiting: 2, refused: 0 });
    // The held sessions' opens and registers have not been forwarded: two events for each admitted one.
    expect(early.events).toBe(4);
    const frames = await Promise.all(sockets.map((s) => s.next<Frame>(5000).then((f) => ({ ...f, at: Date.now() }))));
    expect(frames.map((f) => f.type)).toEqual(["registered", "registered", "registered", "registered"]);
    expect(await agentCount(account)).toBe(4);
    // Nobody was turned away, and the held ones came in at the rate: half a second apart.
    expect(await counter(account, "slave_registrations_deferred")).toBe(0);
    expect(await counter(account, "slave_registrations_held")).toBe(2);
    const times = frames.map((f) => f.at).sort((x, y) => x - y);
    expect((times[3] ?? 0) - (times[2] ?? 0)).toBeGreaterThanOrEqual(400);
    expect((times[2] ?? 0) - (times[1] ?? 0)).toBeGreaterThanOrEqual(300);
  });

  it("a held session whose join token is revoked is closed with 1008 and never registers", async () => {
    const account = await signUp();
    // One token every two seconds: the second agent, arriving right after the first took the
    // burst's one token, waits at the gateway long enough for the revocation to reach it first.
    await admitAt(account, 0.5, 10_000);
    const res = await call(`/clusters/${account.cluster.id}/agent-tokens`, { method: "POST", token: account.token, json: {} });
    const { id, token } = (await res.json()) as { id: string; token: string };
    const first = await TestSocket.open(account.cluster.id, token);
    first.send(registerFrame({ hostname: "first", ...resume() }));
    expect((await first.next<Frame>()).type).toBe("registered");
    const held = await TestSocket.open(account.cluster.id, token);
    held.send(registerFrame({ hostname: "held", ...resume() }));
    expect((await gatewayStats(account)).waiting).toBe(1);
    expect((await call(`/clusters/${account.cluster.id}/agent-tokens/${id}`, { method: "DELETE", token: account.token })).status).toBe(200);
    expect((await held.waitClosed())?.code).toBe(1008);
    // Past the moment its turn would have come: it was forgotten, not released.
    await new Promise((r) => setTimeout(r, 2200));
    // (The first agent, which sends no heartbeats, may have timed out meanwhile: its close is an
    // event of its own, so the held one is checked by name.)
    expect(await gatewayStats(account)).toMatchObject({ waiting: 0 });
    const listed = await call(`/c/${account.cluster.id}/agents`, { token: account.token });
    const hostnames = ((await listed.json()) as { agents: { hostname: string }[] }).agents.map((a) => a.hostname);
    expect(hostnames).toEqual(["first"]);
  });

  it("past the hold limit: told to retry in distinct slots, closed with 1013, nothing written; all get in by honouring retry-after", async () => {
    const account = await signUp();
    // 4/s, held at most half a second: two are held after the burst, the rest turned away.
    await admitAt(account, 4, 500);
    const { token } = await joinToken(account);
    const sockets = await Promise.all(Array.from({ length: 10 }, () => TestSocket.open(account.cluster.id, token)));
    sockets.forEach((s, i) => s.send(registerFrame({ hostname: `storm-${i}`, ...resume() })));
    const first = await Promise.all(sockets.map((s) => s.next<Frame>(5000)));
    const admitted = first.filter((f) => f.type === "registered");
    const refused = first.filter((f) => f.type === "retry");
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(admitted.length + refused.length).toBe(10);
    // Each refused agent has its own slot, a quarter of a second after the one before (less the
    // few milliseconds between the refusals, since each is told relative to its own moment).
    const slots = refused.map((f) => f.retryAfterMs ?? 0).sort((a, b) => a - b);
    for (let i = 1; i < slots.length; i++) expect((slots[i] ?? 0) - (slots[i - 1] ?? 0)).toBeGreaterThanOrEqual(200);
    for (const [i, s] of sockets.entries()) if (first[i]?.type === "retry") expect((await s.waitClosed()).code).toBe(1013);
    // Not half-registered: only the admitted agents exist, and the refused never reached the
    // Cluster object as sessions (their gateway told it how many it turned away).
    expect(await agentCount(account)).toBe(admitted.length);
    await expect.poll(() => counter(account, "slave_registrations_deferred")).toBe(refused.length);
    const stats = await gatewayStats(account);
    expect(stats.refused).toBe(refused.length);
    expect(stats.events).toBe(2 * admitted.length);
    // The admitted learn how widely to spread their next reconnect.
    expect(admitted[0]?.reconnectWindowMs).toBeGreaterThanOrEqual(500);
    // Coming back when told, every refused agent gets in.
    const hostnames = first.map((f, i) => (f.type === "retry" ? `storm-${i}` : undefined)).filter((h) => h !== undefined);
    await Promise.all(hostnames.map((h, i) => new Promise((r) => setTimeout(r, slots[i] ?? 0)).then(() => joinHonouringRetry(account, token, h))));
    expect(await agentCount(account)).toBe(10);
  });

  it("an agent from before the resume step is refused with the 1013 close alone (no frame it would not know)", async () => {
    const account = await signUp();
    await admitAt(account, 1, 0);
    const { token } = await joinToken(account);
    const first = await TestSocket.open(account.cluster.id, token);
    first.send(registerFrame({ hostname: "old-1" }));
    const registered = await first.next<Frame>();
    expect(registered.type).toBe("registered");
    expect(registered.reconnectWindowMs).toBeUndefined();
    const second = await TestSocket.open(account.cluster.id, token);
    second.send(registerFrame({ hostname: "old-2" }));
    const closed = await second.waitClosed();
    expect(closed.code).toBe(1013);
    expect(closed.reason).toMatch(/try again in \d+ ms/);
    expect(second.frames).toEqual([]);
    expect(await agentCount(account)).toBe(1);
  });
});

describe("the reconnect window", () => {
  it("is sized from the cluster's agent count as each agent registers, not from a copy taken before it grew", async () => {
    const account = await signUp();
    // One registration a second: the window is the count in seconds.
    await runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (instance: Cluster) => {
      Reflect.set(instance, "admission", new AgentAdmission(Reflect.get(instance, "db"), 1));
    });
    const { token } = await joinToken(account);
    // An agent from before the resume step is told no window, in `registered` or after.
    const old = await TestSocket.open(account.cluster.id, token);
    old.send(registerFrame({ hostname: "old" }));
    expect((await old.next<Frame>()).reconnectWindowMs).toBeUndefined();
    const windows: (number | undefined)[] = [];
    const sockets: TestSocket[] = [];
    for (let i = 0; i < 4; i++) {
      const socket = await TestSocket.open(account.cluster.id, token);
      socket.send(registerFrame({ hostname: `grow-${i}`, ...resume() }));
      windows.push((await socket.next<Frame>()).reconnectWindowMs);
      sockets.push(socket);
    }
    expect(windows).toEqual([2000, 3000, 4000, 5000]);
    // Each time the window has grown by a quarter since last announced (3 s over 2 s, 4 s over
    // 3 s, 5 s over 4 s), the agents that were told less hear the grown one.
    const told = async (socket: TestSocket, count: number) => {
      const frames: Frame[] = [];
      for (let i = 0; i < count; i++) frames.push(await socket.nextOfType<Frame>("window"));
      return frames.map((f) => f.reconnectWindowMs);
    };
    expect(await told(sockets[0] as TestSocket, 3)).toEqual([3000, 4000, 5000]);
    expect(await told(sockets[1] as TestSocket, 2)).toEqual([4000, 5000]);
    expect(await told(sockets[2] as TestSocket, 1)).toEqual([5000]);
    await new Promise((r) => setTimeout(r, 200));
    for (const socket of [old, ...sockets]) expect(socket.frames.some((f) => f.includes('"window"'))).toBe(false);
  });
});

describe("the resume step", () => {
  /** An agent running one RUNNING instance of an app, its state acked by the master. */
  async function agentWithTask(account: Account) {
    const agent = await joinAgent(account, resume());
    const post = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/kept", cmd: "sleep 600", cpus: 0.1, mem: 16, instances: 1 },
    });
    expect(post.status).toBe(201);
    const launch = await agent.socket.nextOfType<Frame>("launch");
    const taskId = launch.tasks?.[0]?.taskId ?? "";
    agent.socket.send({ type: "status", updates: [{ updateId: "run-1", taskId, state: "TASK_RUNNING", timestamp: Date.now() }] });
    await agent.socket.nextOfType("ack");
    agent.socket.ws.close(1000, "agent restart");
    await agent.socket.waitClosed();
    return { ...agent, taskId };
  }

  async function taskState(account: Account, taskId: string): Promise<string | undefined> {
    return runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (instance: Cluster) => instance.task(taskId)?.state);
  }

  it("a digest that matches the master's record skips the reconciliation", async () => {
    const account = await signUp();
    const { credential, agentId, taskId } = await agentWithTask(account);
    const before = await counter(account, "slave_resumed");
    const again = await TestSocket.open(account.cluster.id, credential);
    again.send(registerFrame({ agentId, ...resume([{ taskId, state: "TASK_RUNNING" }]) }));
    expect((await again.next<Frame>()).type).toBe("registered");
    await expect.poll(() => counter(account, "slave_resumed")).toBe(before + 1);
    expect(await taskState(account, taskId)).toBe("TASK_RUNNING");
  });

  it("a digest that differs falls back to the full reconciliation: a task the agent lacks is TASK_LOST", async () => {
    const account = await signUp();
    const { credential, agentId, taskId } = await agentWithTask(account);
    const before = await counter(account, "slave_resumed");
    const again = await TestSocket.open(account.cluster.id, credential);
    // The agent lost its task while away (a host reboot): its digest is of no tasks.
    again.send(registerFrame({ agentId, ...resume() }));
    expect((await again.next<Frame>()).type).toBe("registered");
    await expect.poll(() => taskState(account, taskId)).toBe("TASK_LOST");
    expect(await counter(account, "slave_resumed")).toBe(before);
  });

  it("a digest of a task the master is killing is not taken: the kill is sent again", async () => {
    const account = await signUp();
    const { credential, agentId, taskId } = await agentWithTask(account);
    const kill = await call(`/c/${account.cluster.id}/v2/apps/kept/tasks/${encodeURIComponent(taskId)}?scale=true`, { method: "DELETE", token: account.token });
    expect(kill.status).toBe(200);
    const again = await TestSocket.open(account.cluster.id, credential);
    again.send(registerFrame({ agentId, ...resume([{ taskId, state: "TASK_RUNNING" }]) }));
    const killFrame = await again.nextOfType<{ taskIds: string[] }>("kill");
    expect(killFrame.taskIds).toEqual([taskId]);
  });
});

describe("the reset test hook", () => {
  it("is not found unless DCX_TEST_HOOKS is on", async () => {
    const account = await signUp();
    const res = await call(`/c/${account.cluster.id}/debug/reset`, { method: "POST", token: account.token });
    expect(res.status).toBe(404);
  });

  it("a gateway forgets its state and closes the sockets it held as a restart (1012), telling the Cluster object nothing; the agent comes back", async () => {
    const account = await signUp();
    const { socket, agentId, credential } = await joinAgent(account, resume());
    const gateway = env.AGENT_GATEWAY.getByName(gatewayName(account.cluster.id, 0));
    expect((await gateway.forwarded()).events).toBeGreaterThanOrEqual(2);
    await runInDurableObject(gateway, (instance: AgentGateway) => {
      Reflect.set(instance, "env", { ...(Reflect.get(instance, "env") as Env), DCX_TEST_HOOKS: "on" });
      instance.testReset();
      expect(instance.forwarded()).toMatchObject({ rpcs: 0, events: 0, queued: 0 });
    });
    // A frame of a socket about to drop goes nowhere.
    socket.send({ type: "resources", resources: { cpus: 1, mem: 1, disk: 1, gpus: 0, ports: [] }, attributes: {} });
    await runInDurableObject(gateway, (instance: AgentGateway) => instance.testResetClose());
    expect((await socket.waitClosed()).code).toBe(1012);
    expect((await gateway.forwarded()).events).toBe(0);
    // The close was not reported: the agent is still active on its old session, as after a deploy.
    expect((await runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (instance: Cluster) => instance.agent(agentId)))?.state).toBe("active");
    const again = await TestSocket.open(account.cluster.id, credential);
    again.send(registerFrame({ agentId, ...resume() }));
    expect((await again.next<Frame>()).type).toBe("registered");
  });
});

describe("liveness after a restart", () => {
  it("an agent whose socket a restart dropped is not declared unreachable until the grace has passed; one seen closing is", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account);
    socket.ws.close(1000, "gone");
    await socket.waitClosed();
    const stub = env.CLUSTER.getByName(account.cluster.id);
    await expect.poll(() => runInDurableObject(stub, (instance: Cluster) => instance.agent(agentId)?.state)).toBe("disconnected");
    const swept = await runInDurableObject(stub, (instance: Cluster) => {
      const db = Reflect.get(instance, "db");
      // Ten minutes on, far past the 2 s timeout.
      const later = Date.now() + 600_000;
      const none = { sessions: [], unanswered: new Set<number>(), activeBefore: new Map<string, string>() };
      const asLost = sweepLiveness(db, none, later, 2_000, () => {}, { until: later, lost: new Set([agentId]) });
      const stillDisconnected = instance.agent(agentId)?.state;
      const asClosed = sweepLiveness(db, none, later, 2_000, () => {}, { until: later, lost: new Set() });
      return { asLost, stillDisconnected, asClosed };
    });
    expect(swept).toEqual({ asLost: [], stillDisconnected: "disconnected", asClosed: [agentId] });
  });

  it("the sweep counts an agent active without a socket (its gateway restarted, no close event) as lost to the restart", async () => {
    const account = await signUp();
    const { agentId } = await joinAgent(account);
    const lost = await runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (instance: Cluster) => {
      const grace = { until: Date.now() + 600_000, lost: new Set<string>() };
      // No gateway reports the socket: as after a gateway's restart, the agent's socket is gone without a close.
      const db = Reflect.get(instance, "db");
      const input = { sessions: [], unanswered: new Set<number>(), activeBefore: activeSessions(db) };
      const unreachable = sweepLiveness(db, input, Date.now(), 2_000, () => {}, grace);
      return { unreachable, lost: [...grace.lost], state: instance.agent(agentId)?.state };
    });
    expect(lost).toEqual({ unreachable: [], lost: [agentId], state: "disconnected" });
  });
});
