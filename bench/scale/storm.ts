/**
 * The storm phase of the scale benchmark: every object of the cluster is reset (as a deploy of
 * new code does, through the DCX_TEST_HOOKS hook), every agent socket drops, and the simulated
 * agents come back as real agents do (jittered over the window the master suggested, resuming
 * with their credential and task digest, honouring `retry`). Measured: the time from the reset
 * until every agent is registered again, confirmed by the master's registry, and the latency of
 * an API call that reaches the Cluster object (GET /v2/apps), sent at a steady rate throughout.
 */
import type { Api } from "../lib/api.ts";
import { cpuByPid, sumCpuDelta } from "../lib/procfs.ts";
import { percentile, round } from "../lib/report.ts";
import type { SimAgents } from "../lib/sim.ts";
import { log, sleep } from "./common.ts";

/** API calls per second during the storm, sent open-loop (one every 1000/rate ms whether or not the last has answered). */
const API_CALLS_PER_SECOND = 5;
/** The calls sent before the reset, with every agent connected and idle: the API's latency without a storm. */
const BASELINE_MS = 3000;

/** Open-loop GET /v2/apps every 1000/rate ms until stopped: each call's latency, and the failures. */
function apiProbe(api: Api) {
  const latencies: number[] = [];
  /** Each answered call: when it was sent (performance.now()) and how long it took. */
  const calls: { at: number; ms: number }[] = [];
  const failures: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const fire = () => {
    const started = performance.now();
    const p = api
      .call<unknown>("GET", api.c("/v2/apps"), undefined, true)
      .then((r) => {
        if (r.status === 200) {
          latencies.push(r.doneAt - started);
          calls.push({ at: started, ms: r.doneAt - started });
        } else failures.push(`HTTP ${r.status}`);
      })
      .catch((err: unknown) => void failures.push(String(err)))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const timer = setInterval(fire, 1000 / API_CALLS_PER_SECOND);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      return { latencies, failures, calls };
    },
  };
}

/** Agents the master's registry shows active on a session registered at or after `since` (epoch ms). */
async function agentsBackSince(api: Api, since: number): Promise<{ back: number; total: number }> {
  const { body } = await api.call<{ agents: { state: string; reregisteredAt: string | null }[] }>("GET", api.c("/agents"));
  const back = body.agents.filter((a) => a.state === "active" && a.reregisteredAt !== null && Date.parse(a.reregisteredAt) >= since).length;
  return { back, total: body.agents.length };
}

/** Counters of the master's Prometheus exposition (resumed, held and deferred registrations). */
async function registrationCounters(api: Api): Promise<Record<string, number>> {
  const res = await api.call<string>("GET", api.c("/metrics/prometheus"));
  const text = typeof res.body === "string" ? res.body : "";
  const out: Record<string, number> = {};
  for (const name of [
    "dcx_cluster_agent_reregistrations_total",
    "dcx_cluster_agent_resumes_total",
    "dcx_cluster_agent_registrations_deferred_total",
    "dcx_cluster_agent_registrations_held_total",
  ]) {
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    out[name] = Number(line?.split(" ").at(-1) ?? Number.NaN);
  }
  return out;
}

/** Resets the cluster's objects and measures the storm back. */
export async function measureStorm(api: Api, sim: SimAgents, agents: number, timeoutMs: number, runtime: number[]) {
  const notes: string[] = [];
  const countersBefore = await registrationCounters(api);
  const statsBefore = await sim.stats();
  const stormId = await sim.storm();
  const probe = apiProbe(api);
  await sleep(BASELINE_MS);
  const cpu = cpuByPid(runtime);
  const resetAt = Date.now();
  const t0 = performance.now();
  log(`resetting the cluster's objects (POST /debug/reset) with ${agents} agents connected`);
  const reset = await api.call<{ reset: string[] }>("POST", api.c("/debug/reset"), {}, true);
  if (reset.status !== 202) throw new Error(`POST /debug/reset -> ${reset.status}: ${JSON.stringify(reset.body)} (is DCX_TEST_HOOKS on?)`);
  const recovered = await sim
    .wait((e) => e.event === "recovered" && e.id === stormId, timeoutMs, "every agent to register again")
    .catch((err: unknown) => {
      notes.push(String(err));
      return undefined;
    });
  const resetDoneMs = reset.doneAt - t0;
  // The master's word: every agent active on a session registered since the reset.
  let master = await agentsBackSince(api, resetAt);
  while (master.back < agents && performance.now() - t0 < timeoutMs) {
    await sleep(500);
    master = await agentsBackSince(api, resetAt);
  }
  const allActiveMs = performance.now() - t0;
  const cpuMs = sumCpuDelta(cpu, cpuByPid([...cpu.keys()]));
  const { failures, calls } = await probe.stop();
  const latencies = calls.filter((c) => c.at >= t0).map((c) => c.ms);
  const baseline = calls.filter((c) => c.at < t0).map((c) => c.ms);
  // The slowest calls, by when they were sent relative to the reset: where in the storm the API waited.
  const slowest = [...calls]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 8)
    .map((c) => ({ sentAtS: round((c.at - t0) / 1000, 2), ms: round(c.ms) }));
  const countersAfter = await registrationCounters(api);
  const statsAfter = await sim.stats();
  const delta = (name: string) => (countersAfter[name] ?? 0) - (countersBefore[name] ?? 0);
  log(`storm: ${master.back}/${agents} agents back in ${(allActiveMs / 1000).toFixed(1)} s; API p99 ${percentile(latencies, 99).toFixed(0)} ms`);
  return {
    stormRecoverySeconds: recovered ? round(allActiveMs / 1000, 2) : null,
    apiP99MsDuringStorm: round(percentile(latencies, 99)),
    detail: {
      agentsBack: master.back,
      agentsKnown: master.total,
      resetCallMs: round(resetDoneMs),
      // The simulated agents' clock is the epoch's, as is resetAt.
      simAllRegisteredAgainMs: recovered ? round(Number(recovered.at) - resetAt) : null,
      masterConfirmedMs: round(allActiveMs),
      reconnectWindowMs: Number(statsAfter.reconnectWindowMs),
      reconnects: Number(statsAfter.reconnects) - Number(statsBefore.reconnects),
      retriesToldBySim: Number(statsAfter.retries) - Number(statsBefore.retries),
      reregistrations: delta("dcx_cluster_agent_reregistrations_total"),
      resumed: delta("dcx_cluster_agent_resumes_total"),
      deferred: delta("dcx_cluster_agent_registrations_deferred_total"),
      heldAtGateways: delta("dcx_cluster_agent_registrations_held_total"),
      runtimeCpuMs: round(cpuMs),
      runtimeCpuMsPerAgent: round(cpuMs / agents, 3),
      api: {
        call: "GET /c/:cluster/v2/apps",
        perSecond: API_CALLS_PER_SECOND,
        calls: latencies.length,
        failures: failures.length,
        failureSamples: [...new Set(failures)].slice(0, 5),
        p50Ms: round(percentile(latencies, 50)),
        p99Ms: round(percentile(latencies, 99)),
        maxMs: round(Math.max(...latencies, 0)),
        slowest,
        baselineP50Ms: round(percentile(baseline, 50)),
        baselineMaxMs: round(Math.max(...baseline, 0)),
      },
      note: "timed from the reset's request; stormRecoverySeconds is until the master's registry shows every agent active on a session registered since the reset. The API's percentiles are of the calls sent from the reset until then; baseline* of those sent in the 3 s before it.",
    },
    notes,
  };
}
