/**
 * The agent choice for one instance: the feasible agent of best rank (see `candidates.ts`).
 *
 * Two searches give the same answer. A full scan of the request's candidates costs O(agents)
 * per instance. A heap costs O(log agents) per instance plus one re-key per agent placed on
 * since the request's last turn; it wins when few other requests took turns in between (one
 * big app), and loses when hundreds interleave. The cheaper one is picked per turn.
 */
import { CandidateHeap, Ranker } from "./candidates.ts";
import type { Capacity } from "./capacity.ts";
import type { ConstraintCheck, GroupTally } from "./constraints.ts";
import type { Scalars } from "./drf.ts";
import type { AgentPorts, PortNeed } from "./ports.ts";

/** About how many agents a scan checks for the cost of one heap re-key (measured, rounded). */
const REKEY_COST = 4;

/** What the choice needs to know of a request, and its search state between turns. */
export interface Choice {
  need: Scalars;
  ports: PortNeed;
  usesPorts: boolean;
  tally: GroupTally;
  checks: ConstraintCheck[];
  /** The checks that depend on placed tasks, and those that rank agents (GROUP_BY). */
  dynamic: ConstraintCheck[];
  ranked: ConstraintCheck[];
  /**
   * Agents still worth checking, first `live` entries, in no particular order (rank breaks
   * ties by agent, not by position). Starts as the agents the refuse filter and the static
   * constraints admit; an agent leaves once it can never take the request in this plan.
   */
  candidates: Int32Array;
  live: number;
  heap?: CandidateHeap;
  /** `Chooser.placed` at the request's last turn. */
  seen: number;
}

/** Chooses agents for every request of one plan; owns the per-agent versions heaps rely on. */
export class Chooser {
  private readonly capacity: Capacity;
  private readonly ports: readonly AgentPorts[];
  /** Bumped on every placement on the agent: heap entries keyed before are stale. */
  private readonly versions: Uint32Array;
  private readonly ranker: Ranker;
  /** Placements so far in the plan. */
  private placed = 0;

  constructor(capacity: Capacity, ports: readonly AgentPorts[]) {
    this.capacity = capacity;
    this.ports = ports;
    this.versions = new Uint32Array(ports.length);
    this.ranker = new Ranker(ports.length);
  }

  /** The best agent for the next instance of `choice`, or -1 when none can take it. */
  choose(choice: Choice): number {
    for (const c of choice.checks) c.prepare?.();
    const missed = this.placed - choice.seen;
    choice.seen = this.placed;
    // GROUP_BY moves ranks of agents nobody placed on, which no heap can follow.
    if (choice.ranked.length === 0 && missed * REKEY_COST <= choice.live) return this.fromHeap(choice);
    choice.heap = undefined;
    return this.scan(choice);
  }

  /** Records a placement on `agent`; capacity, ports and tallies are the caller's to update. */
  placedOn(agent: number): void {
    this.versions[agent] = (this.versions[agent] ?? 0) + 1;
    this.placed++;
  }

  /**
   * The top of the request's heap once it is fresh and its constraints allow it. Dropping an
   * agent for good is right because, without GROUP_BY, nothing that turns an agent down
   * (capacity, ports, UNIQUE, MAX_PER, a CLUSTER pin) can turn around within one plan.
   */
  private fromHeap(choice: Choice): number {
    const heap = (choice.heap ??= this.heapOf(choice));
    for (;;) {
      const agent = heap.peek();
      if (agent < 0) return -1;
      const version = this.versions[agent] ?? 0;
      if (!heap.fresh(agent, version)) {
        const util = this.fit(choice, agent);
        if (util < 0) heap.pop();
        else heap.rerankTop(this.ranker.rank(util, choice.tally.perAgent[agent] ?? 0, agent), version);
      } else if (!allowsAll(choice.dynamic, agent)) {
        heap.pop();
      } else {
        return agent;
      }
    }
  }

  private heapOf(choice: Choice): CandidateHeap {
    const heap = new CandidateHeap(this.ports.length);
    for (let k = 0; k < choice.live; k++) this.offer(heap, choice, choice.candidates[k] ?? 0);
    return heap;
  }

  /** Pushes the agent with its current keys if the instance fits it. */
  private offer(heap: CandidateHeap, choice: Choice, agent: number): void {
    const util = this.fit(choice, agent);
    if (util >= 0) heap.push(agent, this.ranker.rank(util, choice.tally.perAgent[agent] ?? 0, agent), this.versions[agent] ?? 0);
  }

  /**
   * Checks every live candidate, dropping those that can never take the request again. GROUP_BY's
   * load (tasks on the agent's value) ranks before everything else.
   */
  private scan(choice: Choice): number {
    const { candidates, dynamic, ranked } = choice;
    const perAgent = choice.tally.perAgent;
    // Only GROUP_BY can turn an agent it refused now back into an allowed one later.
    const dropRefused = ranked.length === 0;
    let live = choice.live;
    let best = -1;
    let bestLoad = 0;
    let bestRank = 0;
    for (let k = 0; k < live; ) {
      const agent = candidates[k] ?? 0;
      const util = this.fit(choice, agent);
      if (util < 0 || (dynamic.length > 0 && !allowsAll(dynamic, agent))) {
        if (util < 0 || dropRefused) candidates[k] = candidates[--live] ?? 0;
        else k++;
        continue;
      }
      k++;
      const load = ranked.length === 0 ? 0 : loadOf(ranked, agent);
      const rank = this.ranker.rank(util, perAgent[agent] ?? 0, agent);
      if (best < 0 || load < bestLoad || (load === bestLoad && rank < bestRank)) {
        best = agent;
        bestLoad = load;
        bestRank = rank;
      }
    }
    choice.live = live;
    return best;
  }

  /** The agent's utilisation after placing one instance, or -1 when it is full. */
  private fit(choice: Choice, agent: number): number {
    const util = this.capacity.after(agent, choice.need);
    if (util < 0 || (choice.usesPorts && !this.ports[agent]?.fits(choice.ports))) return -1;
    return util;
  }
}

function allowsAll(checks: readonly ConstraintCheck[], agent: number): boolean {
  for (const c of checks) if (c.allows && !c.allows(agent)) return false;
  return true;
}

/** GROUP_BY tasks on the agent's values; lower is preferred so values fill evenly. */
function loadOf(checks: readonly ConstraintCheck[], agent: number): number {
  let load = 0;
  for (const c of checks) load += c.load?.(agent) ?? 0;
  return load;
}
