import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { RESTART_GRACE_MS } from "../../control/cluster/admission.ts";
import { parseAppDefinition } from "../../control/cluster/frameworks/marathon/app-definition.ts";
import { gatewayFor, gatewayName, gatewayOfSession } from "../../control/gateway/wire.ts";
import { type Account, TestSocket, call, joinAgent, pingEvery, registerFrame, signUp } from "./helpers.ts";

/**
 * Agent sockets spread over gateway objects (control/gateway/). The test configuration puts two
 * agents per gateway (AGENTS_PER_GATEWAY) and reads the count fresh at every connect.
 */

const clusterOf = (account: Account) => env.CLUSTER.getByName(account.cluster.id);
const gateway = (account: Account, n: number) => env.AGENT_GATEWAY.getByName(gatewayName(account.cluster.id, n));

async function agentState(account: Account, id: string): Promise<string> {
  const res = await call(`/c/${account.cluster.id}/agents/${id}`, { token: account.token });
  return ((await res.json()) as { agent: { state: string } }).agent.state;
}

interface Connected {
  agentId: string;
  credential: string;
  socket: TestSocket;
}

/** Joins `count` agents, then reconnects each with its credential, so each sits on its own gateway. */
async function connectAgents(account: Account, count: number): Promise<Connected[]> {
  const joined = [];
  for (let i = 0; i < count; i++) joined.push(await joinAgent(account, { hostname: `node-${i}` }));
  const agents: Connected[] = [];
  for (const { agentId, credential, socket } of joined) {
    const again = await TestSocket.open(account.cluster.id, credential);
    again.send(registerFrame({ agentId, hostname: "again" }));
    expect(await again.nextOfType("registered")).toMatchObject({ agentId });
    expect((await socket.waitClosed()).code).toBe(4000);
    agents.push({ agentId, credential, socket: again });
  }
  return agents;
}

/** Which gateway holds each agent's socket, by asking every gateway for its sessions. */
async function placement(account: Account, count: number): Promise<Map<string, number>> {
  const where = new Map<string, number>();
  for (let n = 0; n < count; n++) {
    for (const s of await gateway(account, n).sessions()) {
      if (s.agentId) where.set(s.agentId, n);
      expect(gatewayOfSession(s.sessionId)).toBe(n);
    }
  }
  return where;
}

/** Runs the cluster's liveness sweep now (its timer made due), then its whole alarm. */
async function sweepNow(account: Account, shiftMs = 0): Promise<void> {
  await runInDurableObject(clusterOf(account), async (_: Cluster, state) => {
    state.storage.sql.exec("UPDATE agents SET disconnected_at = disconnected_at - ?", shiftMs);
    state.storage.sql.exec("UPDATE timers SET due_at = 0 WHERE name = 'liveness'");
    await state.storage.setAlarm(Date.now() + 60_000);
  });
  await runDurableObjectAlarm(clusterOf(account));
}

describe("agent gateways", () => {
  it("spread a cluster's agents by id over G gateways, G growing with the agents; a reconnect lands on the same gateway", async () => {
    const account = await signUp();
    const agents = await connectAgents(account, 6);
    // Six agents at two per gateway: three gateways.
    expect(await clusterOf(account).gatewayCount()).toBe(3);
    const where = await placement(account, 3);
    for (const { agentId } of agents) expect(where.get(agentId)).toBe(gatewayFor(agentId, 3));
    // Spread, checked on the function: six random agent ids all hash to one gateway once in 243 runs.
    expect(new Set(Array.from({ length: 60 }, (_, i) => gatewayFor(`agent-${i}`, 3))).size).toBe(3);
    // Reconnecting again lands each on the same gateway.
    const [first] = agents;
    if (!first) throw new Error("no agent");
    const back = await TestSocket.open(account.cluster.id, first.credential);
    back.send(registerFrame({ agentId: first.agentId }));
    expect(await back.nextOfType("registered")).toMatchObject({ agentId: first.agentId });
    expect((await placement(account, 3)).get(first.agentId)).toBe(where.get(first.agentId));
  });

  it("batch frames into few RPCs each way while the Cluster object is busy, in order", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account);
    const n = (await placement(account, await clusterOf(account).gatewayCount())).get(agentId) ?? -1;
    const before = await gateway(account, n).forwarded();
    const deliveredBefore = await runInDurableObject(clusterOf(account), (instance: Cluster) => deliveries(instance));
    // The Cluster object takes nothing for a while, as under load: what the agent sends meanwhile waits on its gateway.
    // A flag, polled: a promise resolved inside the object would resume this test in the object's I/O context.
    const hold = { begun: false };
    const frames = 300;
    const held = runInDurableObject(clusterOf(account), (_: Cluster, state) =>
      state.blockConcurrencyWhile(async () => {
        hold.begun = true;
        // Held until the gateway holds all but the one frame it already sent (at most 10 s).
        for (let i = 0; i < 200 && (await gateway(account, n).forwarded()).queued < 2 * frames - 1; i++) await new Promise((r) => setTimeout(r, 50));
      }),
    );
    while (!hold.begun) await new Promise((r) => setTimeout(r, 5));
    for (let i = 1; i <= frames; i++) socket.send({ type: "resources", resources: { cpus: i, mem: 1024, disk: 10, gpus: 0, ports: [] } });
    // Each bad frame is answered with an error frame: 300 answers going back through the gateway.
    for (let i = 0; i < frames; i++) socket.send("{not json");
    await held;
    for (let i = 0; i < frames; i++) await socket.nextOfType("error");
    const after = await gateway(account, n).forwarded();
    expect(after.events - before.events).toBe(2 * frames);
    // One RPC in flight: the frames that arrived meanwhile share the next one or few.
    expect(after.rpcs - before.rpcs).toBeLessThan(10);
    const delivered = (await runInDurableObject(clusterOf(account), (instance: Cluster) => deliveries(instance))) - deliveredBefore;
    expect(delivered).toBeLessThan(10);
    // In order: the last resources frame is the one that stands.
    const res = await call(`/c/${account.cluster.id}/agents/${agentId}`, { token: account.token });
    expect(((await res.json()) as { agent: { resources: { cpus: number } } }).agent.resources.cpus).toBe(frames);
  });

  it("a command that launches answers once its launch frames had their gateway's delivery RPC", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, { hostname: "node" });
    const parsed = parseAppDefinition({ id: "/first", cmd: "sleep 600", cpus: 0.1, mem: 32 });
    if (!parsed.ok) throw new Error("the app did not parse");
    const app = parsed.app;
    const after = await runInDurableObject(clusterOf(account), async (instance: Cluster) => {
      const before = deliveries(instance);
      const created = await instance.marathonCreate(app);
      const { pending, inFlight } = (instance as unknown as { gateways: { pending: Map<number, unknown>; inFlight: Set<number> } }).gateways;
      return { ok: created.ok, rpcs: deliveries(instance) - before, waiting: pending.size + inFlight.size };
    });
    // The answer came after the delivery RPC had ended: nothing of the launch waits in the object.
    expect(after).toEqual({ ok: true, rpcs: 1, waiting: 0 });
    expect(await socket.nextOfType<{ tasks: unknown[] }>("launch")).toMatchObject({ tasks: [expect.anything()] });
  });

  it("a gateway's reset drops only its own agents, who reconnect; the others keep their sockets and sessions", async () => {
    const account = await signUp();
    const agents = await connectAgents(account, 6);
    const where = await placement(account, 3);
    const victim = where.get(agents[0]?.agentId ?? "") ?? 0;
    const hit = agents.filter((a) => where.get(a.agentId) === victim);
    const spared = agents.filter((a) => where.get(a.agentId) !== victim);
    expect(spared.length).toBeGreaterThan(0);
    await resetGateway(account, victim);
    for (const a of hit) await a.socket.waitClosed();
    for (const a of spared) expect(a.socket.closed).toBeUndefined();
    // The agents of the reset gateway come back (to the same gateway); the others were never touched.
    for (const a of hit) {
      a.socket = await TestSocket.open(account.cluster.id, a.credential);
      a.socket.send(registerFrame({ agentId: a.agentId }));
      expect(await a.socket.nextOfType("registered")).toMatchObject({ agentId: a.agentId });
    }
    await heartbeat(agents.map((a) => a.socket));
    await sweepNow(account);
    for (const a of agents) expect(await agentState(account, a.agentId)).toBe("active");
    for (const a of spared) expect(a.socket.closed).toBeUndefined();
    // The spared sessions still carry frames both ways.
    for (const a of spared) {
      a.socket.send("{not json");
      expect(await a.socket.nextOfType("error")).toMatchObject({ type: "error" });
    }
  });

  it("an agent whose gateway was reset and who does not come back is disconnected, then unreachable after the timeout (and the restart grace)", async () => {
    const account = await signUp();
    const { agentId, socket } = await joinAgent(account);
    const n = (await placement(account, await clusterOf(account).gatewayCount())).get(agentId) ?? -1;
    await resetGateway(account, n);
    await socket.waitClosed();
    // No close event reached the cluster: the sweep finds no gateway holding the agent's socket.
    expect(await agentState(account, agentId)).toBe("active");
    await sweepNow(account);
    expect(await agentState(account, agentId)).toBe("disconnected");
    // The Cluster object started moments ago, as after a deploy that reset every object: a
    // socket lost without a close gets the restart grace (admission.ts) before its tasks are given up.
    await sweepNow(account, 10_000);
    expect(await agentState(account, agentId)).toBe("disconnected");
    // An object up for long (one gateway crashed on its own): the timeout alone.
    await runInDurableObject(clusterOf(account), (instance: Cluster) => {
      Reflect.set(Reflect.get(instance, "admission") as object, "startedAt", Date.now() - 2 * RESTART_GRACE_MS);
    });
    await sweepNow(account);
    expect(await agentState(account, agentId)).toBe("unreachable");
  });

  it("a reset of the Cluster object keeps the agents' sockets: it finds their sessions again through their gateways", async () => {
    const account = await signUp();
    const agents = await connectAgents(account, 6);
    await runInDurableObject(clusterOf(account), (_: Cluster, state) => {
      state.abort("reset by the test");
    }).catch(() => undefined);
    // Each gateway's first batch after the reset may be refused (its stub still names the old
    // instance): those sessions are closed with 1011. The others are answered by the new instance.
    const kept: Connected[] = [];
    for (const a of agents) {
      a.socket.send("{not json");
      const answer = await Promise.race([a.socket.nextOfType<{ type: string }>("error"), a.socket.waitClosed(5000)]);
      if ("code" in answer) expect(answer.code).toBe(1011);
      else kept.push(a);
    }
    expect(kept.length).toBeGreaterThanOrEqual(3);
    // The new instance reaches a kept session from the registry alone: removing its agent closes it.
    const [removed] = kept;
    if (!removed) throw new Error("no agent kept its socket");
    expect((await call(`/c/${account.cluster.id}/agents/${removed.agentId}`, { method: "DELETE", token: account.token })).status).toBe(204);
    expect((await removed.socket.waitClosed()).code).toBe(4002);
  });

  it("heartbeats are answered by the gateway, and its report keeps the agent alive across the timeout", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account);
    await pingEvery(socket, 5, 500);
    const n = (await placement(account, await clusterOf(account).gatewayCount())).get(agentId) ?? -1;
    const [report] = (await gateway(account, n).sessions()).filter((s) => s.agentId === agentId);
    expect(Date.now() - (report?.lastHeartbeat ?? 0)).toBeLessThan(1500);
    await sweepNow(account);
    expect(await agentState(account, agentId)).toBe("active");
    expect(socket.closed).toBeUndefined();
  });

  it("a revoked join token closes the sessions it admitted that have not registered, on every gateway", async () => {
    const account = await signUp();
    const res = await call(`/clusters/${account.cluster.id}/agent-tokens`, { method: "POST", token: account.token, json: {} });
    const { id, token } = (await res.json()) as { id: string; token: string };
    const pending = [await TestSocket.open(account.cluster.id, token), await TestSocket.open(account.cluster.id, token)];
    expect((await call(`/clusters/${account.cluster.id}/agent-tokens/${id}`, { method: "DELETE", token: account.token })).status).toBe(200);
    for (const s of pending) expect((await s.waitClosed()).code).toBe(1008);
  });
});

/** One heartbeat of each socket, answered by its gateway (the test's agents do not ping on their own). */
async function heartbeat(sockets: TestSocket[]): Promise<void> {
  for (const socket of sockets) {
    socket.send("ping");
    while ((await socket.next<unknown>()) !== "pong");
  }
}

/** Resets one gateway object, as a deploy or a crash would: its sockets drop, its memory is gone. */
async function resetGateway(account: Account, n: number): Promise<void> {
  await runInDurableObject(gateway(account, n), (_instance, state) => {
    state.abort("reset by the test");
  }).catch(() => undefined);
}

/** How many deliver RPCs the Cluster object has made to its gateways. */
function deliveries(instance: Cluster): number {
  return (instance as unknown as { gateways: { rpcs: number } }).gateways.rpcs;
}
