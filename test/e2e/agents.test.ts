import { strFromU8, unzipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";

interface Slave {
  id: string;
  hostname: string;
  active: boolean;
  resources: Record<string, unknown>;
  attributes: Record<string, unknown>;
}
interface AgentView {
  id: string;
  hostname: string;
  ip: string;
  state: string;
}

/**
 * The foundation end to end: the control plane on workerd (the local runtime), two real Bun
 * agents with different resources and attributes, an agent killed and restarted, and the
 * control plane itself restarted on the same state.
 */
describe("agents against the control plane on workerd", () => {
  const cluster = new TestCluster();
  const ids: Record<string, string> = {};

  const slaves = async () => (await cluster.api<{ slaves: Slave[] }>("GET", `/c/${cluster.clusterId}/master/slaves`)).slaves;
  const agents = async () => (await cluster.api<{ agents: AgentView[] }>("GET", `/c/${cluster.clusterId}/agents`)).agents;
  const stateOf = async (id: string) => (await agents()).find((a) => a.id === id)?.state;

  beforeAll(async () => {
    await cluster.start();
    await cluster.signUp();
  });
  afterAll(() => cluster.stop());

  it("two agents join with exactly the resources and attributes they were given", async () => {
    const token = await cluster.joinToken();
    cluster.startAgent("a", {
      token,
      hostname: "node-a",
      advertiseIp: "127.0.0.2",
      resources: "cpus:2;mem:1024;disk:4096;ports:[31000-31099]",
      attributes: "rack:r1;zone:a",
    });
    cluster.startAgent("b", {
      token,
      hostname: "node-b",
      advertiseIp: "127.0.0.3",
      resources: "cpus:1.5;mem:512;disk:2048;gpus:0;ports:[32000-32049,33000-33009]",
      attributes: "rack:r2;zone:b;level:3",
    });
    const both = await waitFor("both agents in /master/slaves", async () => {
      const list = await slaves();
      return list.length === 2 && list.every((s) => s.active) ? list : undefined;
    });
    const byHost = Object.fromEntries(both.map((s) => [s.hostname, s]));
    expect(byHost["node-a"]).toMatchObject({
      resources: { cpus: 2, mem: 1024, disk: 4096, gpus: 0, ports: "[31000-31099]" },
      attributes: { rack: "r1", zone: "a" },
    });
    expect(byHost["node-b"]).toMatchObject({
      resources: { cpus: 1.5, mem: 512, disk: 2048, gpus: 0, ports: "[32000-32049, 33000-33009]" },
      attributes: { rack: "r2", zone: "b", level: 3 },
    });
    ids.a = byHost["node-a"]?.id ?? "";
    ids.b = byHost["node-b"]?.id ?? "";
    expect((await agents()).find((a) => a.id === ids.a)?.ip).toBe("127.0.0.2");
  });

  it("each real agent reports its self-checks, and a diagnostics bundle holds both agents' own logs", async () => {
    interface Node {
      agentId: string;
      healthy: boolean;
      checks: { name: string; status: string }[];
    }
    const nodes = await waitFor("both agents' diagnostics", async () => {
      const { nodes } = await cluster.api<{ nodes: Node[] }>("GET", `/c/${cluster.clusterId}/diagnostics`);
      return nodes.length === 2 && nodes.every((n) => n.checks.length > 0) ? nodes : undefined;
    });
    for (const node of nodes) {
      const status = Object.fromEntries(node.checks.map((c) => [c.name, c.status]));
      // No --dns-listen here: the forwarder is off, not failing. Docker's socket is the default one,
      // answered or not depending on the machine; the disk, depending on its free space.
      expect(status).toMatchObject({ connection: "healthy", dns: "disabled", clock: "healthy" });
      for (const name of ["docker", "disk", "cgroups"]) expect(["healthy", "unhealthy"], name).toContain(status[name]);
    }
    const res = await cluster.fetch("POST", `/c/${cluster.clusterId}/diagnostics/bundle?timeoutMs=5000`);
    expect(res.status).toBe(200);
    const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
    for (const [host, id] of [
      ["node-a", ids.a],
      ["node-b", ids.b],
    ]) {
      const log = strFromU8(files[`agents/${host}_${id}/agent.log`] ?? new Uint8Array());
      expect(log, host).toContain('"event":"registered"');
    }
  });

  it("an agent killed with SIGKILL turns unreachable after the timeout, and comes back as the same agent", async () => {
    const [a] = cluster.agents;
    await a?.stop("SIGKILL");
    await waitFor("agent a to be unreachable", async () => ((await stateOf(ids.a ?? "")) === "unreachable" ? true : undefined), 20_000);
    expect(await stateOf(ids.b ?? "")).toBe("active");
    // Same work dir, no join token: the agent uses the credential it stored.
    const again = cluster.startAgent("a", { hostname: "node-a", advertiseIp: "127.0.0.2", resources: "cpus:2;mem:1024;disk:4096;ports:[31000-31099]" });
    const registered = await again.waitForEvent("registered");
    expect(registered.agentId).toBe(ids.a);
    await waitFor("agent a to be active", async () => ((await stateOf(ids.a ?? "")) === "active" ? true : undefined));
    expect(await agents()).toHaveLength(2);
  });

  it("after a restart of the control plane, accounts, clusters and agents are kept and agents reconnect on their own", async () => {
    const agentA = cluster.agents.at(-1);
    const agentB = cluster.agents[1];
    const marks = [agentA?.events.length ?? 0, agentB?.events.length ?? 0];
    await cluster.controlPlane.stop();
    await cluster.start();
    // The token issued before the restart still works, and the cluster is still there.
    const me = await cluster.api<{ clusters: { id: string }[] }>("GET", "/auth/me");
    expect(me.clusters.map((c) => c.id)).toContain(cluster.clusterId);
    await agentA?.waitForEvent("registered", marks[0], 60_000);
    await agentB?.waitForEvent("registered", marks[1], 60_000);
    const list = await waitFor("both agents active again", async () => {
      const all = await agents();
      return all.length === 2 && all.every((x) => x.state === "active") ? all : undefined;
    });
    expect(list.map((x) => x.id).sort()).toEqual([ids.a, ids.b].sort());
  });

  it("an agent stopped with SIGTERM exits cleanly and the master sees it disconnect", async () => {
    const agentB = cluster.agents[1];
    const code = await agentB?.stop("SIGTERM", 5000);
    expect(code).toBe(0);
    expect(agentB?.events.some((e) => e.event === "shutdown")).toBe(true);
    await waitFor("agent b to leave the active state", async () => ((await stateOf(ids.b ?? "")) !== "active" ? true : undefined), 10_000);
  });
});
