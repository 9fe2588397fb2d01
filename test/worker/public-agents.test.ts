import { describe, expect, it } from "vitest";
import { type Account, call, expectInvalid, joinAgent, registerFrame, signUp, TestSocket } from "./helpers.ts";
import { Framework } from "./scheduler-helpers.ts";
import { Browser, withAgent } from "./ui-helpers.ts";

const RESOURCES = { cpus: 1, mem: 1024, disk: 1000, gpus: 0, ports: [[31000, 31010]] };
type Launch = { type: "launch"; tasks: { taskId: string }[] };
type Slave = { id: string; attributes: Record<string, unknown>; reserved_resources: Record<string, { cpus: number }>; unreserved_resources: { cpus: number } };

/** A private agent (a register frame without a role, as every agent before roles sent) and a public one. */
async function privateAndPublic(account: Account) {
  const priv = await joinAgent(account, { hostname: "private-1", resources: RESOURCES });
  const pub = await joinAgent(account, { hostname: "public-1", resources: RESOURCES, role: "slave_public", attributes: {} });
  return { priv, pub };
}

const postApp = (account: Account, app: Record<string, unknown>) =>
  call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: { cmd: "sleep 600", cpus: 0.1, mem: 16, ...app } });

describe("public agents", () => {
  it("an agent registering as public shows its role in /master/slaves (reserved for slave_public, public_ip:true) and in /agents", async () => {
    const account = await signUp();
    const { priv, pub } = await privateAndPublic(account);
    const { slaves } = (await (await call(`/c/${account.cluster.id}/master/slaves`, { token: account.token })).json()) as { slaves: Slave[] };
    const byId = new Map(slaves.map((s) => [s.id, s]));
    expect(byId.get(pub.agentId)).toMatchObject({
      attributes: { public_ip: "true" },
      reserved_resources: { slave_public: { cpus: 1 } },
      unreserved_resources: { cpus: 0 },
    });
    expect(byId.get(priv.agentId)).toMatchObject({ attributes: { rack: "r1" }, reserved_resources: {}, unreserved_resources: { cpus: 1 } });
    expect(byId.get(priv.agentId)?.attributes).not.toHaveProperty("public_ip");
    const { agents } = (await (await call(`/c/${account.cluster.id}/agents`, { token: account.token })).json()) as {
      agents: { id: string; role: string; public: boolean }[];
    };
    expect(agents.map((a) => [a.id, a.role, a.public])).toEqual(
      expect.arrayContaining([
        [pub.agentId, "slave_public", true],
        [priv.agentId, "*", false],
      ]),
    );
  });

  it("a `resources` frame with new attributes keeps a public agent public", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account, { hostname: "public-1", resources: RESOURCES, role: "slave_public" });
    socket.send({ type: "resources", resources: RESOURCES, attributes: { zone: "edge" } });
    // The gateway answers pings itself, so a pong says nothing of the frame: the registry is polled.
    const slaves = async () => ((await (await call(`/c/${account.cluster.id}/master/slaves`, { token: account.token })).json()) as { slaves: Slave[] }).slaves;
    await expect
      .poll(async () => (await slaves()).find((s) => s.id === agentId))
      .toMatchObject({
        attributes: { zone: "edge", public_ip: "true" },
        reserved_resources: { slave_public: { cpus: 1 } },
      });
  });

  it("an unknown role in the register frame is refused, naming the field", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, { hostname: "private-1" });
    socket.send(registerFrame({ role: "admins" }));
    const error = await socket.nextOfType<{ details: { path: string }[] }>("error");
    expect(error.details.map((d) => d.path)).toContain("/role");
  });
});

describe("acceptedResourceRoles", () => {
  const cases: [string, string[] | undefined, "priv" | "pub"][] = [
    ["absent: private agents only", undefined, "priv"],
    ['["*"]: private agents only', ["*"], "priv"],
    ['["slave_public"]: public agents only', ["slave_public"], "pub"],
  ];
  for (const [name, roles, where] of cases) {
    it(name, async () => {
      const account = await signUp();
      const agents = await privateAndPublic(account);
      const app = { id: "/web", instances: 3, ...(roles ? { acceptedResourceRoles: roles } : {}) };
      expect((await postApp(account, app)).status).toBe(201);
      const launch = await agents[where].socket.nextOfType<Launch>("launch");
      expect(launch.tasks).toHaveLength(3);
      const other = agents[where === "priv" ? "pub" : "priv"].socket;
      expect((await other.framesWithin<{ type: string }>(300)).filter((f) => f.type === "launch")).toEqual([]);
      const stored = (await (await call(`/c/${account.cluster.id}/v2/apps/web`, { token: account.token })).json()) as {
        app: { acceptedResourceRoles?: string[] };
      };
      expect(stored.app.acceptedResourceRoles).toEqual(roles);
    });
  }

  it("both roles: either kind of agent", async () => {
    const account = await signUp();
    const { priv, pub } = await privateAndPublic(account);
    // One cpu each: two instances of one cpu need both agents.
    expect((await postApp(account, { id: "/both", cpus: 1, instances: 2, acceptedResourceRoles: ["slave_public", "*"] })).status).toBe(201);
    expect((await priv.socket.nextOfType<Launch>("launch")).tasks).toHaveLength(1);
    expect((await pub.socket.nextOfType<Launch>("launch")).tasks).toHaveLength(1);
  });

  it("an app no agent's role admits waits in /v2/queue with UnfulfilledRole", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, { hostname: "private-1", resources: RESOURCES });
    expect((await postApp(account, { id: "/edge", acceptedResourceRoles: ["slave_public"] })).status).toBe(201);
    expect((await socket.framesWithin<{ type: string }>(300)).filter((f) => f.type === "launch")).toEqual([]);
    const { queue } = (await (await call(`/c/${account.cluster.id}/v2/queue`, { token: account.token })).json()) as {
      queue: { count: number; processedOffersSummary: { rejectSummaryLastOffers: { reason: string; declined: number }[] } }[];
    };
    expect(queue[0]?.count).toBe(1);
    const summary = queue[0]?.processedOffersSummary.rejectSummaryLastOffers ?? [];
    expect(summary.find((r) => r.reason === "UnfulfilledRole")?.declined).toBe(1);
    expect(summary.filter((r) => r.reason !== "UnfulfilledRole").every((r) => r.declined === 0)).toBe(true);
  });

  it("refuses an empty list or a role no agent offers with a 422 naming the field", async () => {
    const account = await signUp();
    await expectInvalid(await postApp(account, { id: "/bad", acceptedResourceRoles: [] }), "/acceptedResourceRoles");
    await expectInvalid(await postApp(account, { id: "/bad", acceptedResourceRoles: ["public"] }), "/acceptedResourceRoles/0");
  });
});

describe("Metronome jobs", () => {
  it("run on private agents only", async () => {
    const account = await signUp();
    const { priv, pub } = await privateAndPublic(account);
    const v1 = (path: string, json?: unknown) =>
      call(`/c/${account.cluster.id}/v1${path}`, { method: "POST", token: account.token, ...(json === undefined ? {} : { json }) });
    expect((await v1("/jobs", { id: "nightly", run: { cmd: "true", cpus: 0.1, mem: 32 } })).status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await v1("/jobs/nightly/runs")).status).toBe(201);
    const launched = (await priv.socket.framesWithin<Launch>(500)).filter((f) => f.type === "launch").flatMap((f) => f.tasks);
    expect(launched).toHaveLength(3);
    expect((await pub.socket.framesWithin<{ type: string }>(200)).filter((f) => f.type === "launch")).toEqual([]);
  });
});

describe("frameworks see roles in offers", () => {
  it("a framework without slave_public is offered private agents only; one with it gets public agents' resources as slave_public", async () => {
    const account = await signUp();
    const { priv, pub } = await privateAndPublic(account);
    const plain = await Framework.subscribe(account, { name: "plain" });
    const plainOffers = await plain.offers();
    expect(plainOffers.map((o) => o.agent_id.value)).toEqual([priv.agentId]);
    const edge = await Framework.subscribe(account, { name: "edge", roles: ["slave_public"], capabilities: [{ type: "MULTI_ROLE" }] });
    const [offer] = await edge.offers();
    expect(offer?.agent_id.value).toBe(pub.agentId);
    expect(offer).toMatchObject({ allocation_info: { role: "slave_public" } });
    expect(offer?.resources.every((r) => (r as { role?: string }).role === "slave_public")).toBe(true);
    expect(await plain.within("OFFERS", 300)).toEqual([]);
    await plain.disconnect();
    await edge.disconnect();
  });
});

describe("the web UI", () => {
  it("the Nodes page and a node's page show a public agent's type", async () => {
    const { browser } = await withAgent();
    const created = await browser.form(`/ui/${browser.clusterId}/tokens`, { op: "create-agent-token", description: "edge", expiresInSeconds: "3600" });
    const token = /--token (dcxj_\S+)/.exec(await created.text())?.[1] ?? "";
    const socket = await TestSocket.open(browser.clusterId, token);
    socket.send(registerFrame({ hostname: "edge-1", ip: "10.1.2.4", role: "slave_public" }));
    const { agentId } = await socket.next<{ agentId: string }>();
    const rows = Browser.text((await browser.page(`/ui/${browser.clusterId}/nodes`)).html);
    expect(rows).toMatch(/edge-1 \S+ Public /);
    expect(rows).toMatch(/ui-node-1 \S+ Private /);
    expect(Browser.text((await browser.page(`/ui/${browser.clusterId}/nodes/${agentId}`)).html)).toContain("Type Public");
  });
});
