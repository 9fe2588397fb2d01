import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { freePort, waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";
import { requirement, tool } from "./tools.ts";

const run = promisify(execFile);
const dig = tool("dig", "bind9-dnsutils");
const nft = tool("nft", "nftables");
/** The kernel data path needs root and nft; the userspace one nothing. */
const kernelPath = process.getuid?.() !== 0 ? requirement("root", "the agents are not root: the VIP kernel data path (nftables) needs CAP_NET_ADMIN") : nft;
const FIXTURE = join(ROOT, "test", "e2e", "fixtures", "health-server.mjs");
const AGENT_NAMES: Record<string, string> = { "node-a": "a", "node-b": "b" };
const VIP_NAME = "vipweb.marathon.l4lb.thisdcos.directory";

interface Task {
  id: string;
  host: string;
  state: string;
  healthCheckResults: { alive: boolean }[];
}

/** One HTTP request on a connection of its own (no keep-alive), so each is balanced anew; the body is `<taskId> hello`. */
function askOnce(ip: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ip, port, path: "/", agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve(body.split(" ")[0] ?? ""));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Named VIPs end to end, once per data path (`--vip-mode userspace`: the agents' own listeners;
 * `kernel`: nftables NAT rules the agents program): the control plane on workerd, two real Bun
 * agents (each balancing the cluster's VIPs), an app of two tasks behind `VIP_0: /vipweb:<port>`, its name resolved with
 * dig through an agent's forwarder, and real TCP connections to the VIP. The VIP range is a
 * random /24 inside 127.0.0.0/8, so the test stays on loopback and apart from other runs.
 */
describe.each(["userspace", "kernel"] as const)("named VIPs on real agents (--vip-mode %s)", (mode) => {
  const skip = mode === "kernel" && kernelPath.skip;
  const cluster = new TestCluster();
  const c = (path: string) => `/c/${cluster.clusterId}${path}`;
  const tasks = async () => (await cluster.api<{ tasks: Task[] }>("GET", c("/v2/apps/vipweb/tasks"))).tasks;
  const range = `127.11.${10 + Math.floor(Math.random() * 240)}.0/24`;
  let forwarder = 0;
  let vipPort = 0;
  let vipIp = "";

  beforeAll(async () => {
    if (skip) return;
    if (mode === "kernel") kernelPath.require();
    await cluster.start();
    await cluster.signUp();
    await cluster.api("PATCH", c("/dns"), { vipRange: range });
    const token = await cluster.joinToken();
    forwarder = await freePort();
    vipPort = await freePort();
    cluster.startAgent("a", {
      token,
      hostname: "node-a",
      advertiseIp: "127.0.0.2",
      resources: "cpus:2;mem:1024;disk:512;ports:[31500-31599]",
      extraArgs: ["--dns-listen", `127.0.0.1:${forwarder}`, "--vip-mode", mode],
    });
    cluster.startAgent("b", {
      token,
      hostname: "node-b",
      advertiseIp: "127.0.0.3",
      resources: "cpus:2;mem:1024;disk:512;ports:[31600-31699]",
      extraArgs: ["--vip-mode", mode],
    });
    await waitFor("two agents", async () => ((await cluster.api<{ slaves: unknown[] }>("GET", c("/master/slaves"))).slaves.length === 2 ? true : undefined));
    await cluster.api("POST", c("/v2/apps"), {
      id: "/vipweb",
      cmd: `exec node ${FIXTURE}`,
      cpus: 0.1,
      mem: 64,
      instances: 2,
      constraints: [["hostname", "UNIQUE"]],
      portDefinitions: [{ port: 0, name: "http", labels: { VIP_0: `/vipweb:${vipPort}` } }],
      // Failures are counted but never reach the kill: the unhealthy task stays RUNNING, draining.
      healthChecks: [
        {
          protocol: "MESOS_HTTP",
          path: "/health",
          portIndex: 0,
          intervalSeconds: 1,
          timeoutSeconds: 1,
          delaySeconds: 0,
          gracePeriodSeconds: 10,
          maxConsecutiveFailures: 1000,
        },
      ],
    });
    await waitFor(
      "two healthy tasks",
      async () => {
        const t = await tasks();
        return t.length === 2 && t.every((x) => x.state === "TASK_RUNNING" && x.healthCheckResults[0]?.alive === true) ? t : undefined;
      },
      60_000,
      200,
    );
  });
  afterAll(() => cluster.stop());

  it.skipIf(skip)("lists the VIP with both tasks as backends, at an address in the cluster's range", async () => {
    const table = await waitFor(
      "the VIP with two backends",
      async () => {
        const t = await cluster.api<{ range: string; vips: { name: string; ip: string; port: number; backends: { host: string; draining: boolean }[] }[] }>(
          "GET",
          c("/vips"),
        );
        return t.vips[0]?.backends.length === 2 ? t : undefined;
      },
      10_000,
      100,
    );
    expect(table.range).toBe(range);
    expect(table.vips).toHaveLength(1);
    expect(table.vips[0]).toMatchObject({ name: VIP_NAME, port: vipPort });
    expect(table.vips[0]?.backends.map((b) => b.host).sort()).toEqual(["127.0.0.2", "127.0.0.3"]);
    vipIp = table.vips[0]?.ip ?? "";
    expect(vipIp.startsWith(range.replace(/0\/24$/, ""))).toBe(true);
  });

  it.skipIf(skip || dig.skip)("dig through the agent's forwarder resolves the VIP's name to its address", async () => {
    dig.require();
    const { stdout } = await run("dig", ["@127.0.0.1", "-p", String(forwarder), VIP_NAME, "A", "+short", "+time=3", "+tries=1"]);
    expect(stdout.trim().split("\n")).toEqual([vipIp]);
  });

  it.skipIf(skip)("spreads TCP connections to the VIP over both tasks, then only the healthy one once the other fails its check", async () => {
    const ids = (await tasks()).map((t) => t.id).sort();
    const reached = await waitFor(
      "connections through the VIP reaching both tasks",
      async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 12; i++) seen.add(await askOnce(vipIp, vipPort).catch(() => "refused"));
        return seen.size === 2 && !seen.has("refused") ? [...seen].sort() : undefined;
      },
      20_000,
      200,
    );
    expect(reached).toEqual(ids);
    // Which path carried them: the kernel's rule for this VIP exists in kernel mode only.
    const rules = mode === "kernel" ? (await run("nft", ["list", "ruleset"])).stdout : "";
    expect(rules.includes(`ip daddr ${vipIp} tcp dport ${vipPort} dnat ip to numgen inc mod 2`)).toBe(mode === "kernel");

    const [victim, survivor] = await tasks();
    if (victim === undefined || survivor === undefined) throw new Error("two tasks expected");
    writeFileSync(join(cluster.dir, AGENT_NAMES[victim.host] ?? "?", "sandboxes", victim.id, "unhealthy"), "");
    const after = await waitFor(
      "every new connection on the healthy task",
      async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 12; i++) seen.add(await askOnce(vipIp, vipPort).catch(() => "refused"));
        return seen.size === 1 ? [...seen] : undefined;
      },
      30_000,
      200,
    );
    expect(after).toEqual([survivor.id]);
    if (mode === "kernel")
      expect((await run("nft", ["list", "ruleset"])).stdout).toContain(`ip daddr ${vipIp} tcp dport ${vipPort} dnat ip to numgen inc mod 1`);
    // The victim still runs (failing its check): it was taken out of the VIP, not killed.
    const now = await tasks();
    expect(now.find((t) => t.id === victim.id)).toMatchObject({ state: "TASK_RUNNING", healthCheckResults: [{ alive: false }] });
    const table = await cluster.api<{ vips: { backends: { host: string; draining: boolean }[] }[] }>("GET", c("/vips"));
    expect(table.vips[0]?.backends.filter((b) => b.draining)).toHaveLength(1);
  });
});
