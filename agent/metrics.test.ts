import { describe, expect, test } from "bun:test";
import { parseExposition, sampleValue } from "../test/support/prometheus.ts";
import { Agent, ExitCode } from "./agent.ts";
import { type AgentConfig, ConfigError, parseAgentConfig } from "./config.ts";
import { queryOf, queryUdp } from "./dns/test-support/dns-client.ts";
import { FakeDohServer } from "./dns/test-support/fake-doh-server.ts";
import { FakeMaster, waitFor } from "./test-support/fake-master.ts";
import { collectLog } from "./test-support/log-collector.ts";
import { promtool, promtoolCheck } from "./test-support/promtool.ts";
import { testScope } from "./test-support/scope.ts";
import { launchOf, statusFrames } from "./test-support/tasks.ts";
import { testAgentConfig } from "./test-support/agent-config.ts";

/** The agent's Prometheus endpoint (`--metrics-listen`), scraped from a real Agent running real tasks. */

const { defer, tempDir } = testScope("dcx-agent-metrics");
const MIB = 1024 * 1024;

function config(master: string, workDir: string, extra: Partial<AgentConfig> = {}): AgentConfig {
  return testAgentConfig(master, workDir, {
    resources: { cpus: 2, mem: 1024, disk: 2048, ports: [[31000, 31009]] },
    hostname: "metrics-host",
    killTasksOnExit: true,
    metricsListen: { host: "127.0.0.1", port: 0 },
    ...extra,
  });
}

async function scrape(address: string, path = "/metrics"): Promise<Response> {
  return fetch(`http://${address}${path}`);
}

describe("the agent's metrics endpoint", () => {
  test.skipIf(promtool.skip)(
    "shows resources, tasks by state, the outbox, reconnects and DNS queries, parsed by a third-party parser and passed by promtool",
    async () => {
      promtool.require();
      const master = new FakeMaster({ pingIntervalMs: 50 });
      defer(() => master.stop());
      const doh = new FakeDohServer();
      defer(() => doh.stop());
      doh.add({ type: "A", name: "web.marathon.mesos", ttl: 5, data: "10.0.0.7" });
      const dns = { listen: { host: "127.0.0.1", port: 0 }, zones: ["mesos", "thisdcos.directory"], upstream: doh.url("c1"), resolvConf: "/nonexistent" };
      const log = collectLog();
      const agent = Agent.create(config(master.url, tempDir(), { dns }), { log: log.log });
      void agent.run();
      defer(() => agent.stop());
      const session = await master.registered(0);
      const address = await waitFor(() => agent.metricsAddress, "the metrics endpoint to listen");

      const resources = { cpus: 0.25, mem: 64, disk: 10, gpus: 0 };
      master.send(session, {
        type: "launch",
        tasks: ["t1", "t2"].map((id, i) => launchOf(id, { shell: "sleep 300" }, { resources, ports: [31001 + i], killGracePeriodMs: 100 })),
      });
      await waitFor(
        () =>
          statusFrames(session)
            .flat()
            .filter((u) => u.state === "TASK_RUNNING").length >= 2,
        "both tasks running",
      );
      const port = Number((agent.dnsAddress ?? "").split(":").at(-1));
      expect((await queryUdp(port, queryOf("web.marathon.mesos", "A", 1))).rcode).toBe("NOERROR");
      expect((await queryUdp(port, queryOf("nothing.marathon.mesos", "A", 2))).rcode).toBe("NXDOMAIN");
      // The master goes away once: the agent reconnects and registers again.
      session.ws?.close(1012, "master restarting");
      await master.registered(1);
      await waitFor(() => log.events("registered").length >= 2, "the agent to take the second registration");

      const res = await scrape(address);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      const text = await res.text();
      const m = parseExposition(text);
      expect(sampleValue(m, "dcx_agent_info", { agent_id: "agent-1", hostname: "metrics-host" })).toBe(1);
      expect(sampleValue(m, "dcx_agent_connected")).toBe(1);
      expect(m.get("dcx_agent_reconnects_total")?.type).toBe("COUNTER");
      expect(sampleValue(m, "dcx_agent_reconnects_total")).toBe(1);
      expect(sampleValue(m, "dcx_agent_registrations_total")).toBe(2);
      expect(sampleValue(m, "dcx_agent_cpus")).toBe(2);
      expect(sampleValue(m, "dcx_agent_cpus_used")).toBe(0.5);
      expect(sampleValue(m, "dcx_agent_memory_bytes")).toBe(1024 * MIB);
      expect(sampleValue(m, "dcx_agent_memory_used_bytes")).toBe(128 * MIB);
      expect(sampleValue(m, "dcx_agent_ports")).toBe(10);
      expect(sampleValue(m, "dcx_agent_ports_used")).toBe(2);
      expect(sampleValue(m, "dcx_agent_tasks", { state: "TASK_RUNNING" })).toBe(2);
      expect(sampleValue(m, "dcx_agent_tasks", { state: "TASK_KILLING" })).toBe(0);
      // Nothing was acked: STARTING and RUNNING of both tasks wait in the outbox.
      expect(sampleValue(m, "dcx_agent_outbox_updates")).toBe(4);
      expect(sampleValue(m, "dcx_agent_dns_queries_total", { transport: "udp", result: "NOERROR" })).toBe(1);
      expect(sampleValue(m, "dcx_agent_dns_queries_total", { transport: "udp", result: "NXDOMAIN" })).toBe(1);
      const lint = promtoolCheck(text);
      expect(lint.output).toBe("");
      expect(lint.ok).toBe(true);

      expect((await scrape(address, "/")).status).toBe(404);
      expect((await fetch(`http://${address}/metrics`, { method: "POST" })).status).toBe(405);
    },
  );

  test("an address already in use stops the agent with the usage exit code, naming the flag", async () => {
    const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    defer(() => void taken.stop(true));
    const log = collectLog();
    const agent = Agent.create(config("http://127.0.0.1:9", tempDir(), { metricsListen: { host: "127.0.0.1", port: taken.port ?? 0 } }), { log: log.log });
    const exit = await agent.run();
    expect(exit.code).toBe(ExitCode.USAGE);
    expect(exit.reason).toContain(`--metrics-listen: cannot listen on 127.0.0.1:${taken.port}`);
    expect(log.events("metrics_listen_failed")).toHaveLength(1);
  });

  test("--metrics-listen takes IP:PORT, [IPv6]:PORT, or a port alone for loopback", () => {
    const base = ["--master", "http://127.0.0.1:8787", "--cluster", "c", "--token", "t", "--work-dir", "/tmp/w"];
    const parse = (value: string) => parseAgentConfig([...base, "--metrics-listen", value], {}).metricsListen;
    expect(parse("9100")).toEqual({ host: "127.0.0.1", port: 9100 });
    expect(parse("0.0.0.0:9100")).toEqual({ host: "0.0.0.0", port: 9100 });
    expect(parse("[::1]:9100")).toEqual({ host: "::1", port: 9100 });
    expect(parseAgentConfig(base, { DCX_METRICS_LISTEN: "9200" }).metricsListen).toEqual({ host: "127.0.0.1", port: 9200 });
    expect(parseAgentConfig(base, {}).metricsListen).toBeUndefined();
    for (const bad of ["localhost:9100", "99999", "1.2.3.4"]) {
      expect(() => parse(bad)).toThrow(ConfigError);
      try {
        parse(bad);
      } catch (error) {
        expect((error as ConfigError).flag).toBe("--metrics-listen");
      }
    }
  });
});
