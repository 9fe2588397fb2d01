import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import net from "node:net";
import { parseExposition, sampleValue } from "../../test/support/prometheus.ts";
import { Agent } from "../agent.ts";
import type { AgentConfig } from "../config.ts";
import { FakeMaster, waitFor } from "../test-support/fake-master.ts";
import { collectLog } from "../test-support/log-collector.ts";
import { nftables } from "../test-support/nftables.ts";
import { nftTableName } from "./nft.ts";
import { testScope } from "../test-support/scope.ts";
import { testAgentConfig } from "../test-support/agent-config.ts";

/**
 * A real Agent given a VIP table by its master: it listens on the VIP, carries a connection to
 * the backend, counts it in its metrics, and stops listening when the master's next table
 * leaves the VIP out, and when it stops.
 */

const { defer, tempDir } = testScope("dcx-agent-vips");

function config(master: string, workDir: string, vipMode: AgentConfig["vipMode"] = "userspace"): AgentConfig {
  return testAgentConfig(master, workDir, {
    resources: { cpus: 1, mem: 256, disk: 256, ports: [[31000, 31009]] },
    hostname: "vip-host",
    killTasksOnExit: true,
    metricsListen: { host: "127.0.0.1", port: 0 },
    vipMode,
  });
}

/** Whether a connection to `ip:port` is accepted and answered with `expected` to "hi". */
function answers(ip: string, port: number, expected: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: ip, port }, () => socket.write("hi"));
    socket.on("data", (d) => {
      socket.destroy();
      resolve(d.toString() === expected);
    });
    socket.on("error", () => resolve(false));
  });
}

/** Polls until `probe` resolves true. */
async function until(probe: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe("the agent's VIP balancer", () => {
  test("follows the master's tables, and its metrics count the connections", async () => {
    const backend = net.createServer((s) => s.on("data", (d) => s.end(`backend:${d.toString()}`)));
    await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
    defer(() => void backend.close());
    const backendPort = (backend.address() as net.AddressInfo).port;
    const master = new FakeMaster({ pingIntervalMs: 50 });
    defer(() => master.stop());
    const agent = Agent.create(config(master.url, tempDir()), { log: collectLog().log });
    const running = agent.run();
    defer(() => agent.stop());
    const session = await master.registered(0);
    const vip = {
      ip: `127.11.${1 + Math.floor(Math.random() * 120)}.${1 + Math.floor(Math.random() * 250)}`,
      port: 20_000 + Math.floor(Math.random() * 20_000),
    };
    const table = { name: "web.marathon.l4lb.thisdcos.directory", ...vip, backends: [{ host: "127.0.0.1", port: backendPort, draining: false }] };
    master.send(session, { type: "vips", range: "127.11.0.0/16", vips: [table] });
    await until(() => answers(vip.ip, vip.port, "backend:hi"), "the VIP to carry a connection");

    const address = await waitFor(() => agent.metricsAddress, "the metrics endpoint");
    const m = parseExposition(await (await fetch(`http://${address}/metrics`)).text());
    const labels = { vip: table.name, address: `${vip.ip}:${vip.port}` };
    expect(sampleValue(m, "dcx_agent_vip_backends", labels)).toBe(1);
    expect(sampleValue(m, "dcx_agent_vip_connections_total", labels)).toBeGreaterThanOrEqual(1);
    expect(sampleValue(m, "dcx_agent_vip_connections_refused_total", labels)).toBe(0);

    master.send(session, { type: "vips", range: "127.11.0.0/16", vips: [] });
    await until(async () => !(await answers(vip.ip, vip.port, "backend:hi")), "the VIP to be closed");
    master.send(session, { type: "vips", range: "127.11.0.0/16", vips: [table] });
    await until(() => answers(vip.ip, vip.port, "backend:hi"), "the VIP back");
    await agent.stop();
    await running;
    expect(await answers(vip.ip, vip.port, "backend:hi")).toBe(false);
  });

  test.skipIf(nftables.skip)("in kernel mode, programs the VIP into its own nftables table (no listener), drains, and removes the table on stop", async () => {
    nftables.require();
    const servers = ["A", "B"].map((id) => net.createServer((s) => s.on("data", (d) => s.end(`${id}:${d.toString()}`))));
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve))));
    defer(() => servers.forEach((s) => void s.close()));
    const [a, b] = servers.map((s) => (s.address() as net.AddressInfo).port) as [number, number];
    const master = new FakeMaster({ pingIntervalMs: 50 });
    defer(() => master.stop());
    const workDir = tempDir();
    const table = nftTableName(workDir);
    const agent = Agent.create(config(master.url, workDir, "kernel"), { log: collectLog().log });
    const running = agent.run();
    defer(() => agent.stop());
    const session = await master.registered(0);
    const vip = {
      ip: `127.11.${1 + Math.floor(Math.random() * 120)}.${1 + Math.floor(Math.random() * 250)}`,
      port: 20_000 + Math.floor(Math.random() * 20_000),
    };
    const send = (drainA: boolean) =>
      master.send(session, {
        type: "vips",
        range: "127.11.0.0/16",
        vips: [
          {
            name: "k.marathon.l4lb.thisdcos.directory",
            ...vip,
            backends: [
              { host: "127.0.0.1", port: a, draining: drainA },
              { host: "127.0.0.1", port: b, draining: false },
            ],
          },
        ],
      });
    send(false);
    await until(() => answers(vip.ip, vip.port, "A:hi"), "a connection through the kernel's rule to A");
    await until(() => answers(vip.ip, vip.port, "B:hi"), "a connection through the kernel's rule to B");
    expect(spawnSync("nft", ["list", "table", "ip", table]).stdout.toString()).toContain(
      `ip daddr ${vip.ip} tcp dport ${vip.port} dnat ip to numgen inc mod 2`,
    );

    const address = await waitFor(() => agent.metricsAddress, "the metrics endpoint");
    const metrics = async () => parseExposition(await (await fetch(`http://${address}/metrics`)).text());
    const backends = { vip: "k.marathon.l4lb.thisdcos.directory", address: `${vip.ip}:${vip.port}` };
    // The kernel's rule carries connections from the moment nft loads it, a moment before the
    // agent has read nft's exit and recorded the VIP: its gauges follow then.
    await until(async () => {
      try {
        return sampleValue(await metrics(), "dcx_agent_vip_backends", backends) === 2;
      } catch {
        return false;
      }
    }, "the VIP's backends in the agent's metrics");
    const m = await metrics();
    expect(sampleValue(m, "dcx_agent_vip_path", { mode: "kernel", path: "kernel" })).toBe(1);
    expect(sampleValue(m, "dcx_agent_vip_backends", backends)).toBe(2);

    send(true);
    await until(async () => {
      const got = await Promise.all([0, 1, 2, 3].map(() => answers(vip.ip, vip.port, "B:hi")));
      return got.every(Boolean);
    }, "every new connection on B once A drains");
    await agent.stop();
    await running;
    expect(spawnSync("nft", ["list", "table", "ip", table]).status).not.toBe(0);
    expect(await answers(vip.ip, vip.port, "B:hi")).toBe(false);
  });
});
