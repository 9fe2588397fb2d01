import { strFromU8, unzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { call, joinAgent, signUp } from "./helpers.ts";
import { withAgent } from "./ui-helpers.ts";

interface Check {
  name: string;
  status: string;
  message: string;
}
interface Node {
  agentId: string;
  hostname: string;
  state: string;
  healthy: boolean;
  reportedAt: number | null;
  checks: Check[];
}

const healthyChecks: Check[] = [
  { name: "connection", status: "healthy", message: "connected" },
  { name: "cgroups", status: "healthy", message: "v2" },
  { name: "docker", status: "disabled", message: "no docker socket configured" },
  { name: "disk", status: "healthy", message: "20000 MB free" },
];

async function nodes(clusterId: string, token: string): Promise<{ healthy: boolean; nodes: Node[] }> {
  const res = await call(`/c/${clusterId}/diagnostics`, { token });
  expect(res.status).toBe(200);
  return res.json();
}

/** Waits until the object has stored a report (frames are applied asynchronously to the sender). */
async function reported(clusterId: string, token: string, agentId: string): Promise<Node> {
  for (let i = 0; i < 100; i++) {
    const node = (await nodes(clusterId, token)).nodes.find((n) => n.agentId === agentId);
    if (node?.reportedAt !== null && node?.reportedAt !== undefined) return node;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`agent ${agentId} never had a stored report`);
}

describe("node diagnostics", () => {
  it("keeps each agent's latest checks and adds the master's clock check", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account);
    const before = (await nodes(account.cluster.id, account.token)).nodes[0];
    expect(before).toMatchObject({ agentId, healthy: false, reportedAt: null, checks: [] });
    socket.send({ type: "diagnostics", checks: healthyChecks, sentAt: Date.now() });
    const node = await reported(account.cluster.id, account.token, agentId);
    expect(node.healthy).toBe(true);
    expect(node.checks.map((c) => c.name)).toEqual(["connection", "cgroups", "docker", "disk", "clock"]);
    expect(node.checks.find((c) => c.name === "clock")).toMatchObject({ status: "healthy" });
    const one = await call(`/c/${account.cluster.id}/agents/${agentId}/diagnostics`, { token: account.token });
    expect(await one.json()).toEqual(node);
  });

  it("a clock minutes off is unhealthy, and so is the node; a later report replaces it", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account);
    socket.send({ type: "diagnostics", checks: healthyChecks, sentAt: Date.now() - 5 * 60_000 });
    const skewed = await reported(account.cluster.id, account.token, agentId);
    expect(skewed.healthy).toBe(false);
    expect(skewed.checks.find((c) => c.name === "clock")?.message).toMatch(/behind the master's.*NTP/);
    // An agent cannot vouch for its own clock: a "clock" check it sends is replaced by the master's.
    socket.send({
      type: "diagnostics",
      checks: [...healthyChecks, { name: "clock", status: "healthy", message: "trust me" }],
      sentAt: Date.now() + 5 * 60_000,
    });
    await expect
      .poll(async () => (await nodes(account.cluster.id, account.token)).nodes[0]?.checks.find((c) => c.name === "clock")?.message)
      .toMatch(/ahead of/);
  });

  it("a disconnected agent's connection check says so, whatever it last reported", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account);
    socket.send({ type: "diagnostics", checks: healthyChecks, sentAt: Date.now() });
    await reported(account.cluster.id, account.token, agentId);
    socket.ws.close(1000, "bye");
    await expect
      .poll(async () => (await nodes(account.cluster.id, account.token)).nodes[0]?.checks.find((c) => c.name === "connection"))
      .toMatchObject({ status: "unhealthy", message: expect.stringContaining("disconnected") });
    expect((await nodes(account.cluster.id, account.token)).healthy).toBe(false);
  });

  it("malformed reports get an error frame and change nothing; unknown agents are a 404", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account);
    socket.send({ type: "diagnostics", checks: [{ name: "Disk!", status: "fine", message: "x" }], sentAt: Date.now() });
    const error = await socket.nextOfType<{ message: string; details: { path: string }[] }>("error");
    expect(error.details.map((d) => d.path)).toEqual(expect.arrayContaining(["/checks/0/name", "/checks/0/status"]));
    expect((await nodes(account.cluster.id, account.token)).nodes.find((n) => n.agentId === agentId)?.reportedAt).toBeNull();
    const missing = await call(`/c/${account.cluster.id}/agents/no-such-agent/diagnostics`, { token: account.token });
    expect(missing.status).toBe(404);
  });

  it("another tenant sees neither the nodes nor a bundle", async () => {
    const owner = await signUp();
    const stranger = await signUp();
    const { agentId } = await joinAgent(owner);
    for (const [path, method] of [
      ["/diagnostics", "GET"],
      [`/agents/${agentId}/diagnostics`, "GET"],
      ["/diagnostics/bundle", "POST"],
    ] as const) {
      const res = await call(`/c/${owner.cluster.id}${path}`, { method, token: stranger.token });
      expect([403, 404]).toContain(res.status);
    }
  });
});

describe("diagnostics bundle", () => {
  it("asks each connected agent over its socket and zips the cluster's state with their checks and logs", async () => {
    const account = await signUp();
    const answering = await joinAgent(account, { hostname: "answers" });
    const silent = await joinAgent(account, { hostname: "silent" });
    const pending = call(`/c/${account.cluster.id}/diagnostics/bundle?timeoutMs=500`, { method: "POST", token: account.token });
    const asked = await answering.socket.nextOfType<{ requestId: string }>("bundle");
    await silent.socket.nextOfType("bundle");
    answering.socket.send({ type: "bundleData", requestId: asked.requestId, checks: healthyChecks, sentAt: Date.now(), logs: '{"event":"registered"}\n' });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("application/zip");
    expect(res.headers.get("Content-Disposition")).toMatch(/attachment; filename="dcx-bundle-.*\.zip"/);
    const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
    const names = Object.keys(files);
    expect(names).toEqual(expect.arrayContaining(["summary.json", "cluster/state.json", "cluster/diagnostics.json"]));
    const folder = `agents/answers_${answering.agentId}`;
    expect(strFromU8(files[`${folder}/agent.log`] ?? new Uint8Array())).toBe('{"event":"registered"}\n');
    expect(JSON.parse(strFromU8(files[`${folder}/checks.json`] ?? new Uint8Array()))).toEqual(healthyChecks);
    expect(strFromU8(files[`agents/silent_${silent.agentId}/error.txt`] ?? new Uint8Array())).toContain("did not answer within 500 ms");
    const summary = JSON.parse(strFromU8(files["summary.json"] ?? new Uint8Array()));
    expect(summary).toMatchObject({ agents: 2, answered: [answering.agentId], unanswered: [{ agentId: silent.agentId }] });
    const state = JSON.parse(strFromU8(files["cluster/state.json"] ?? new Uint8Array()));
    expect(state.agents.map((a: { hostname: string }) => a.hostname).sort()).toEqual(["answers", "silent"]);
  });

  it("an answer for a request the object does not hold is ignored; a bad timeout is a 400 naming it", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account);
    socket.send({ type: "bundleData", requestId: "never-asked", checks: [], sentAt: Date.now(), logs: "" });
    expect(await socket.framesWithin(200)).toEqual([]);
    const res = await call(`/c/${account.cluster.id}/diagnostics/bundle?timeoutMs=99999999`, { method: "POST", token: account.token });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toContain("timeoutMs");
  });
});

describe("the node page", () => {
  it("lists the node's checks with their status, or says none came yet", async () => {
    const { browser, socket, agentId } = await withAgent();
    const page = `/ui/${browser.clusterId}/nodes/${agentId}`;
    expect((await browser.page(page)).html).toContain("This agent has not reported its health checks yet.");
    socket.send({
      type: "diagnostics",
      checks: [{ name: "disk", status: "unhealthy", message: "100 MB free of 50000 MB in /var/lib/dcx" }],
      sentAt: Date.now(),
    });
    await expect.poll(async () => (await browser.page(page)).html).toContain("100 MB free of 50000 MB in /var/lib/dcx");
    const { html } = await browser.page(page);
    expect(html).toMatch(/<td>disk<\/td><td><span class="badge badge-bad">unhealthy<\/span><\/td>/);
    expect(html).toMatch(/<td>clock<\/td><td><span class="badge badge-good">healthy<\/span><\/td>/);
  });
});
