/**
 * The order in which agents are tried for an instance, and a lazy priority queue over it so a
 * request does not rescan every agent for every instance.
 *
 * Rank, lower is better: utilisation after placement, then tasks of the group on the agent, then
 * agent position (agents are sorted by id). GROUP_BY puts its own key in front (see `choice.ts`).
 */

/** Bits of a rank given to the group's task count; more tasks than this on one agent rank alike. */
const COUNT_BITS = 16;
const COUNT_MAX = 2 ** COUNT_BITS - 1;
/** A double holds integers exactly up to 2^53: the three keys share those bits. */
const RANK_BITS = 53;

/**
 * Packs (utilisation, group count, agent) into one number whose order is the rank order, so a
 * comparison is one `<`. Utilisation keeps what the agent bits leave (26 bits for 1,000 agents,
 * 19 for 100,000): closer utilisations are a tie, and so is float noise (0.1 + 0.2 against 0.3).
 * The scale is a power of two, so scaling is exact and a rounding boundary (odd / 2^(bits + 1))
 * is never a utilisation that resources in everyday units produce. Ranks are distinct because
 * the agent is part of them.
 */
export class Ranker {
  private readonly agentScale: number;
  private readonly utilScale: number;

  constructor(agents: number) {
    const agentBits = Math.max(1, Math.ceil(Math.log2(agents + 1)));
    this.agentScale = 2 ** agentBits;
    // One bit more than the scale: a full agent rounds to exactly utilScale.
    this.utilScale = 2 ** (RANK_BITS - COUNT_BITS - agentBits - 1);
  }

  /** The rank of placing on `agent` with `util` utilisation after, `count` group tasks on it. */
  rank(util: number, count: number, agent: number): number {
    // Anything that fits is at most 1 + EPSILON used: clamping only merges float noise.
    const u = Math.round((util < 1 ? util : 1) * this.utilScale);
    const c = count < COUNT_MAX ? count : COUNT_MAX;
    return (u * (COUNT_MAX + 1) + c) * this.agentScale + agent;
  }
}

/**
 * A binary min-heap of agents for one request, ordered by rank as it was when pushed; ranks and
 * agents sit side by side in heap order so a comparison reads no other array. What keeps the
 * order right without touching every request after every placement: a placement only raises an
 * agent's rank (more used, one more task) and bumps the agent's version. An entry with an old
 * version is therefore a lower bound, re-ranked when it reaches the top; a fresh entry at the
 * top is truly the best.
 */
export class CandidateHeap {
  private readonly ranks: Float64Array;
  private readonly agents: Int32Array;
  private size = 0;
  /** By agent: the version its entry was ranked at. */
  private readonly versions: Uint32Array;

  constructor(agents: number) {
    this.ranks = new Float64Array(agents);
    this.agents = new Int32Array(agents);
    this.versions = new Uint32Array(agents);
  }

  /** Adds an agent that is not in the heap, with its `rank` at `version`. */
  push(agent: number, rank: number, version: number): void {
    this.versions[agent] = version;
    let at = this.size++;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      const above = this.ranks[parent] ?? 0;
      if (above <= rank) break;
      this.ranks[at] = above;
      this.agents[at] = this.agents[parent] ?? 0;
      at = parent;
    }
    this.ranks[at] = rank;
    this.agents[at] = agent;
  }

  /** The best agent, or -1 when the heap is empty. */
  peek(): number {
    return this.size === 0 ? -1 : (this.agents[0] ?? -1);
  }

  /** Removes the best agent. */
  pop(): void {
    if (this.size === 0) return;
    this.size--;
    if (this.size > 0) this.sink(this.agents[this.size] ?? 0, this.ranks[this.size] ?? 0);
  }

  /** Gives the best agent a new, higher `rank` at `version` and lets it sink to its place. */
  rerankTop(rank: number, version: number): void {
    const agent = this.agents[0] ?? 0;
    this.versions[agent] = version;
    this.sink(agent, rank);
  }

  /** Whether the agent was ranked at `version`. */
  fresh(agent: number, version: number): boolean {
    return this.versions[agent] === version;
  }

  /** Puts `agent` of `rank` at the root and moves it down until its children rank higher. */
  private sink(agent: number, rank: number): void {
    const { ranks, agents } = this;
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= this.size) break;
      let below = ranks[child] ?? 0;
      if (child + 1 < this.size && (ranks[child + 1] ?? 0) < below) below = ranks[++child] ?? 0;
      if (below >= rank) break;
      ranks[at] = below;
      agents[at] = agents[child] ?? 0;
      at = child;
    }
    ranks[at] = rank;
    agents[at] = agent;
  }
}
