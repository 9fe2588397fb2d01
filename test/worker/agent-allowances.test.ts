import { describe, expect, it } from "vitest";
import { REFUSED_ACCESS } from "../../protocol/host-access.ts";
import { type Account, call, joinAgent, signUp } from "./helpers.ts";

/**
 * Agents tell the master what they let tasks have of their host; placement sends a task only
 * where it would be run, instead of launching it on an agent that refuses it again and again.
 */

const NONE = { privileged: false, rootTasks: false, capabilities: [], hostPaths: [], devices: [] };
const DOCKER = { rack: "r1", docker: "27.0.0" };
type Launch = { type: "launch"; tasks: { taskId: string; container?: { privileged: boolean } }[] };

const postApp = (account: Account, app: Record<string, unknown>) =>
  call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: { cpus: 0.1, mem: 16, ...app } });

const privileged = { id: "/priv", container: { type: "DOCKER", docker: { image: "busybox", privileged: true } }, cmd: "sleep 600" };

describe("agent allowances", () => {
  it("a privileged app goes only to the agent started with --allow-privileged", async () => {
    const account = await signUp();
    const strict = await joinAgent(account, { hostname: "strict", attributes: DOCKER, allowances: NONE });
    const lenient = await joinAgent(account, { hostname: "lenient", attributes: DOCKER, allowances: { ...NONE, privileged: true } });
    expect((await postApp(account, { ...privileged, instances: 2 })).status).toBe(201);
    const launch = await lenient.socket.nextOfType<Launch>("launch");
    expect(launch.tasks.map((t) => t.container?.privileged)).toEqual([true, true]);
    expect((await strict.socket.framesWithin<{ type: string }>(300)).filter((f) => f.type === "launch")).toEqual([]);
  });

  it("an app no agent allows waits, saying which allowance is missing, and is not launched", async () => {
    const account = await signUp();
    const strict = await joinAgent(account, { hostname: "strict", attributes: DOCKER, allowances: NONE });
    expect((await postApp(account, { id: "/root", cmd: "id", user: "root" })).status).toBe(201);
    expect((await strict.socket.framesWithin<{ type: string }>(300)).filter((f) => f.type === "launch")).toEqual([]);
    const deployments = (await (await call(`/c/${account.cluster.id}/v2/deployments?embed=waiting`, { token: account.token })).json()) as {
      waiting?: { reasons?: Record<string, number> };
    }[];
    expect(deployments[0]?.waiting?.reasons).toEqual({ [REFUSED_ACCESS.root]: 1 });
    const { queue } = (await (await call(`/c/${account.cluster.id}/v2/queue`, { token: account.token })).json()) as {
      queue: { processedOffersSummary: { rejectSummaryLastOffers: { reason: string; declined: number }[] } }[];
    };
    expect(queue[0]?.processedOffersSummary.rejectSummaryLastOffers.find((r) => r.reason === "UnfulfilledConstraint")?.declined).toBe(1);
  });

  it("an agent that does not say what it allows (from before allowances) is sent the task, and decides itself", async () => {
    const account = await signUp();
    const old = await joinAgent(account, { hostname: "old", attributes: DOCKER });
    expect((await postApp(account, privileged)).status).toBe(201);
    expect((await old.socket.nextOfType<Launch>("launch")).tasks).toHaveLength(1);
  });

  it("allowances that are not the right shape are refused, naming the field", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, { hostname: "ok" });
    socket.send({
      type: "register",
      protocol: 1,
      hostname: "bad",
      ip: "10.0.0.1",
      resources: { cpus: 1, mem: 1, disk: 1, gpus: 0, ports: [] },
      attributes: {},
      version: "0.1.0",
      tasks: [],
      allowances: { ...NONE, privileged: "yes" },
    });
    const error = await socket.nextOfType<{ details: { path: string }[] }>("error");
    expect(error.details.map((d) => d.path)).toContain("/allowances/privileged");
  });
});
