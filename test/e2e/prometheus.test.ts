import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../scripts/lib/processes.ts";
import { parseExposition, sampleValue } from "../support/prometheus.ts";
import { TestCluster } from "./cluster.ts";
import { requirement, tool } from "./tools.ts";

const promtool = tool("promtool", "--no-install-recommends prometheus");
const root = requirement("root", process.getuid?.() === 0 ? undefined : "the agents must run as root for cgroups (CI runs as root)");

/** `promtool check metrics` over an exposition: what it printed (nothing when it passes), and whether it passed. */
function lint(text: string): { ok: boolean; output: string } {
  const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

/**
 * What a Prometheus server would scrape: the control plane on workerd (`/c/:cluster/metrics/prometheus`
 * with an API token) and a real agent's `--metrics-listen` endpoint, both read by a third-party
 * parser and passed by Prometheus's own linter.
 */
describe("Prometheus scrapes of a real cluster and agent", () => {
  const cluster = new TestCluster();
  let agentMetrics = "";

  beforeAll(async () => {
    if (promtool.skip || root.skip) return;
    await cluster.start();
    await cluster.signUp();
    const agent = cluster.startAgent("a", {
      token: await cluster.joinToken(),
      hostname: "node-a",
      advertiseIp: "127.0.0.2",
      resources: "cpus:1;mem:512;disk:512;ports:[31000-31009]",
      extraArgs: ["--metrics-listen", "127.0.0.1:0"],
    });
    agentMetrics = String((await agent.waitForEvent("metrics_listening")).address);
    await agent.waitForEvent("registered");
  });
  afterAll(() => cluster.stop());

  it.skipIf(promtool.skip || root.skip)("both endpoints pass promtool and agree on the agent's task", async () => {
    promtool.require();
    root.require();
    const c = `/c/${cluster.clusterId}`;
    await cluster.api("POST", `${c}/v2/apps`, { id: "/sleeper", cmd: "sleep 300", cpus: 0.1, mem: 32, disk: 0, instances: 1 });
    const clusterText = await waitFor(
      "the task to run, as the cluster's metrics show",
      async () => {
        const res = await cluster.fetch("GET", `${c}/metrics/prometheus`);
        const text = await res.text();
        return sampleValue(parseExposition(text), "dcx_tasks", { state: "TASK_RUNNING" }) === 1 ? text : undefined;
      },
      60_000,
      200,
    );
    const agentText = await waitFor(
      "the agent's metrics to show the task running",
      async () => {
        const text = await (await fetch(`http://${agentMetrics}/metrics`)).text();
        return sampleValue(parseExposition(text), "dcx_agent_tasks", { state: "TASK_RUNNING" }) === 1 ? text : undefined;
      },
      30_000,
      200,
    );

    const m = parseExposition(clusterText);
    expect(sampleValue(m, "dcx_placements_total", { framework: "marathon" })).toBe(1);
    expect(sampleValue(m, "dcx_status_updates_total", { result: "applied" })).toBeGreaterThanOrEqual(2);
    const agentId = m.get("dcx_cluster_agent_tasks")?.metrics[0]?.labels?.agent_id ?? "";
    expect(sampleValue(m, "dcx_cluster_agent_tasks", { agent_id: agentId })).toBe(1);
    const a = parseExposition(agentText);
    expect(sampleValue(a, "dcx_agent_info", { agent_id: agentId, hostname: "node-a" })).toBe(1);
    expect(sampleValue(a, "dcx_agent_cpus_used")).toBe(0.1);

    for (const text of [clusterText, agentText]) expect(lint(text)).toEqual({ ok: true, output: "" });
  });
});
