import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { type Account, TestSocket, agentStateBecomes, call, joinAgent, registerFrame, signUp } from "./helpers.ts";

/** Allocation rounds the cluster has run, from its Prometheus counter. */
async function rounds(account: Account): Promise<number> {
  const text = await (await call(`/c/${account.cluster.id}/metrics/prometheus`, { token: account.token })).text();
  const line = text.split("\n").find((l) => l.startsWith("dcx_allocation_rounds_total"));
  return Number(line?.split(" ").at(-1) ?? 0);
}

async function allocateTimer(account: Account): Promise<number | undefined> {
  return runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (_instance: Cluster, state) => {
    const row = state.storage.sql.exec<{ due_at: number }>("SELECT due_at FROM timers WHERE name = 'allocate'").toArray()[0];
    return row?.due_at;
  });
}

describe("registration and allocation rounds", () => {
  it("a known agent re-registering unchanged while nothing waits runs no round and asks for none", async () => {
    const account = await signUp();
    const first = await joinAgent(account);
    // The join's own coalesced round (nothing was known to wait on a fresh object) runs first.
    await runDurableObjectAlarm(env.CLUSTER.getByName(account.cluster.id));
    for (let i = 0; i < 100 && (await allocateTimer(account)) !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await allocateTimer(account)).toBeUndefined();
    const before = await rounds(account);
    const second = await TestSocket.open(account.cluster.id, first.credential);
    second.send(registerFrame({ agentId: first.agentId }));
    expect((await second.next<{ type: string }>()).type).toBe("registered");
    expect(await rounds(account)).toBe(before);
    expect(await allocateTimer(account)).toBeUndefined();
  });

  it("a known agent coming back while an app waits gets its instance from the round its register asks for", async () => {
    const account = await signUp();
    const first = await joinAgent(account);
    first.socket.ws.close(1000, "restart");
    await first.socket.waitClosed();
    await agentStateBecomes(account, first.agentId, "disconnected");
    // No agent is active: the app waits, and nothing was offered (so nothing is filtered).
    const post = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/back", cmd: "sleep 600", cpus: 0.1, mem: 16, instances: 1 },
    });
    expect(post.status).toBe(201);
    const again = await TestSocket.open(account.cluster.id, first.credential);
    again.send(registerFrame({ agentId: first.agentId }));
    const launch = await again.nextOfType<{ tasks: { taskId: string }[] }>("launch", 5000);
    expect(launch.tasks).toHaveLength(1);
  });

  it("agents joining while an app waits get its instances through coalesced rounds", async () => {
    const account = await signUp();
    const post = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/spread", cmd: "sleep 600", cpus: 0.1, mem: 16, instances: 4, constraints: [["hostname", "UNIQUE"]] },
    });
    expect(post.status).toBe(201);
    const agents = await Promise.all([1, 2, 3, 4].map((i) => joinAgent(account, { hostname: `node-${i}` })));
    const launches = await Promise.all(agents.map((a) => a.socket.nextOfType<{ tasks: unknown[] }>("launch", 5000)));
    expect(launches.map((l) => l.tasks.length)).toEqual([1, 1, 1, 1]);
  });
});
