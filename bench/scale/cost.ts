/**
 * The cost model: the scale benchmark's measured counts (frames per agent, per task, per
 * heartbeat; CPU per operation) times Cloudflare's published prices, in dollars per month, for
 * an idle cluster, 1,000, 10,000 and (on paper) 100,000 agents at steady state, per 1,000 DoH
 * queries and per 1,000 API requests. Writes bench/results/cost.json beside scale.json.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { round, writeJson } from "../lib/report.ts";

/** Prices of the Workers Paid plan, USD. */
const PRICES = {
  sources: {
    durableObjects: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
    webSocketRatio: "https://developers.cloudflare.com/durable-objects/platform/changelog/ (2024-04-01: incoming WebSocket messages billed 20:1)",
    workers:
      "https://developers.cloudflare.com/workers/platform/pricing/ (Standard: as restated on https://developers.cloudflare.com/workflows/reference/pricing/)",
    d1: "https://developers.cloudflare.com/d1/platform/pricing/",
  },
  workersPaidMonthly: 5,
  workerRequests: { includedPerMonth: 10e6, perMillion: 0.3 },
  workerCpuMs: { includedPerMonth: 30e6, perMillion: 0.02 },
  doRequests: { includedPerMonth: 1e6, perMillion: 0.15 },
  doWebSocketMessagesPerRequest: 20,
  doDurationGbS: { includedPerMonth: 400_000, perMillion: 12.5 },
  /** Duration is billed at the object's 128 MB whatever it uses (128 MB / 1 GB, as the pricing page's examples). */
  doGb: 0.125,
  /** SQLite-backed Durable Object storage and D1 share these row prices. */
  rowsRead: { includedPerMonth: 25e9, perMillion: 0.001 },
  rowsWritten: { includedPerMonth: 50e6, perMillion: 1.0 },
};

const SECONDS_PER_MONTH = 30 * 24 * 3600;
const MINUTES_PER_MONTH = SECONDS_PER_MONTH / 60;

/** Usage of one month, before the plan's inclusions. */
interface Usage {
  workerRequests: number;
  workerCpuMs: number;
  doRequests: number;
  doWebSocketMessagesIn: number;
  doActiveSeconds: number;
  rowsRead: number;
  rowsWritten: number;
}

const over = (used: number, p: { includedPerMonth: number; perMillion: number }) => (Math.max(0, used - p.includedPerMonth) / 1e6) * p.perMillion;

/** Dollars for a month of usage, each line after its inclusion (the account's only use, as a bound). */
function dollars(u: Usage) {
  const doRequests = u.doRequests + u.doWebSocketMessagesIn / PRICES.doWebSocketMessagesPerRequest;
  const lines = {
    workerRequests: over(u.workerRequests, PRICES.workerRequests),
    workerCpu: over(u.workerCpuMs, PRICES.workerCpuMs),
    doRequests: over(doRequests, PRICES.doRequests),
    doDuration: over(u.doActiveSeconds * PRICES.doGb, PRICES.doDurationGbS),
    rowsRead: over(u.rowsRead, PRICES.rowsRead),
    rowsWritten: over(u.rowsWritten, PRICES.rowsWritten),
  };
  const usage = Object.values(lines).reduce((a, b) => a + b, 0);
  const rounded = Object.fromEntries(Object.entries(lines).map(([k, v]) => [k, round(v, 2)]));
  return {
    usagePerMonth: rounded,
    totalPerMonth: round(PRICES.workersPaidMonthly + usage, 2),
    billedDoRequests: Math.round(doRequests),
    doGbS: Math.round(u.doActiveSeconds * PRICES.doGb),
  };
}

/** Dollars for `u` at list price, as if every inclusion were already used. */
function marginal(u: Usage): number {
  const at = (n: number, p: { perMillion: number }) => (n / 1e6) * p.perMillion;
  return (
    at(u.workerRequests, PRICES.workerRequests) +
    at(u.workerCpuMs, PRICES.workerCpuMs) +
    at(u.doRequests + u.doWebSocketMessagesIn / PRICES.doWebSocketMessagesPerRequest, PRICES.doRequests) +
    at(u.doActiveSeconds * PRICES.doGb, PRICES.doDurationGbS) +
    at(u.rowsRead, PRICES.rowsRead) +
    at(u.rowsWritten, PRICES.rowsWritten)
  );
}

/** What the scale run measured that the model needs. */
interface Measured {
  /** Rows written and read per task restart: twice a placement's (its launch and start, then its end), from dcx_storage_rows_total. */
  rowsWrittenPerRestart: number;
  rowsReadPerRestart: number;
  pingsPerAgentPerMinute: number;
  /** The object's CPU per woken message (a status frame's share of the placement phase), as its active time. */
  doActiveMsPerMessage: number;
  /** The runtime's CPU per DoH query, of the dearer form (POST; Worker and object together, bench/results/dns.json). */
  cpuMsPerDohQuery: number;
  /** Requests to the Cluster object per 1,000 DoH queries (zone-lease renewals, bench/results/dns.json). */
  objectRequestsPer1000DohQueries: number;
}

/** The cluster's own timers while it has agents, from control/cluster (history each minute, liveness sweep, hourly GC). */
const ALARMS_PER_MONTH = MINUTES_PER_MONTH + SECONDS_PER_MONTH / 75 + 720;
/** Rows an alarm writes: a history sample, the timers table; the liveness sweep reads every agent. */
const ROWS_WRITTEN_PER_ALARM = 3;
/** Each agent sends a diagnostics frame at least every 10 minutes (DIAGNOSTICS_REFRESH_MS), one upserted row. */
const DIAGNOSTICS_PER_AGENT_PER_MONTH = MINUTES_PER_MONTH / 10;
/** Assumed churn: each task restarts once a day: a launch, ~3 status updates (STARTING, RUNNING, KILLED), their acks. */
const TASKS_PER_AGENT = 10;
const TASK_RESTARTS_PER_DAY = 1;
/** Used when the run did not count rows (a scale.json from before dcx_storage_rows_total). */
const ROWS_WRITTEN_PER_TASK_RESTART = 8;
const ROWS_READ_PER_TASK_RESTART = 10;

function steadyState(agents: number, m: Measured, pingsBilled: boolean) {
  const pings = agents * m.pingsPerAgentPerMinute * MINUTES_PER_MONTH;
  const diagnostics = agents * DIAGNOSTICS_PER_AGENT_PER_MONTH;
  const restarts = agents * TASKS_PER_AGENT * TASK_RESTARTS_PER_DAY * 30;
  // Status frames are coalesced per agent: one frame per restart is the worst case.
  const statusFrames = restarts;
  const alarms = agents > 0 ? ALARMS_PER_MONTH : 0;
  const woken = diagnostics + statusFrames;
  return {
    month: {
      heartbeats: Math.round(pings),
      diagnosticsFrames: Math.round(diagnostics),
      statusFrames: Math.round(statusFrames),
      alarms: Math.round(alarms),
    },
    cost: dollars({
      workerRequests: 0,
      workerCpuMs: 0,
      doRequests: alarms,
      doWebSocketMessagesIn: woken + (pingsBilled ? pings : 0),
      doActiveSeconds: (woken * m.doActiveMsPerMessage + alarms * Math.max(5, agents * 0.001)) / 1000,
      rowsRead: alarms * agents + restarts * m.rowsReadPerRestart,
      rowsWritten: diagnostics + restarts * m.rowsWrittenPerRestart + alarms * ROWS_WRITTEN_PER_ALARM,
    }),
  };
}

/** Writes cost.json next to the scale result from its measured figures; returns the path. */
export function writeCostModel(
  scale: {
    idle: { pingsPerAgentPerMinute: number } | null;
    placement: { runtimeCpuMsPerPlacement: number; statusFrames: number; tasks: number };
    storageRows?: { perPlacement: { read: number; written: number } };
  },
  out: string,
): string {
  const dnsPath = join(ROOT, "bench", "results", "dns.json");
  const dns = existsSync(dnsPath)
    ? (JSON.parse(readFileSync(dnsPath, "utf8")) as { dohControlPlaneCpuMsPerQuery?: number; objectRequestsPer1000Queries?: number })
    : {};
  const rows = scale.storageRows?.perPlacement;
  const measured: Measured = {
    rowsWrittenPerRestart: rows ? round(2 * rows.written, 2) : ROWS_WRITTEN_PER_TASK_RESTART,
    rowsReadPerRestart: rows ? round(2 * rows.read, 2) : ROWS_READ_PER_TASK_RESTART,
    pingsPerAgentPerMinute: scale.idle?.pingsPerAgentPerMinute ?? 4,
    doActiveMsPerMessage: round((scale.placement.runtimeCpuMsPerPlacement * scale.placement.tasks) / Math.max(1, scale.placement.statusFrames), 2),
    cpuMsPerDohQuery: dns.dohControlPlaneCpuMsPerQuery ?? 2.5,
    objectRequestsPer1000DohQueries: dns.objectRequestsPer1000Queries ?? 1000,
  };
  const scenario = (agents: number) => ({
    agents,
    tasks: agents * TASKS_PER_AGENT,
    pingsBilled: steadyState(agents, measured, true),
    pingsNotBilled: steadyState(agents, measured, false).cost,
  });
  // Per 1,000 operations at list price, past the inclusions (what one more thousand costs).
  // DoH is answered by the Worker from its leased copy of the zone (control/dns/edge.ts): the
  // object is asked only to renew a lease, and the DNS key is cached per isolate for 5 s.
  const doh = marginal({
    workerRequests: 1000,
    workerCpuMs: 1000 * measured.cpuMsPerDohQuery,
    doRequests: measured.objectRequestsPer1000DohQueries,
    doWebSocketMessagesIn: 0,
    doActiveSeconds: (measured.objectRequestsPer1000DohQueries * 2) / 1000,
    rowsRead: 0,
    rowsWritten: 0,
  });
  const api = marginal({
    workerRequests: 1000,
    workerCpuMs: 2000,
    doRequests: 1000,
    doWebSocketMessagesIn: 0,
    doActiveSeconds: 2,
    rowsRead: 0,
    rowsWritten: 0,
  });
  writeJson(out, {
    benchmark: "cost",
    timestamp: new Date().toISOString(),
    prices: PRICES,
    measured,
    assumptions: {
      month: "30 days",
      pings:
        "heartbeats are answered by setWebSocketAutoResponse without waking the object; the pricing page does not say whether such a message is billed, so each scenario is given both ways (pingsBilled counts every ping as an incoming WebSocket message, 20 per billed request)",
      diagnostics: "one diagnostics frame per agent per 10 minutes, one row upserted",
      churn: `${TASKS_PER_AGENT} tasks per agent, each restarted ${TASK_RESTARTS_PER_DAY}x a day: one status frame, and ${measured.rowsWrittenPerRestart} rows written and ${measured.rowsReadPerRestart} read per restart (${rows ? "twice what the run's placement wrote and read per task, counted by dcx_storage_rows_total" : "assumed: this scale.json has no storage row counts"})`,
      alarms: "a history sample each minute, a liveness sweep each 75 s (reading every agent row), hourly GC",
      duration:
        "the object is billed only while it runs a handler (it hibernates between frames); active time per woken frame = the runtime's CPU per status frame measured in the placement phase",
      included: "each line after the Workers Paid inclusions, as if the cluster were the account's only use, plus the $5 plan",
      doh: "the Worker answers DoH from its leased copy of the cluster's zone (control/dns/edge.ts); the object is asked only when a lease (1 s) runs out or the zone changed, objectRequestsPer1000DohQueries times per 1,000 queries as bench/results/dns.json measured",
    },
    idle: {
      agents: 0,
      note: "no agents and no tasks: the object hibernates; only its hourly garbage-collection alarm wakes it (720 a month, a few rows each); the plan's minimum is what is paid",
      cost: dollars({
        workerRequests: 0,
        workerCpuMs: 0,
        doRequests: 720,
        doWebSocketMessagesIn: 0,
        doActiveSeconds: 720 * 0.05,
        rowsRead: 720 * 10,
        rowsWritten: 720 * 3,
      }),
    },
    agents1000: scenario(1000),
    agents10000: scenario(10_000),
    agents100000: {
      ...scenario(100_000),
      note: "on paper: one object cannot hold 100,000 sockets (32,768 hibernatable WebSockets per object); see README 'How far one cluster scales'",
    },
    perThousandDohQueries: {
      dollars: round(doh, 6),
      perMillionQueries: round(doh * 1000, 3),
      objectRequestsPer1000Queries: round(measured.objectRequestsPer1000DohQueries, 2),
      note: "one Worker request each (the runtime's CPU per query from bench/results/dns.json, an upper bound of the Worker's), and the Cluster object's lease renewals (2 ms active each), at list price past the inclusions; D1 is read about once per isolate per 5 s for the DNS key, not per query",
    },
    perThousandApiRequests: {
      dollars: round(api, 6),
      note: "one Worker request (2 ms CPU) and one Cluster-object RPC (2 ms active) each, at list price past the inclusions; token and membership come from the isolate's auth cache (control/accounts/auth-cache.ts, 5 s), so D1 is read about once per token per isolate per 5 s, not per request",
    },
  });
  return out;
}
