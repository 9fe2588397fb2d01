import { and, asc, eq, gte, lt, max } from "drizzle-orm";
import { listAgents } from "./agents.ts";
import type { ClusterDb } from "./db.ts";
import { listDeployments } from "./frameworks/marathon/deployments.ts";
import { history } from "./schema.ts";
import { countByState, usageByAgent } from "./tasks.ts";
import { scheduleAt, scheduleNoLaterThan } from "./timers.ts";

/**
 * The history service (DC/OS's history, kept by the Cluster DO): a sample of the cluster every
 * minute, kept 24 hours, and an hourly average of those minutes, kept 30 days.
 *
 * The `history` timer is due at each minute boundary only while the cluster is busy: an agent
 * connected (or disconnected but within its timeout), or a live task. Then the object wakes for
 * the liveness sweep anyway, so a sample a minute costs little. An idle cluster takes one last
 * sample showing it idle and is not woken for history again until an agent registers; a
 * deployment waiting without agents does not count, since nothing can change until one comes.
 * Gaps in the series are therefore idle time.
 */

export const HISTORY_TIMER = "history";
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3600_000;
const MINUTE_RETENTION_MS = 24 * HOUR_MS;
const HOUR_RETENTION_MS = 30 * 24 * HOUR_MS;

export type HistoryResolution = "minute" | "hour";

/** Allocated (held by live tasks) and total (offered by agents not unreachable). */
export interface Allocation {
  used: number;
  total: number;
}

/** One minute, or one hour's average of its minutes. */
export interface HistorySample {
  /** Start of the minute or hour, in ms since the epoch. */
  at: number;
  /** Minutes the sample stands for: 1 for a minute, up to 60 for an hour. */
  samples: number;
  cpus: Allocation;
  mem: Allocation;
  disk: Allocation;
  /** Live tasks by state. */
  tasks: Record<string, number>;
  /** Agents by state: active, disconnected, unreachable. */
  agents: Record<string, number>;
  /** Deployments in progress. */
  deployments: number;
}

/** States always present in a sample, so every series has a value at every point. */
const TASK_STATES_SHOWN = ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE"];
const AGENT_STATES = ["active", "disconnected", "unreachable"];

const floorTo = (t: number, unit: number) => Math.floor(t / unit) * unit;

/** Makes sure a sample is taken at the next minute boundary (an agent registered). */
export function historyDueBy(db: ClusterDb, now: number): void {
  scheduleNoLaterThan(db, HISTORY_TIMER, floorTo(now, MINUTE_MS) + MINUTE_MS);
}

/**
 * From the alarm: records this minute, rolls finished hours up, drops what is past retention,
 * and sets the next minute's timer while the cluster is busy. Idempotent: a retried alarm
 * writes the same minute again.
 */
export function recordHistory(db: ClusterDb, now: number): void {
  const sample = takeSample(db, floorTo(now, MINUTE_MS));
  db.insert(history)
    .values(toRow("minute", sample))
    .onConflictDoUpdate({ target: [history.resolution, history.at], set: toRow("minute", sample) })
    .run();
  for (const hour of pendingHours(db, floorTo(now, HOUR_MS))) {
    db.insert(history).values(toRow("hour", hour)).onConflictDoNothing().run();
  }
  db.delete(history)
    .where(and(eq(history.resolution, "minute"), lt(history.at, now - MINUTE_RETENTION_MS)))
    .run();
  db.delete(history)
    .where(and(eq(history.resolution, "hour"), lt(history.at, now - HOUR_RETENTION_MS)))
    .run();
  if (isBusy(sample)) scheduleAt(db, HISTORY_TIMER, floorTo(now, MINUTE_MS) + MINUTE_MS);
}

/**
 * The samples within retention, oldest first. Hours include those not rolled up yet (the
 * current one, or the last before the cluster went idle), averaged from their minutes now.
 */
export function historySamples(db: ClusterDb, resolution: HistoryResolution, now: number): HistorySample[] {
  if (resolution === "minute") return rows(db, "minute", now - MINUTE_RETENTION_MS).map(fromRow);
  return [...rows(db, "hour", now - HOUR_RETENTION_MS).map(fromRow), ...pendingHours(db, Number.POSITIVE_INFINITY)].filter(
    (h) => h.at >= now - HOUR_RETENTION_MS,
  );
}

function takeSample(db: ClusterDb, at: number): HistorySample {
  const agents = listAgents(db);
  const offering = agents.filter((a) => a.state !== "unreachable");
  const usage = [...usageByAgent(db).values()];
  const allocation = (k: "cpus" | "mem" | "disk"): Allocation => ({
    used: usage.reduce((sum, u) => sum + u[k], 0),
    total: offering.reduce((sum, a) => sum + a.resources[k], 0),
  });
  const agentsByState = Object.fromEntries(AGENT_STATES.map((s) => [s, 0]));
  for (const a of agents) agentsByState[a.state] = (agentsByState[a.state] ?? 0) + 1;
  return {
    at,
    samples: 1,
    cpus: allocation("cpus"),
    mem: allocation("mem"),
    disk: allocation("disk"),
    tasks: { ...Object.fromEntries(TASK_STATES_SHOWN.map((s) => [s, 0])), ...countByState(db) },
    agents: agentsByState,
    deployments: listDeployments(db).length,
  };
}

function isBusy(s: HistorySample): boolean {
  const tasks = Object.values(s.tasks).reduce((a, b) => a + b, 0);
  return (s.agents.active ?? 0) + (s.agents.disconnected ?? 0) + tasks > 0;
}

/** Hours before `before` whose minutes have no hour row yet, averaged. */
function pendingHours(db: ClusterDb, before: number): HistorySample[] {
  const last =
    db
      .select({ at: max(history.at) })
      .from(history)
      .where(eq(history.resolution, "hour"))
      .get()?.at ?? null;
  const from = last === null ? 0 : last + HOUR_MS;
  const minutes = db
    .select()
    .from(history)
    .where(and(eq(history.resolution, "minute"), gte(history.at, from), lt(history.at, before)))
    .orderBy(asc(history.at))
    .all()
    .map(fromRow);
  const byHour = new Map<number, HistorySample[]>();
  for (const m of minutes) {
    const hour = floorTo(m.at, HOUR_MS);
    byHour.set(hour, [...(byHour.get(hour) ?? []), m]);
  }
  return [...byHour].map(([at, group]) => average(at, group));
}

/** The average of each figure over the minutes (a state missing from a minute counts 0 there). */
function average(at: number, minutes: HistorySample[]): HistorySample {
  const n = minutes.length;
  const mean = (pick: (s: HistorySample) => number) => round(minutes.reduce((sum, s) => sum + pick(s), 0) / n);
  const meanMap = (pick: (s: HistorySample) => Record<string, number>) => {
    const keys = new Set(minutes.flatMap((s) => Object.keys(pick(s))));
    return Object.fromEntries([...keys].map((k) => [k, mean((s) => pick(s)[k] ?? 0)]));
  };
  const alloc = (k: "cpus" | "mem" | "disk"): Allocation => ({ used: mean((s) => s[k].used), total: mean((s) => s[k].total) });
  return {
    at,
    samples: n,
    cpus: alloc("cpus"),
    mem: alloc("mem"),
    disk: alloc("disk"),
    tasks: meanMap((s) => s.tasks),
    agents: meanMap((s) => s.agents),
    deployments: mean((s) => s.deployments),
  };
}

/** Averages keep three decimals: enough for a graph, and stable JSON. */
const round = (x: number) => Math.round(x * 1000) / 1000;

type Row = typeof history.$inferSelect;

function rows(db: ClusterDb, resolution: HistoryResolution, since: number): Row[] {
  return db
    .select()
    .from(history)
    .where(and(eq(history.resolution, resolution), gte(history.at, since)))
    .orderBy(asc(history.at))
    .all();
}

function toRow(resolution: HistoryResolution, s: HistorySample): Row {
  return {
    resolution,
    at: s.at,
    samples: s.samples,
    cpusUsed: s.cpus.used,
    cpusTotal: s.cpus.total,
    memUsed: s.mem.used,
    memTotal: s.mem.total,
    diskUsed: s.disk.used,
    diskTotal: s.disk.total,
    deployments: s.deployments,
    tasks: s.tasks,
    agents: s.agents,
  };
}

function fromRow(r: Row): HistorySample {
  return {
    at: r.at,
    samples: r.samples,
    cpus: { used: r.cpusUsed, total: r.cpusTotal },
    mem: { used: r.memUsed, total: r.memTotal },
    disk: { used: r.diskUsed, total: r.diskTotal },
    tasks: r.tasks as Record<string, number>,
    agents: r.agents as Record<string, number>,
    deployments: r.deployments,
  };
}
