import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { openClusterDb } from "../../control/cluster/db.ts";
import { ClusterMetrics } from "../../control/cluster/metrics.ts";
import { renderExposition } from "../../protocol/prometheus.ts";
import { parseExposition, sampleValue, series } from "../support/prometheus.ts";
import { type Account, call, joinAgent, signUp } from "./helpers.ts";

const MIB = 1024 * 1024;

async function scrape(account: Account): Promise<string> {
  const res = await call(`/c/${account.cluster.id}/metrics/prometheus`, { token: account.token });
  expect(res.status).toBe(200);
  expect(res.headers.get("Content-Type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return res.text();
}

describe("the cluster's Prometheus metrics (/c/:cluster/metrics/prometheus)", () => {
  it("a scrape, read by a third-party parser, shows agents, tasks, resources, placements, rounds, status updates and DNS queries", async () => {
    const account = await signUp();
    const { socket, agentId } = await joinAgent(account, { hostname: "node-1" });
    const created = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/web", cmd: "sleep 1000", instances: 2, cpus: 0.5, mem: 128, disk: 10 },
    });
    expect(created.status).toBe(201);
    const launch = await socket.nextOfType<{ tasks: { taskId: string }[] }>("launch");
    expect(launch.tasks).toHaveLength(2);
    // Observed two seconds ago on the agent: the lag histogram sees about 2 s each.
    const observedAt = Date.now() - 2000;
    const updates = launch.tasks.map((t, i) => ({ updateId: `p-${i}`, taskId: t.taskId, state: "TASK_RUNNING", timestamp: observedAt }));
    socket.send({ type: "status", updates });
    await socket.nextOfType("ack");
    // A resend after a lost ack is a duplicate.
    socket.send({ type: "status", updates: updates.slice(0, 1) });
    await socket.nextOfType("ack");
    for (const name of ["web.marathon.mesos", "nothing-here.marathon.mesos", "example.com"]) {
      expect((await call(`/c/${account.cluster.id}/dns-query?name=${name}&type=A`, { token: account.token })).status).toBe(200);
    }

    const text = await scrape(account);
    const m = parseExposition(text);
    expect(m.get("dcx_agents")?.type).toBe("GAUGE");
    expect(sampleValue(m, "dcx_agents", { state: "active" })).toBe(1);
    expect(sampleValue(m, "dcx_agents", { state: "unreachable" })).toBe(0);
    expect(sampleValue(m, "dcx_tasks", { state: "TASK_RUNNING" })).toBe(2);
    expect(sampleValue(m, "dcx_tasks", { state: "TASK_STAGING" })).toBe(0);
    const agent = { agent_id: agentId, hostname: "node-1" };
    expect(sampleValue(m, "dcx_cluster_agent_cpus", agent)).toBe(4);
    expect(sampleValue(m, "dcx_cluster_agent_cpus_used", agent)).toBe(1);
    expect(sampleValue(m, "dcx_cluster_agent_memory_bytes", agent)).toBe(8192 * MIB);
    expect(sampleValue(m, "dcx_cluster_agent_memory_used_bytes", agent)).toBe(256 * MIB);
    expect(sampleValue(m, "dcx_cluster_agent_ports", agent)).toBe(1001);
    expect(sampleValue(m, "dcx_cluster_agent_tasks", agent)).toBe(2);
    expect(sampleValue(m, "dcx_cluster_agent_connected", agent)).toBe(1);
    expect(sampleValue(m, "dcx_cluster_agent_registrations_total")).toBe(1);

    expect(m.get("dcx_placements_total")?.type).toBe("COUNTER");
    expect(sampleValue(m, "dcx_placements_total", { framework: "marathon" })).toBe(2);
    expect(sampleValue(m, "dcx_offers_total", { framework: "marathon" })).toBeGreaterThanOrEqual(1);
    const rounds = sampleValue(m, "dcx_allocation_rounds_total");
    expect(rounds).toBeGreaterThanOrEqual(1);
    const roundTime = series(m, "dcx_allocation_round_duration_seconds");
    expect(m.get("dcx_allocation_round_duration_seconds")?.type).toBe("HISTOGRAM");
    expect(Number(roundTime.count)).toBe(rounds);
    expect(Number(roundTime.buckets?.["+Inf"])).toBe(rounds);

    expect(sampleValue(m, "dcx_status_updates_total", { result: "applied" })).toBe(2);
    expect(sampleValue(m, "dcx_status_updates_total", { result: "duplicate" })).toBe(1);
    const lag = series(m, "dcx_status_update_lag_seconds");
    expect(Number(lag.count)).toBe(2);
    expect(Number(lag.sum)).toBeGreaterThanOrEqual(4);
    expect(Number(lag.buckets?.["1"])).toBe(0);
    expect(Number(lag.buckets?.["5"])).toBe(2);

    expect(sampleValue(m, "dcx_dns_queries_total", { result: "NOERROR" })).toBe(1);
    expect(sampleValue(m, "dcx_dns_queries_total", { result: "NXDOMAIN" })).toBe(1);
    expect(sampleValue(m, "dcx_dns_queries_total", { result: "outside" })).toBe(1);
    expect(sampleValue(m, "dcx_build_info", {})).toBe(1);

    // Counters are saved with the scrape: an object restarted on this storage starts from them.
    const reloaded = await runInDurableObject(env.CLUSTER.getByName(account.cluster.id), async (_: Cluster, state) =>
      renderExposition(new ClusterMetrics(await openClusterDb(state.storage)).collect()),
    );
    const again = parseExposition(reloaded);
    expect(sampleValue(again, "dcx_placements_total", { framework: "marathon" })).toBe(2);
    expect(sampleValue(again, "dcx_allocation_rounds_total")).toBeGreaterThanOrEqual(rounds);
    expect(Number(series(again, "dcx_status_update_lag_seconds").count)).toBe(2);
    expect(sampleValue(again, "dcx_dns_queries_total", { result: "NXDOMAIN" })).toBe(1);
  });

  it("counts the rows the object's SQLite reads and writes, from drizzle's statements and raw SQL alike", async () => {
    const account = await signUp();
    const rowsOf = async () => {
      const m = parseExposition(await scrape(account));
      return {
        read: sampleValue(m, "dcx_storage_rows_total", { operation: "read" }),
        written: sampleValue(m, "dcx_storage_rows_total", { operation: "written" }),
      };
    };
    const before = await rowsOf();
    expect(before.written).toBeGreaterThan(0);
    // A raw statement writing 50 rows through the counted storage, in the object itself.
    await runInDurableObject(env.CLUSTER.getByName(account.cluster.id), async (_: Cluster, state) => {
      const db = await openClusterDb(state.storage);
      db.$client.sql.exec("CREATE TABLE IF NOT EXISTS rows_probe (n INTEGER)");
      db.$client.sql.exec("INSERT INTO rows_probe (n) SELECT value FROM json_each(?)", JSON.stringify([...Array(50).keys()]));
      await Promise.resolve();
      expect(db.$rows.written).toBeGreaterThanOrEqual(50);
      expect(db.$client.sql.exec("SELECT count(*) AS n FROM rows_probe").one().n).toBe(50);
      await Promise.resolve();
      expect(db.$rows.read).toBeGreaterThanOrEqual(50);
    });
    // An app's creation writes its rows through drizzle: the object's own counter moves.
    const created = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/rows", cmd: "sleep 1", instances: 1 },
    });
    expect(created.status).toBe(201);
    const after = await rowsOf();
    expect(after.written).toBeGreaterThan(before.written);
    expect(after.read).toBeGreaterThan(before.read);
  });

  it("a damaged saved row costs only the damaged counters, never the object", async () => {
    const account = await signUp();
    const collect = (saved: string) =>
      runInDurableObject(env.CLUSTER.getByName(account.cluster.id), async (_: Cluster, state) => {
        state.storage.sql.exec("INSERT INTO meta (key, value) VALUES ('metrics', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", saved);
        return renderExposition(new ClusterMetrics(await openClusterDb(state.storage)).collect());
      });
    const partly = parseExposition(
      await collect(JSON.stringify({ counters: { placements: { marathon: "x", metronome: 3 }, rounds: 7 }, roundSeconds: { counts: [1], sum: 1 } })),
    );
    expect(partly.get("dcx_placements_total")?.metrics).toEqual([{ labels: { framework: "metronome" }, value: "3" }]);
    expect(sampleValue(partly, "dcx_allocation_rounds_total")).toBe(0);
    expect(series(partly, "dcx_allocation_round_duration_seconds").count).toBe("0");
    expect(sampleValue(parseExposition(await collect("not json")), "dcx_allocation_rounds_total")).toBe(0);
  });

  it("needs a member's token, like every cluster route", async () => {
    const account = await signUp();
    const stranger = await signUp();
    expect((await call(`/c/${account.cluster.id}/metrics/prometheus`)).status).toBe(401);
    expect((await call(`/c/${account.cluster.id}/metrics/prometheus`, { token: stranger.token })).status).toBe(404);
  });

  it("an idle cluster still lists every agent state and the main task states at 0", async () => {
    const m = parseExposition(await scrape(await signUp()));
    for (const state of ["active", "disconnected", "unreachable"]) expect(sampleValue(m, "dcx_agents", { state })).toBe(0);
    for (const state of ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE"])
      expect(sampleValue(m, "dcx_tasks", { state })).toBe(0);
    expect(sampleValue(m, "dcx_allocation_rounds_total")).toBe(0);
    expect(m.get("dcx_cluster_agent_cpus")?.metrics).toEqual([]);
  });
});
