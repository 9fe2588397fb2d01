/**
 * Placement, the allocator's one decision: `place(snapshot, requests) → plan`. Pure and
 * deterministic: plain data in, plain data out, no clock, no I/O, no randomness. The Cluster
 * object builds the snapshot, calls `place`, and applies the plan in one transaction.
 *
 * What must stay true of every plan:
 * - per agent, used + placed cpus/mem/disk/gpus never exceed the total (float tolerance aside);
 * - a host port is held at most once per agent; dynamic ports come from the agent's ranges;
 * - every constraint holds against the group's tasks already placed plus those earlier in the plan;
 * - a task that needs the docker driver goes only to an agent advertising Docker;
 * - a task goes only to an agent whose role it accepts (private agents unless it says otherwise);
 * - a task that reaches beyond its sandbox goes only to an agent whose allowances cover it;
 * - no framework is offered an agent it declined (refuse filter) before `snapshot.now`.
 */
import type { HostAccess, HostAllowances } from "../../../protocol/host-access.ts";
import type { Resources } from "../../../protocol/resources.ts";
import { Capacity } from "./capacity.ts";
import { Chooser, type Choice } from "./choice.ts";
import { compileConstraint, FieldTable, GroupTally, type Constraint } from "./constraints.ts";
import { driverChecks, type TaskDriver } from "./drivers.ts";
import { FairShare, SCALAR_NAMES, type FrameworkInfo, type Scalars } from "./drf.ts";
import { hostAccessChecks } from "./host-access.ts";
import { AgentPorts, portNeed } from "./ports.ts";
import { roleChecks } from "./roles.ts";

export type { Constraint, ConstraintOperator } from "./constraints.ts";
export type { FrameworkInfo, Scalars } from "./drf.ts";
export { NO_DOCKER, type TaskDriver } from "./drivers.ts";
export { assignServicePorts, SERVICE_PORT_RANGE, ServicePortError } from "./ports.ts";
export { DEFAULT_ROLE, ROLE_NOT_ACCEPTED } from "./roles.ts";

/** An agent as placement sees it. */
export interface AgentSnapshot {
  id: string;
  hostname: string;
  /** The agent's address, told to frameworks in their offers (`Offer.url`); placement does not use it. */
  ip?: string;
  attributes: Record<string, string | number>;
  /** The role its resources are offered to: `*` (private, also when absent) or `slave_public`. */
  role?: string;
  /** What it lets tasks have of its host; absent or null when it did not say (admits all). */
  allowances?: HostAllowances | null;
  /** What the agent offers. */
  total: Resources;
  /** Scalars held by every task on the agent, including those listed in `placed`. */
  used: Scalars;
  /** Host ports held by tasks on this agent. */
  usedPorts: number[];
  /** Frameworks that declined this agent, with the time (ms) until which it is not offered to them. */
  refusedUntil?: Record<string, number>;
}

/**
 * A task already running or staged. Constraints count it; `resources`, when given, counts
 * towards its framework's DRF share (agent capacity comes from `AgentSnapshot.used`, so the
 * same resources are never charged to an agent twice).
 */
export interface PlacedTask {
  agentId: string;
  framework: string;
  /** The app or job id; constraints are evaluated per framework and group. */
  group: string;
  resources?: Scalars;
}

/** Instances of one group still to place, all alike. */
export interface TaskRequest extends Scalars {
  framework: string;
  group: string;
  count: number;
  /** Host ports per instance: 0 = any free port of the agent, nonzero = exactly that port. */
  ports: number[];
  constraints: Constraint[];
  /** The driver the task's launch needs; absent means exec, which every agent has. */
  driver?: TaskDriver;
  /** Agent roles the task accepts (Marathon's `acceptedResourceRoles`); absent means `*`, private agents only. */
  roles?: readonly string[];
  /** What the task needs of its host beyond its sandbox (`hostAccessOf`); absent when nothing. */
  hostAccess?: HostAccess;
}

export interface PlacementSnapshot {
  /** The time (ms) refuse filters are compared with. */
  now: number;
  agents: AgentSnapshot[];
  placed: PlacedTask[];
  frameworks: FrameworkInfo[];
}

/** One instance placed. `request` indexes the requests array (two versions of an app share a group). */
export interface Placement {
  request: number;
  agentId: string;
  framework: string;
  group: string;
  /** One host port per requested port, in request order. */
  hostPorts: number[];
}

/** Instances that could not be placed, and why: reason → number of agents that turned them down. */
export interface Unplaced {
  request: number;
  framework: string;
  group: string;
  count: number;
  reasons: Record<string, number>;
  /**
   * Each agent that was considered (not kept back by a refuse filter) and its reasons, in
   * snapshot order: Marathon's `lastUnusedOffers`. Absent for a request no agent could take.
   */
  declinedBy?: { agentId: string; reasons: string[] }[];
}

export interface PlacementPlan {
  placements: Placement[];
  unplaced: Unplaced[];
}

/** The reason counted for an agent whose refuse filter for the framework has not expired. */
export const DECLINED = "declined (refuse filter)";

/** A request compiled against the snapshot. */
interface Pending extends Choice {
  index: number;
  request: TaskRequest;
  remaining: number;
}

/**
 * Places `requests` on the agents of `snapshot`. Frameworks take turns by weighted dominant share
 * (DRF), one instance per turn; a framework's requests take turns round-robin. Each instance
 * goes to the feasible agent with the emptiest GROUP_BY value, then the lowest utilisation after
 * placement, then the fewest tasks of its group, then the lowest agent id. An instance that fits
 * nowhere settles its request: within one plan capacity only shrinks, so it would not fit later.
 */
export function place(snapshot: PlacementSnapshot, requests: readonly TaskRequest[]): PlacementPlan {
  return new Planner(snapshot).run(requests);
}

class Planner {
  private readonly agents: AgentSnapshot[];
  private readonly capacity: Capacity;
  private readonly ports: AgentPorts[];
  private readonly fields: FieldTable;
  /** By agent position: its role. */
  private readonly roles: (string | undefined)[];
  private readonly allowances: (HostAllowances | null | undefined)[];
  private readonly fair: FairShare;
  private readonly placedByGroup = new Map<string, number[]>();
  private readonly tallies = new Map<string, GroupTally>();
  private readonly placements: Placement[] = [];
  private readonly unplaced: Unplaced[] = [];
  private readonly now: number;
  private readonly chooser: Chooser;

  constructor(snapshot: PlacementSnapshot) {
    this.now = snapshot.now;
    // Sorted by id so the scan order is the final tie-break and plans do not depend on input order.
    this.agents = [...snapshot.agents].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.capacity = new Capacity(this.agents);
    this.ports = this.agents.map((a) => new AgentPorts(a.total.ports, a.usedPorts));
    this.chooser = new Chooser(this.capacity, this.ports);
    this.fields = new FieldTable(this.agents);
    this.roles = this.agents.map((a) => a.role);
    this.allowances = this.agents.map((a) => a.allowances);
    this.fair = new FairShare(clusterTotal(this.agents), snapshot.frameworks);
    const position = new Map(this.agents.map((a, i) => [a.id, i]));
    for (const task of snapshot.placed) {
      if (task.resources) this.fair.charge(task.framework, task.resources);
      // Tasks on agents missing from the snapshot have no hostname or attributes to count.
      const at = position.get(task.agentId);
      if (at === undefined) continue;
      const key = groupKey(task.framework, task.group);
      const list = this.placedByGroup.get(key);
      if (list) list.push(at);
      else this.placedByGroup.set(key, [at]);
    }
  }

  run(requests: readonly TaskRequest[]): PlacementPlan {
    const queues = new Map<string, Pending[]>();
    requests.forEach((request, index) => {
      const pending = this.compile(request, index);
      if (!pending) return;
      const queue = queues.get(request.framework);
      if (queue) queue.push(pending);
      else queues.set(request.framework, [pending]);
    });
    const cursors = new Map<string, number>();
    for (;;) {
      const framework = this.fair.pick([...queues.keys()]);
      if (framework === undefined) break;
      const queue = queues.get(framework) ?? [];
      const at = (cursors.get(framework) ?? 0) % queue.length;
      const pending = queue[at];
      if (pending === undefined) break;
      const settled = !this.placeOne(pending) || pending.remaining === 0;
      if (settled) queue.splice(at, 1);
      // Round-robin: the next request's turn; a removed request's successor moved into `at`.
      cursors.set(framework, settled ? at : at + 1);
      if (queue.length === 0) queues.delete(framework);
    }
    this.unplaced.sort((a, b) => a.request - b.request);
    return { placements: this.placements, unplaced: this.unplaced };
  }

  /** Compiles a request, or records it as unplaced when no agent could ever take it. */
  private compile(request: TaskRequest, index: number): Pending | undefined {
    const count = Math.floor(request.count);
    if (!(count > 0)) return undefined;
    const ports = portNeed(request.ports);
    const invalid = typeof ports === "string" ? ports : invalidScalars(request);
    if (invalid !== undefined || typeof ports === "string") {
      this.settle(index, request, count, { [invalid ?? "invalid request"]: this.agents.length });
      return undefined;
    }
    const tally = this.tally(groupKey(request.framework, request.group));
    const constraints = request.constraints.map((c) => compileConstraint(c, this.fields, tally));
    const checks = [
      ...roleChecks(request.roles, this.roles),
      ...driverChecks(request.driver, this.fields),
      ...hostAccessChecks(request.hostAccess, this.allowances),
      ...constraints,
    ];
    // The refuse filter and static constraints do not change within a plan: checked once here.
    const candidates = new Int32Array(this.agents.length);
    let live = 0;
    for (let i = 0; i < this.agents.length; i++) {
      if (!this.declined(i, request.framework) && checks.every((c) => c.admits(i))) candidates[live++] = i;
    }
    return {
      index,
      request,
      need: scalarsOf(request),
      ports,
      usesPorts: ports.total > 0,
      tally,
      checks,
      dynamic: checks.filter((c) => c.allows !== undefined),
      ranked: checks.filter((c) => c.load !== undefined),
      candidates,
      live,
      seen: Number.NEGATIVE_INFINITY,
      remaining: count,
    };
  }

  /** Places one instance of `pending`; false (and the request settled as unplaced) when none fits. */
  private placeOne(pending: Pending): boolean {
    const agent = this.chooser.choose(pending);
    if (agent < 0) {
      const { reasons, declinedBy } = this.explain(pending);
      this.settle(pending.index, pending.request, pending.remaining, reasons, declinedBy);
      return false;
    }
    const { request } = pending;
    this.capacity.add(agent, pending.need);
    this.chooser.placedOn(agent);
    pending.tally.add(agent);
    this.fair.charge(request.framework, request);
    pending.remaining--;
    this.placements.push({
      request: pending.index,
      agentId: this.agents[agent]?.id ?? "",
      framework: request.framework,
      group: request.group,
      hostPorts: pending.usesPorts ? (this.ports[agent]?.take(request.ports, pending.ports) ?? []) : [],
    });
    return true;
  }

  /** Why every agent turned `pending` down; the same predicates as `choose`, all of them counted, and each agent's own. */
  private explain(pending: Pending): Pick<Unplaced, "reasons" | "declinedBy"> {
    const reasons: Record<string, number> = {};
    const declinedBy: NonNullable<Unplaced["declinedBy"]> = [];
    const count = (reason: string): void => {
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    };
    for (let i = 0; i < this.agents.length; i++) {
      if (this.declined(i, pending.request.framework)) {
        count(DECLINED);
        continue;
      }
      const why = new Set(this.capacity.shortfalls(i, pending.need));
      const ports = this.ports[i]?.refusal(pending.ports);
      if (ports !== undefined) why.add(ports);
      for (const c of pending.checks) {
        if (!c.admits(i) || !(c.allows?.(i) ?? true)) why.add(c.label);
      }
      why.forEach(count);
      declinedBy.push({ agentId: this.agents[i]?.id ?? "", reasons: [...why] });
    }
    return { reasons, declinedBy };
  }

  private settle(index: number, request: TaskRequest, count: number, reasons: Record<string, number>, declinedBy?: Unplaced["declinedBy"]): void {
    this.unplaced.push({ request: index, framework: request.framework, group: request.group, count, reasons, ...(declinedBy ? { declinedBy } : {}) });
  }

  /** Refuse filters hold until their time: the agent is offered again at `until`, not before. */
  private declined(agent: number, framework: string): boolean {
    const until = this.agents[agent]?.refusedUntil?.[framework];
    return until !== undefined && this.now < until;
  }

  private tally(key: string): GroupTally {
    let tally = this.tallies.get(key);
    if (!tally) {
      tally = new GroupTally(this.agents.length);
      for (const agent of this.placedByGroup.get(key) ?? []) tally.add(agent);
      this.tallies.set(key, tally);
    }
    return tally;
  }
}

function groupKey(framework: string, group: string): string {
  return `${framework}\u0000${group}`;
}

function clusterTotal(agents: readonly AgentSnapshot[]): Scalars {
  const total: Scalars = { cpus: 0, mem: 0, disk: 0, gpus: 0 };
  for (const agent of agents) for (const name of SCALAR_NAMES) total[name] += agent.total[name];
  return total;
}

/** A copy of the request's scalars, so the hot loop reads a small object of one shape. */
function scalarsOf(r: Scalars): Scalars {
  return { cpus: r.cpus, mem: r.mem, disk: r.disk, gpus: r.gpus };
}

function invalidScalars(request: TaskRequest): string | undefined {
  const bad = SCALAR_NAMES.find((name) => !(Number.isFinite(request[name]) && request[name] >= 0));
  return bad === undefined ? undefined : `invalid request: ${bad} must be a non-negative number`;
}
