/**
 * Scalar capacity of every agent during planning. The agent choice reads it for every agent and
 * every instance, so each agent's figures sit side by side in one flat array (one or two cache
 * lines per agent rather than one per figure).
 */
import { SCALAR_NAMES, type Scalars } from "./drf.ts";

/**
 * Float resources (0.1 + 0.2 cpus) are compared with this tolerance, relative to the agent's
 * total, so a plan that fills an agent exactly is not refused for a rounding error.
 */
export const EPSILON = 1e-9;

/** The most that may be used of `total`: the total plus the float tolerance. */
function limitOf(total: number): number {
  return total + EPSILON * Math.max(1, total);
}

/** Per agent: used (4), limit = `limitOf(total)` (4), 1 / total or 0 when it has none (4). */
const STRIDE = 12;
const USED = 0;
const LIMIT = 4;
const INVERSE = 8;

/** Total and used scalars per agent; `used` only grows while planning. */
export class Capacity {
  private readonly figures: Float64Array;

  constructor(agents: readonly { total: Scalars; used: Scalars }[]) {
    this.figures = new Float64Array(agents.length * STRIDE);
    agents.forEach((agent, i) => {
      SCALAR_NAMES.forEach((name, d) => {
        const total = agent.total[name];
        this.figures[i * STRIDE + USED + d] = agent.used[name];
        this.figures[i * STRIDE + LIMIT + d] = limitOf(total);
        this.figures[i * STRIDE + INVERSE + d] = total > 0 ? 1 / total : 0;
      });
    });
  }

  /**
   * The agent's utilisation (its dominant share: max over resources of used / total) after
   * adding `need`, or -1 when `need` does not fit. Written out per resource: it runs for every
   * agent and every instance.
   */
  after(agent: number, need: Scalars): number {
    const f = this.figures;
    const at = agent * STRIDE;
    const cpus = (f[at] ?? 0) + need.cpus;
    const mem = (f[at + 1] ?? 0) + need.mem;
    const disk = (f[at + 2] ?? 0) + need.disk;
    const gpus = (f[at + 3] ?? 0) + need.gpus;
    if (cpus > (f[at + 4] ?? 0) || mem > (f[at + 5] ?? 0) || disk > (f[at + 6] ?? 0) || gpus > (f[at + 7] ?? 0)) {
      return -1;
    }
    let util = cpus * (f[at + 8] ?? 0);
    const m = mem * (f[at + 9] ?? 0);
    if (m > util) util = m;
    const d = disk * (f[at + 10] ?? 0);
    if (d > util) util = d;
    const g = gpus * (f[at + 11] ?? 0);
    if (g > util) util = g;
    return util;
  }

  /** Why `need` does not fit the agent, e.g. "insufficient mem"; same verdict as `after`. */
  shortfalls(agent: number, need: Scalars): string[] {
    const at = agent * STRIDE;
    return SCALAR_NAMES.filter((name, d) => (this.figures[at + USED + d] ?? 0) + need[name] > (this.figures[at + LIMIT + d] ?? 0)).map(
      (name) => `insufficient ${name}`,
    );
  }

  add(agent: number, need: Scalars): void {
    const at = agent * STRIDE + USED;
    SCALAR_NAMES.forEach((name, d) => {
      this.figures[at + d] = (this.figures[at + d] ?? 0) + need[name];
    });
  }
}
