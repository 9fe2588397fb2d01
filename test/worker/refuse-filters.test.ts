import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { type Account, call, joinAgent, signUp } from "./helpers.ts";

const stub = (account: Account) => env.CLUSTER.getByName(account.cluster.id);

/** When Marathon's refuse filter on the agent ends, or undefined without one. */
function filterUntil(account: Account, agentId: string): Promise<number | undefined> {
  return runInDurableObject(
    stub(account),
    (_: Cluster, state) =>
      state.storage.sql.exec<{ until: number }>("SELECT until FROM offer_filters WHERE framework = 'marathon' AND agent_id = ?", agentId).toArray()[0]?.until,
  );
}

/** Runs an allocation round now, from the object's own alarm. */
async function roundNow(account: Account): Promise<void> {
  await runInDurableObject(stub(account), async (_: Cluster, state) => {
    state.storage.sql.exec("INSERT INTO timers (name, due_at) VALUES ('allocate', 0) ON CONFLICT(name) DO UPDATE SET due_at = 0");
    // Run by the test, not by the object's own alarm firing first on a slow machine.
    await state.storage.setAlarm(Date.now() + 60_000);
  });
  expect(await runDurableObjectAlarm(stub(account))).toBe(true);
}

describe("refuse filters (Mesos Filters.refuse_seconds)", () => {
  it("a round does not renew the filter on an agent it never offered, so the agent is offered again once the filter ends", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account, { resources: { cpus: 1, mem: 1024, disk: 1000, gpus: 0, ports: [[31000, 31010]] } });
    const post = (id: string) =>
      call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: { id, cmd: "sleep 600", cpus: 1, mem: 16 } });
    expect((await post("/first")).status).toBe(201);
    await socket.nextOfType("launch");
    // The agent is full: the second app's round declines it for a while.
    expect((await post("/second")).status).toBe(201);
    const until = await filterUntil(account, agentId);
    expect(until).toBeGreaterThan(Date.now());
    // Rounds while the filter holds (other changes cause them) leave it as it is.
    await roundNow(account);
    await roundNow(account);
    expect(await filterUntil(account, agentId)).toBe(until);
  });
});

describe("/v2/queue under refuse filters", () => {
  it("keeps the reasons of the last offers while every agent is filtered, instead of 'declined'", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, { resources: { cpus: 4, mem: 4096, disk: 1000, gpus: 0, ports: [[31000, 31010]] } });
    const app = { id: "/uniq", cmd: "sleep 600", cpus: 0.1, mem: 16, instances: 2, constraints: [["hostname", "UNIQUE"]] };
    expect((await call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: app })).status).toBe(201);
    await socket.nextOfType("launch");
    // The first round to turn the agent down declines it; the rounds after see no agent at all.
    await roundNow(account);
    await roundNow(account);
    await roundNow(account);
    const response = await call(`/c/${account.cluster.id}/v2/queue`, { token: account.token });
    const { queue } = (await response.json()) as {
      queue: { count: number; processedOffersSummary: { rejectSummaryLastOffers: { reason: string; declined: number }[] } }[];
    };
    expect(queue[0]?.count).toBe(1);
    // Marathon's reason names: the agent was declined for the constraint, not for a filter.
    const summary = queue[0]?.processedOffersSummary.rejectSummaryLastOffers ?? [];
    expect(summary.find((r) => r.reason === "UnfulfilledConstraint")?.declined).toBe(1);
    expect(summary.filter((r) => r.reason !== "UnfulfilledConstraint").every((r) => r.declined === 0)).toBe(true);
  });
});
