import { and, eq, isNull, lte } from "drizzle-orm";
import type { TaskLaunch } from "../../../protocol/index.ts";
import { listAgents } from "../agents.ts";
import type { ClusterDb } from "../db.ts";
import { setWaiting, type StoredApp } from "../frameworks/marathon/apps.ts";
import { MARATHON, marathonDemand } from "../frameworks/marathon/demand.ts";
import type { DeploymentRecord } from "../frameworks/marathon/deployments.ts";
import { newTaskId, taskLaunch } from "../frameworks/marathon/task-launch.ts";
import { taskHostPorts } from "../frameworks/marathon/task-ports.ts";
import { launchJobTasks, metronomeDemand } from "../frameworks/metronome/demand.ts";
import { METRONOME } from "../frameworks/metronome/launch.ts";
import { offerFilters, tasks } from "../schema.ts";
import { insertTasks, markKillRequested, usageByAgent, type TaskRecord } from "../tasks.ts";
import { DECLINED, place, type AgentSnapshot, type PlacedTask, type Placement, type PlacementPlan, type TaskRequest, type Unplaced } from "./place.ts";

/** Mesos `Filters.refuse_seconds` default: an agent declined by a framework is not offered to it again for 5 s. */
export const REFUSE_MS = 5_000;

/** Frames to send once the round's writes are committed: at most one launch and one kill per agent. */
export interface Outbox {
  launches: Map<string, TaskLaunch[]>;
  kills: Map<string, string[]>;
}

export interface RoundResult {
  outbox: Outbox;
  launched: TaskRecord[];
  killed: TaskRecord[];
  completed: DeploymentRecord[];
  /** When the next round should run by itself (a backoff delay ends, a refuse filter expires). */
  wakeAt: number | null;
  /** Per framework with demand this round: agents offered to it, and how many of those it declined (metrics). */
  offers: Record<string, OfferTally>;
}

export interface OfferTally {
  offered: number;
  declined: number;
}

export function emptyOutbox(): Outbox {
  return { launches: new Map(), kills: new Map() };
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * One allocation round, to run inside a storage transaction: ask the frameworks what they
 * want, offer the active agents' free resources through `place` (DRF across frameworks,
 * constraints, ports), record every new task as TASK_STAGING and every kill, and return the
 * frames to send. Nothing is sent here: the caller sends after the transaction commits.
 */
export function allocationRound(db: ClusterDb, now: number, maxLaunches = Infinity): RoundResult {
  const demand = marathonDemand(db, now);
  const jobs = metronomeDemand(db, now);
  if (jobs.revive) revive(db, METRONOME, now);
  const outbox = emptyOutbox();
  const killed = markKillRequested(db, [...demand.kills, ...jobs.kills], now);
  for (const t of killed) push(outbox.kills, t.agentId, t.id);
  const wakeAt = demand.wakeAt === null ? jobs.wakeAt : Math.min(demand.wakeAt, jobs.wakeAt ?? Infinity);
  const result: RoundResult = { outbox, launched: [], killed, completed: demand.completed, wakeAt, offers: {} };
  if (demand.requests.length === 0 && jobs.requests.length === 0) return result;
  const agents = agentSnapshots(db);
  // One plan for both frameworks, so DRF shares the agents between them; job requests follow Marathon's.
  const requests = capLaunches([...demand.requests.map((r) => r.request), ...jobs.requests.map((r) => r.request)], maxLaunches);
  const plan = place(
    { now, agents, placed: placedTasks(db), frameworks: [{ name: MARATHON, role: "*", weight: 1 }, { name: METRONOME, role: "*", weight: 1 }] },
    requests.requests,
  );
  // What the cap held back goes to the next round, at once (the object handles other events
  // between rounds), unless this round could not place all it had: then the refuse filters pace it.
  if (requests.held > 0 && plan.unplaced.length === 0) result.wakeAt = now;
  result.launched = launchPlaced(db, plan.placements, demand.requests.map((r) => r.app), agents, outbox, now);
  for (const { record, launch } of launchJobTasks(db, plan.placements, demand.requests.length, jobs.requests, new Map(agents.map((a) => [a.id, a.hostname])), now)) {
    result.launched.push(record);
    push(outbox.launches, record.agentId, launch);
  }
  recordWaiting(db, plan, demand.requests.map((r) => r.app), agents.length, now);
  const withDemand = new Set([...demand.requests, ...jobs.requests].map((r) => r.request.framework));
  for (const f of withDemand) result.offers[f] = { offered: agents.filter((a) => (a.refusedUntil?.[f] ?? 0) <= now).length, declined: 0 };
  if (plan.unplaced.length > 0) {
    for (const [f, n] of declineUnused(db, plan, agents, now)) if (result.offers[f]) result.offers[f].declined = n;
    result.wakeAt = Math.min(result.wakeAt ?? Infinity, now + REFUSE_MS);
  }
  return result;
}

/**
 * Bounds the tasks one round may launch (the caller's MAX_LAUNCHES_PER_ROUND): requests keep
 * their order and get what is left of the budget, so one round's transaction, its frames and
 * its CPU stay bounded however many instances were asked for at once.
 */
function capLaunches(requests: TaskRequest[], maxLaunches: number): { requests: TaskRequest[]; held: number } {
  let left = maxLaunches;
  let held = 0;
  const capped = requests.map((r) => {
    const count = Math.min(r.count, Math.max(0, left));
    left -= count;
    held += r.count - count;
    return count === r.count ? r : { ...r, count };
  });
  return { requests: capped, held };
}

/** Active agents with what their live tasks hold, and the frameworks' refuse filters. */
function agentSnapshots(db: ClusterDb): AgentSnapshot[] {
  const usage = usageByAgent(db);
  const refused = new Map<string, Record<string, number>>();
  for (const f of db.select().from(offerFilters).all()) refused.set(f.agentId, { ...refused.get(f.agentId), [f.framework]: f.until });
  return listAgents(db)
    .filter((a) => a.state === "active")
    .map((a) => ({
      id: a.id,
      hostname: a.hostname,
      attributes: a.attributes,
      total: a.resources,
      used: usage.get(a.id) ?? { cpus: 0, mem: 0, disk: 0, gpus: 0 },
      usedPorts: usage.get(a.id)?.ports ?? [],
      refusedUntil: refused.get(a.id),
    }));
}

function placedTasks(db: ClusterDb): PlacedTask[] {
  return db
    .select({ agentId: tasks.agentId, framework: tasks.framework, group: tasks.group, resources: tasks.resources })
    .from(tasks)
    .where(isNull(tasks.endedAt))
    .all()
    .map((t) => ({ ...t, resources: t.resources as PlacedTask["resources"] }));
}

function launchPlaced(db: ClusterDb, placements: Placement[], apps: StoredApp[], agents: AgentSnapshot[], outbox: Outbox, now: number): TaskRecord[] {
  const hosts = new Map(agents.map((a) => [a.id, a.hostname]));
  const records: TaskRecord[] = [];
  for (const p of placements) {
    const stored = apps[p.request];
    if (!stored) continue;
    const host = hosts.get(p.agentId) ?? "";
    const id = newTaskId(stored.id);
    const { cpus, mem, disk, gpus } = stored.app;
    const ports = taskHostPorts(stored.app, p.hostPorts);
    records.push({
      id, framework: MARATHON, group: stored.id, version: stored.version, agentId: p.agentId, host, state: "TASK_STAGING",
      ports, resources: { cpus, mem, disk, gpus }, message: null, healthy: null,
      stagedAt: now, startedAt: null, updatedAt: now, killRequestedAt: null, endedAt: null,
    });
    push(outbox.launches, p.agentId, taskLaunch(stored.app, stored.version, id, host, ports));
  }
  insertTasks(db, records);
  return records;
}

/** Keeps, per app, why its instances wait (for /v2/queue), or clears it once all are placed. */
function recordWaiting(db: ClusterDb, plan: PlacementPlan, apps: StoredApp[], agentsConsidered: number, now: number): void {
  const unplacedBy = new Map<number, Unplaced>(plan.unplaced.map((u) => [u.request, u]));
  apps.forEach((stored, i) => {
    const u = unplacedBy.get(i);
    if (!u) {
      if (stored.waiting) setWaiting(db, stored.id, null);
      return;
    }
    const since = stored.waiting?.since ?? new Date(now).toISOString();
    // Agents under a refuse filter were not offered: when no agent was, the last offers' reasons stand
    // (as Marathon's rejectSummaryLastOffers), instead of "declined" hiding why they were declined.
    const offered = Object.keys(u.reasons).some((reason) => reason !== DECLINED);
    const last = offered || !stored.waiting ? { reasons: u.reasons, agentsConsidered } : stored.waiting;
    setWaiting(db, stored.id, { count: u.count, since, reasons: last.reasons, agentsConsidered: last.agentsConsidered });
  });
}

/**
 * Refuse filters: agents a framework could not use are not offered to it again for REFUSE_MS.
 * Only agents actually offered this round are declined: re-filtering one that was filtered
 * already would renew the filter every round, and the framework would never see it again.
 */
function declineUnused(db: ClusterDb, plan: PlacementPlan, agents: AgentSnapshot[], now: number): Map<string, number> {
  const used = new Set(plan.placements.map((p) => p.agentId));
  const declined = new Map<string, number>();
  for (const framework of new Set(plan.unplaced.map((u) => u.framework))) {
    for (const a of agents) {
      if (used.has(a.id) || (a.refusedUntil?.[framework] ?? 0) > now) continue;
      const row = { framework, agentId: a.id, until: now + REFUSE_MS };
      db.insert(offerFilters).values(row).onConflictDoUpdate({ target: [offerFilters.framework, offerFilters.agentId], set: { until: row.until } }).run();
      declined.set(framework, (declined.get(framework) ?? 0) + 1);
    }
  }
  return declined;
}

/** Mesos REVIVE: a framework with new demand is offered every agent again. Also drops expired filters. */
export function revive(db: ClusterDb, framework: string, now: number): void {
  db.delete(offerFilters).where(eq(offerFilters.framework, framework)).run();
  db.delete(offerFilters).where(and(lte(offerFilters.until, now))).run();
}
