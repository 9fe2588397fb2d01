/**
 * Scalar capacity of every agent during planning, kept in flat arrays because the agent choice
 * reads it for every agent and every instance.
 */
import { SCALAR_NAMES, type Scalars } from "./drf.ts";

const DIMS = SCALAR_NAMES.length;

/**
 * Float resources (0.1 + 0.2 cpus) are compared with this tolerance, relative to the agent's
 * total, so a plan that fills an agent exactly is not refused for a rounding error.
 */
export const EPSILON = 1e-9;

/** `a` fits under `limit` with the float tolerance. The one comparison every check uses. */
export function within(amount: number, limit: number): boolean {
  return amount <= limit + EPSILON * Math.max(1, limit);
}

/** A request's scalars in `SCALAR_NAMES` order. */
export function vector(r: Scalars): number[] {
  return SCALAR_NAMES.map((name) => r[name]);
}

/** Total and used scalars per agent; `used` only grows while planning. */
export class Capacity {
  private readonly total: Float64Array;
  private readonly used: Float64Array;

  constructor(agents: readonly { total: Scalars; used: Scalars }[]) {
    this.total = new Float64Array(agents.length * DIMS);
    this.used = new Float64Array(agents.length * DIMS);
    agents.forEach((agent, i) => {
      SCALAR_NAMES.forEach((name, d) => {
        this.total[i * DIMS + d] = agent.total[name];
        this.used[i * DIMS + d] = agent.used[name];
      });
    });
  }

  /**
   * The agent's utilisation (its dominant share: max over resources of used / total) after
   * adding `need`, or -1 when `need` does not fit.
   */
  after(agent: number, need: readonly number[]): number {
    let utilisation = 0;
    for (let d = 0; d < DIMS; d++) {
      const total = this.total[agent * DIMS + d] ?? 0;
      const used = (this.used[agent * DIMS + d] ?? 0) + (need[d] ?? 0);
      if (!within(used, total)) return -1;
      if (total > 0) utilisation = Math.max(utilisation, used / total);
    }
    return utilisation;
  }

  /** Why `need` does not fit the agent, e.g. "insufficient mem"; same verdict as `after`. */
  shortfalls(agent: number, need: readonly number[]): string[] {
    const out: string[] = [];
    SCALAR_NAMES.forEach((name, d) => {
      const used = (this.used[agent * DIMS + d] ?? 0) + (need[d] ?? 0);
      if (!within(used, this.total[agent * DIMS + d] ?? 0)) out.push(`insufficient ${name}`);
    });
    return out;
  }

  add(agent: number, need: readonly number[]): void {
    for (let d = 0; d < DIMS; d++) {
      this.used[agent * DIMS + d] = (this.used[agent * DIMS + d] ?? 0) + (need[d] ?? 0);
    }
  }
}
