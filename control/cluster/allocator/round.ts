import { listAgents, type AgentRecord } from "../agents.ts";
import type { ClusterDb } from "../db.ts";
import type { Framework, FrameworkContext, FrameworkTurn, LaunchedTask, RoundContext } from "../frameworks/framework.ts";
import { type LiveTaskGroup, liveTaskGroups, markKillRequested, usageByAgent, type TaskRecord } from "../tasks.ts";
import { declineAgents, firstRefuseEnd, REFUSE_MS, refusedByAgent, revive } from "./filters.ts";
import { heldByOffers, makeOffers, offerableTo, offeredAgents, staleOffers } from "./offers.ts";
import { place, type AgentSnapshot, type PlacedTask, type PlacementPlan, type TaskRequest } from "./place.ts";
import type { FrameworkInfo } from "./drf.ts";
import { roleWeights, weighted } from "./weights.ts";

/**
 * Frames to send once the round's writes are committed: one launch (split only past the frame
 * size limit) and one kill per agent. Launches are kept as the frameworks gave them, their
 * frames built as they are sent.
 */
export interface Outbox {
  launches: Map<string, LaunchedTask[]>;
  kills: Map<string, string[]>;
}

export interface RoundResult {
  outbox: Outbox;
  launched: TaskRecord[];
  killed: TaskRecord[];
  /** When the next round should run by itself (a backoff delay ends, a refuse filter expires). */
  wakeAt: number | null;
  /** Per framework with demand this round: agents offered to it, and how many of those it declined (metrics). */
  offers: Record<string, OfferTally>;
  /**
   * Demand is left that an agent joining or coming back could serve: instances not placed or
   * held back by the launch cap, or frameworks that take offers. When false, a register that
   * brings resources does not need a round.
   */
  waiting: boolean;
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

interface Turn {
  framework: Framework;
  turn: FrameworkTurn;
}

/**
 * One allocation round, to run inside a storage transaction: ask every registered framework
 * what it wants, place the requests on the active agents' free resources (`place`: DRF across
 * all frameworks, constraints, ports), hand each framework its own placements to launch,
 * offer what remains to the frameworks that take offers, and return the frames to send.
 * Nothing is sent here: the caller sends after the transaction commits.
 */
export function allocationRound(ctx: FrameworkContext, frameworks: readonly Framework[], offerTimeoutMs: number, maxLaunches = Infinity): RoundResult {
  const { db, now } = ctx;
  const turns: Turn[] = frameworks.map((framework) => ({ framework, turn: framework.turn(ctx) }));
  for (const { framework, turn } of turns) if (turn.revive) revive(db, framework.name, now);
  const outbox = emptyOutbox();
  const killed = markKillRequested(
    db,
    turns.flatMap((t) => t.turn.kills),
    now,
  );
  for (const t of killed) push(outbox.kills, t.agentId, t.id);
  const wakes = turns.map((t) => t.turn.wakeAt).filter((w): w is number => w !== null);
  const result: RoundResult = { outbox, launched: [], killed, wakeAt: wakes.length > 0 ? Math.min(...wakes) : null, offers: {}, waiting: false };
  const takers = turns.flatMap((t) => (t.turn.offers ? [{ name: t.framework.name, taker: t.turn.offers }] : []));
  const wanting = turns.filter((t) => t.turn.requests.length > 0 || t.turn.offers);
  if (wanting.length === 0) {
    for (const { turn } of turns) turn.settle({ ...ctx, hosts: new Map() }, [], 0);
    return result;
  }
  rescindStale(db, now, takers);
  const offerable = takers.some(({ name, taker }) => taker.wants && offerableTo(db, name, taker.roles, now));
  if (!turns.some((t) => t.turn.requests.length > 0) && !offerable) {
    // Nothing to place and no agent any framework would be offered (each declined or held by
    // an outstanding offer, as while a framework answers its offers): the round ends before it
    // reads every task and agent, which would cost it most (the question is asked in SQL, not
    // by reading every agent and filter). An agent whose offer is still outstanding waits for
    // the answer (or offer_timeout) before what it frees meanwhile is offered.
    for (const { turn } of turns) turn.settle({ ...ctx, hosts: new Map() }, [], 0);
    result.wakeAt = earliest(result.wakeAt, refuseEnd(db, takers, now));
    // Frameworks still want offers: an agent that joins or frees resources must bring a round.
    result.waiting = takers.length > 0;
    return result;
  }
  // One read of the live tasks, summed per agent and group, serves both the free resources and the placed tasks.
  const groups = liveTaskGroups(db);
  const active = listAgents(db).filter((a) => a.state === "active");
  const refused = refusedByAgent(db);
  const agents = agentSnapshots(db, active, refused, groups);
  const round: RoundContext = { ...ctx, hosts: new Map(agents.map((a) => [a.id, a.hostname])) };
  const placed = placedTasks(groups);
  // DRF's view of every framework: its role, and that role's weight (operators set weights per role).
  const infos = weighted(frameworks, roleWeights(db));
  const plan = placeAll(now, agents, placed, infos, turns, maxLaunches);
  // What the cap held back goes to the next round, at once (the object handles other events
  // between rounds), unless this round could not place all it had: then the refuse filters pace it.
  if (plan.held > 0 && plan.unplaced === 0) result.wakeAt = now;
  result.waiting = plan.held > 0 || plan.unplaced > 0 || takers.length > 0;
  for (const { framework } of turns.filter((t) => t.turn.requests.length > 0)) {
    result.offers[framework.name] = { offered: agents.filter((a) => (a.refusedUntil?.[framework.name] ?? 0) <= now).length, declined: 0 };
  }
  for (const [i, { framework, turn }] of turns.entries()) {
    const own = plan.byFramework[i] ?? { placements: [], unplaced: [] };
    for (const launched of turn.launch(round, own.placements)) {
      result.launched.push(launched.record);
      push(outbox.launches, launched.record.agentId, launched);
      framework.statusChanged(round, launched.record);
    }
    turn.settle(round, own.unplaced, agents.length);
  }
  if (plan.unplaced > 0) {
    for (const [f, n] of declineUnused(db, plan.plan, agents, offeredAgents(db), now)) if (result.offers[f]) result.offers[f].declined = n;
    result.wakeAt = Math.min(result.wakeAt ?? Infinity, now + REFUSE_MS);
  }
  if (takers.length > 0) {
    makeOffers(db, { now, timeoutMs: offerTimeoutMs, agents, placed, launched: result.launched, frameworks: infos, takers });
    result.wakeAt = earliest(result.wakeAt, refuseEnd(db, takers, now));
  }
  return result;
}

type Takers = readonly { name: string; taker: { wants: boolean; roles: readonly string[] } }[];

/** The earliest end of an offer-taking framework's refuse filter: an agent may be offered to it again then, so a round must come. */
function refuseEnd(db: ClusterDb, takers: Takers, now: number): number | null {
  return firstRefuseEnd(
    db,
    takers.map((t) => t.name),
    now,
  );
}

function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

/**
 * One plan for every framework's requests, and each framework's part of it with its own request
 * indexes. At most `maxLaunches` tasks are asked for (the caller's MAX_LAUNCHES_PER_ROUND):
 * requests keep their order and get what is left of the budget, so one round's transaction, its
 * frames and its CPU stay bounded however many instances were asked for at once.
 */
function placeAll(now: number, agents: AgentSnapshot[], placed: PlacedTask[], frameworks: readonly FrameworkInfo[], turns: Turn[], maxLaunches: number) {
  const requests: TaskRequest[] = [];
  const owner: { turn: number; local: number }[] = [];
  let left = maxLaunches;
  let held = 0;
  turns.forEach(({ turn }, i) => {
    turn.requests.forEach((r, local) => {
      const count = Math.min(r.count, Math.max(0, left));
      left -= count;
      held += r.count - count;
      requests.push(count === r.count ? r : { ...r, count });
      owner.push({ turn: i, local });
    });
  });
  const snapshot = { now, agents, placed, frameworks: [...frameworks] };
  const plan: PlacementPlan = requests.length > 0 ? place(snapshot, requests) : { placements: [], unplaced: [] };
  const byFramework: PlacementPlan[] = turns.map(() => ({ placements: [], unplaced: [] }));
  // Re-indexed in place rather than copied: a round may place tens of thousands, and the plan's
  // own placements are read for their agents only from here on (declineUnused).
  for (const p of plan.placements) {
    const o = owner[p.request];
    if (!o) continue;
    p.request = o.local;
    byFramework[o.turn]?.placements.push(p);
  }
  for (const u of plan.unplaced) {
    const o = owner[u.request];
    if (o) byFramework[o.turn]?.unplaced.push({ ...u, request: o.local });
  }
  return { plan, byFramework, unplaced: plan.unplaced.length, held };
}

/** Offers on agents that left, or past their time, are withdrawn and their frameworks told (RESCIND). */
function rescindStale(db: ClusterDb, now: number, takers: readonly { name: string; taker: { rescinded(ids: string[]): void } }[]): void {
  const stale = staleOffers(db, now);
  for (const { name, taker } of takers) {
    const ids = stale.filter((o) => o.framework === name).map((o) => o.id);
    if (ids.length > 0) taker.rescinded(ids);
  }
}

/**
 * The active agents with what their live tasks and outstanding offers hold (an offered resource
 * is no one else's until the offer ends), and the frameworks' refuse filters.
 */
function agentSnapshots(
  db: ClusterDb,
  active: readonly AgentRecord[],
  refused: ReadonlyMap<string, Record<string, number>>,
  groups: readonly LiveTaskGroup[],
): AgentSnapshot[] {
  const usage = usageByAgent(db, groups);
  const held = heldByOffers(db);
  return active.map((a) => {
    const used = usage.get(a.id) ?? { cpus: 0, mem: 0, disk: 0, gpus: 0, ports: [] };
    const offered = held.get(a.id);
    return {
      id: a.id,
      hostname: a.hostname,
      ip: a.ip,
      attributes: a.attributes,
      role: a.role,
      allowances: a.allowances,
      total: a.resources,
      used: offered
        ? {
            cpus: used.cpus + offered.scalars.cpus,
            mem: used.mem + offered.scalars.mem,
            disk: used.disk + offered.scalars.disk,
            gpus: used.gpus + offered.scalars.gpus,
          }
        : used,
      usedPorts: offered ? [...used.ports, ...offered.ports] : used.ports,
      refusedUntil: refused.get(a.id),
    };
  });
}

/**
 * The tasks already placed, as the planner counts them: one entry per live task, built from the
 * per-group sums (liveTaskGroups) instead of a row and a JSON parse per task. The first entry of
 * a group on an agent carries the group's summed resources, so the fair share is charged once
 * with the same total; the others carry none and only count toward constraints.
 */
function placedTasks(groups: readonly LiveTaskGroup[]): PlacedTask[] {
  const out: PlacedTask[] = [];
  for (const g of groups) {
    out.push({ agentId: g.agentId, framework: g.framework, group: g.group, resources: { cpus: g.cpus, mem: g.mem, disk: g.disk, gpus: g.gpus } });
    const rest: PlacedTask = { agentId: g.agentId, framework: g.framework, group: g.group };
    for (let i = 1; i < g.count; i++) out.push(rest);
  }
  return out;
}

/**
 * Refuse filters: agents a framework could not use are not offered to it again for REFUSE_MS.
 * Only agents actually offered this round are declined: re-filtering one that was filtered
 * already would renew the filter every round, and the framework would never see it again. An
 * agent with resources held by another framework's offer was not offered whole either: it is
 * looked at again as soon as the offer ends.
 */
function declineUnused(db: ClusterDb, plan: PlacementPlan, agents: AgentSnapshot[], held: ReadonlySet<string>, now: number): Map<string, number> {
  const used = new Set([...plan.placements.map((p) => p.agentId), ...held]);
  const declined = new Map<string, number>();
  for (const framework of new Set(plan.unplaced.map((u) => u.framework))) {
    const ids = agents.filter((a) => !used.has(a.id) && (a.refusedUntil?.[framework] ?? 0) <= now).map((a) => a.id);
    declineAgents(db, framework, ids, now + REFUSE_MS);
    if (ids.length > 0) declined.set(framework, ids.length);
  }
  return declined;
}
