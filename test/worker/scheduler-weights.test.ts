import { describe, expect, it } from "vitest";
import { type Account, call, joinAgent, signUp } from "./helpers.ts";
import { Framework, type Offer } from "./scheduler-helpers.ts";

const AGENT = { resources: { cpus: 4, mem: 4096, disk: 10_000, gpus: 0, ports: [[31000, 31009]] } };

/** Two frameworks in their own roles subscribe to an empty cluster; then `agents` agents join, each offered whole to one of them. */
async function offersSplit(account: Account, agents: number): Promise<[number, number]> {
  const a = await Framework.subscribe(account, { name: "analytics", roles: ["analytics"], capabilities: [{ type: "MULTI_ROLE" }] });
  const b = await Framework.subscribe(account, { name: "web", role: "web" });
  for (let i = 0; i < agents; i++) await joinAgent(account, { ...AGENT, hostname: `node-${i}` });
  const count = async (fw: Framework) => (await fw.within("OFFERS", 300)).flatMap((e) => (e.offers as { offers: Offer[] }).offers).length;
  const split: [number, number] = [await count(a), await count(b)];
  await a.disconnect();
  await b.disconnect();
  return split;
}

describe("role weights", () => {
  it("are set and listed over /weights and the operator API, and bad weights are refused naming the field", async () => {
    const account = await signUp();
    const path = `/c/${account.cluster.id}/weights`;
    const put = await call(path, { method: "PUT", token: account.token, json: [{ role: "analytics", weight: 2 }] });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual([{ role: "analytics", weight: 2 }]);
    const operator = (json: unknown) => call(`/c/${account.cluster.id}/api/v1`, { method: "POST", token: account.token, json });
    expect((await operator({ type: "UPDATE_WEIGHTS", update_weights: { weight_infos: [{ role: "web", weight: 0.5 }] } })).status).toBe(200);
    expect(await (await operator({ type: "GET_WEIGHTS" })).json()).toEqual({
      type: "GET_WEIGHTS",
      get_weights: {
        weight_infos: [
          { role: "analytics", weight: 2 },
          { role: "web", weight: 0.5 },
        ],
      },
    });
    expect(await (await call(`/c/${account.cluster.id}/mesos/weights`, { token: account.token })).json()).toHaveLength(2);
    const zero = await call(path, { method: "PUT", token: account.token, json: [{ role: "web", weight: 0 }] });
    expect(zero.status).toBe(422);
    expect(((await zero.json()) as { details: { path: string }[] }).details[0]?.path).toBe("/0/weight");
    const twice = await operator({
      type: "UPDATE_WEIGHTS",
      update_weights: {
        weight_infos: [
          { role: "a", weight: 1 },
          { role: "a", weight: 2 },
        ],
      },
    });
    expect(twice.status).toBe(400);
    expect(((await twice.json()) as { message: string }).message).toContain("names a role twice");
    // Nothing was written by the refused calls.
    expect(await (await call(path, { token: account.token })).json()).toEqual([
      { role: "analytics", weight: 2 },
      { role: "web", weight: 0.5 },
    ]);
  });

  it("DRF across frameworks: a framework whose role weighs 2 is offered about twice what one of weight 1 is", async () => {
    const even = await signUp();
    expect(await offersSplit(even, 6)).toEqual([3, 3]);
    const weighted = await signUp();
    expect((await call(`/c/${weighted.cluster.id}/weights`, { method: "PUT", token: weighted.token, json: [{ role: "analytics", weight: 2 }] })).status).toBe(
      200,
    );
    expect(await offersSplit(weighted, 6)).toEqual([4, 2]);
  });
});
